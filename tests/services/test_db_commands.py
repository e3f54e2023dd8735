"""``neural-trader db current`` and ``db upgrade``: every migration branch, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from branches import ALL_BRANCH_NAMES, PACK_BRANCHES
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
    cli = _cli(db_url, tmp_path)
    heads = {"core": head_revision(), **{b.name: head_revision(b) for b in PACK_BRANCHES}}
    assert json.loads(cli("db", "current", "--json").output) == [
        {"branch": name, "current": None, "head": heads[name], "status": "empty"} for name in ALL_BRANCH_NAMES]
    assert json.loads(cli("db", "upgrade", "--json").output) == [
        {"branch": name, "from": None, "to": heads[name]} for name in ALL_BRANCH_NAMES]
    assert [r["status"] for r in json.loads(cli("db", "current", "--json").output)] == (
        ["up to date"] * len(ALL_BRANCH_NAMES))
    core, backtest = heads["core"], heads["backtest"]
    out = cli("db", "upgrade").output
    assert f"core: at {core} (up to date)" in out and f"backtest: at {backtest} (up to date)" in out
    table = cli("db", "current").output
    assert "backtest" in table and "up to date" in table
    with Storage(db_url, branches=[BACKTEST], auto_upgrade=False) as storage:
        assert all(r.up_to_date for r in storage.revisions())
