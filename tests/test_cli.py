"""The generated CLI: help from the schema, options, JSON input, output modes and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

from neural_trader.hookspecs import hookimpl
from neural_trader.host import make_host
from neural_trader.ops import Context, Operation, Scope
from neural_trader.schema import param
from neural_trader_cli.main import make_cli


@attrs.frozen(kw_only=True)
class Leg:
    symbol: str
    weight: float = param(gt=0)


@attrs.frozen(kw_only=True)
class RebalanceParams:
    account: str = param(description="account to rebalance")
    threshold: float = param(default=0.05, ge=0, le=1, description="drift that triggers a trade")
    max_orders: int = param(default=10, ge=1, le=100, description="at most this many orders")
    dry_run: bool = param(default=True, description="only show the orders")
    symbols: list[str] = param(factory=list, description="limit to these symbols")
    legs: list[Leg] = param(factory=list, description="target weights")
    tags: list[str] | None = param(default=None, description="optional labels")
    mode: str = attrs.field(default="soft", validator=attrs.validators.in_(["soft", "hard"]))


@attrs.frozen(kw_only=True)
class RebalanceResult:
    account: str
    dry_run: bool
    orders: list[dict[str, float]]
    tags: list[str] | None = None


def rebalance(params: RebalanceParams, ctx: Context) -> RebalanceResult:
    ctx.progress(1, 1, "planning")
    total = sum(leg.weight for leg in params.legs) or 1.0
    orders = [{leg.symbol: round(leg.weight / total, 6)} for leg in params.legs][: params.max_orders]
    return RebalanceResult(account=params.account, dry_run=params.dry_run, orders=orders, tags=params.tags)


class Pack:
    @hookimpl
    def nt_register_operations(self, register):  # type: ignore[no-untyped-def]
        register(Operation(name="portfolio.rebalance", summary="Plan a rebalance.", params=RebalanceParams,
                           result=RebalanceResult, handler=rebalance, scope=Scope.TRADE, read_only=False))


@pytest.fixture
def cli():  # type: ignore[no-untyped-def]
    host = make_host(plugins=[Pack()])
    runner = CliRunner()
    return lambda *args: runner.invoke(make_cli(host), list(args), catch_exceptions=False)


def test_root_help_lists_host_commands_and_operation_groups(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("--help").output
    for name in ("plugins", "ops", "serve", "keys", "config", "db", "system", "portfolio"):
        assert f"  {name} " in out


def test_command_help_shows_types_defaults_bounds_and_descriptions(cli) -> None:  # type: ignore[no-untyped-def]
    out = " ".join(cli("portfolio", "rebalance", "--help").output.split())
    assert "--account TEXT account to rebalance [required]" in out
    assert "--threshold FLOAT RANGE drift that triggers a trade [default: 0.05]" in out
    assert "[0<=x<=1]" in out and "[1<=x<=100]" in out
    assert "--dry-run / --no-dry-run" in out
    assert "[soft|hard]" in out
    assert "(JSON, or @file.json)" in out
    assert "Scope: trade. MCP tool: portfolio_rebalance. REST: POST /v1/portfolio/rebalance." in out


def test_options_json_and_file_input(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    legs = tmp_path / "legs.json"
    legs.write_text(json.dumps([{"symbol": "A", "weight": 1}, {"symbol": "B", "weight": 3}]))
    result = cli("portfolio", "rebalance", "--account", "acc1", "--legs", f"@{legs}", "--no-dry-run", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"account": "acc1", "dry_run": False,
                                         "orders": [{"A": 0.25}, {"B": 0.75}], "tags": None}
    # An optional list of plain values is a repeated option, like a required one.
    result = cli("portfolio", "rebalance", "--account", "a", "--tags", "x", "--tags", "y", "--json")
    assert json.loads(result.output)["tags"] == ["x", "y"]
    result = cli("portfolio", "rebalance", "--params", '{"account": "p", "max_orders": 1}', "--account", "o",
                 "--legs", '[{"symbol": "A", "weight": 1}, {"symbol": "B", "weight": 1}]', "--json")
    assert json.loads(result.output)["account"] == "o"
    assert len(json.loads(result.output)["orders"]) == 1


def test_human_output_is_a_table(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("system", "ping", "--echo", "hi").output
    assert "pong" in out and "hi" in out and "{" not in out


def test_exit_codes_follow_the_error_family(cli) -> None:  # type: ignore[no-untyped-def]
    missing = cli("portfolio", "rebalance", "--json")
    assert missing.exit_code == 2
    assert json.loads(missing.output)["error"]["details"] == [{"path": "$.account", "message": "is required"}]
    bad = cli("portfolio", "rebalance", "--account", "a", "--legs", '[{"symbol": "A", "weight": -1}]')
    assert bad.exit_code == 2
    assert "$.legs[0].weight" in bad.output
    out_of_range = cli("portfolio", "rebalance", "--account", "a", "--threshold", "2")
    assert out_of_range.exit_code == 2 and "0<=x<=1" in out_of_range.output
    assert cli("portfolio", "rebalance", "--legs", "{not json").exit_code == 2


def test_plugins_and_ops_listings(cli) -> None:  # type: ignore[no-untyped-def]
    plugins = json.loads(cli("plugins", "--json").output)
    system = next(p for p in plugins if p["name"] == "system")
    assert system["distribution"] == "neural-trader" and "system.ping" in system["operations"]
    ops = {o["name"]: o for o in json.loads(cli("ops", "--json").output)}
    assert ops["portfolio.rebalance"]["mcp_tool"] == "portfolio_rebalance"
    assert ops["portfolio.rebalance"]["rest"] == "POST /v1/portfolio/rebalance"
    assert ops["system.ping"]["rest"] == "POST /v1/system/ping | GET"


def test_config_show_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NT_DATABASE_URL", "postgresql+psycopg://u:topsecret@db/x")
    result = CliRunner().invoke(make_cli(), ["config", "show", "--json"])
    assert result.exit_code == 0
    assert "topsecret" not in result.output and "u:***@db" in result.output
