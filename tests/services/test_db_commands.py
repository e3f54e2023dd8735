"""``neural-trader db current`` and ``db upgrade``: every migration branch, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from neural_trader.host import make_host
from neural_trader.services.storage import Storage, head_revision
from neural_trader.settings import load_settings
from neural_trader_cli.main import make_cli
from neural_trader_plugins.backtest import MIGRATIONS as BACKTEST


def _cli(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = load_settings(env={"NT_CONFIG": str(tmp_path / "absent.toml")}, database_url=db_url,
                             data_dir=tmp_path / "data")
    host = make_host(settings=settings)
    runner = CliRunner()
    return lambda *args: runner.invoke(make_cli(host), list(args), catch_exceptions=False)


def test_db_current_and_upgrade_show_each_branch(db_url: str, tmp_path: Path) -> None:
    from neural_trader_plugins.forecasting import MIGRATIONS as FORECASTING

    cli = _cli(db_url, tmp_path)
    core, backtest, forecasting = head_revision(), head_revision(BACKTEST), head_revision(FORECASTING)
    assert json.loads(cli("db", "current", "--json").output) == [
        {"branch": "core", "current": None, "head": core, "status": "empty"},
        {"branch": "backtest", "current": None, "head": backtest, "status": "empty"},
        {"branch": "forecasting", "current": None, "head": forecasting, "status": "empty"}]
    assert json.loads(cli("db", "upgrade", "--json").output) == [
        {"branch": "core", "from": None, "to": core}, {"branch": "backtest", "from": None, "to": backtest},
        {"branch": "forecasting", "from": None, "to": forecasting}]
    assert [r["status"] for r in json.loads(cli("db", "current", "--json").output)] == ["up to date"] * 3
    out = cli("db", "upgrade").output
    assert f"core: at {core} (up to date)" in out and f"backtest: at {backtest} (up to date)" in out
    table = cli("db", "current").output
    assert "backtest" in table and "up to date" in table
    with Storage(db_url, branches=[BACKTEST], auto_upgrade=False) as storage:
        assert all(r.up_to_date for r in storage.revisions())
