"""What a person reads: numbers and ids never cut at any width, units from the schema or the field
name, pipes never cropped, ``--plot``/``--chart`` the same on every command, busy ports refused."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner
from examples import run_setup
from rich.cells import cell_len

from neural_trader.hookspecs import hookimpl
from neural_trader.host import make_host
from neural_trader.ops import Context, Operation
from neural_trader_cli import render
from neural_trader_cli.main import make_cli

OPERATIONS = list(make_host(strict=True).operations)


def _example(op: Operation) -> dict[str, Any]:
    return dict(op.examples[0]) if op.examples else {}


def _must_show_whole(value: Any, text: str, width: int) -> bool:
    """Numbers and ids (any text without a space that fits a line) must appear whole."""
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and not re.search(r"\s", text) and 0 < len(text) <= width - 2


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_every_operation_reads_whole_at_80_and_120_columns(op: Operation, nt_host_factory: Any) -> None:
    host = nt_host_factory()
    run_setup(host, op.name)
    cli = make_cli(host)
    args = [op.group, op.verb, "--params", json.dumps(_example(op))]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    for width in (80, 120):
        shown = CliRunner().invoke(cli, args, env={"COLUMNS": str(width)})
        assert shown.exit_code == 0, shown.output
        lines = shown.output.splitlines()
        too_wide = [line for line in lines if cell_len(line) > width]
        assert not too_wide, f"{op.name} at {width} columns: {too_wide[:3]}"
        assert "…" not in shown.output
        for value, text in render.shown_values(data, op.output_schema):
            if _must_show_whole(value, text, width):
                assert any(text in line for line in lines), (
                    f"{op.name} at {width} columns: {value!r} (shown as {text!r}) is not on one line")


def test_units_from_the_field_name_and_the_schema_format() -> None:
    assert render.format_number(-1355.1215623754479, render.unit_of("pnl", None)) == "-1,355.12"
    assert render.format_number(219495.2888287835, render.unit_of("final_equity", None)) == "219,495.29"
    assert render.format_number(0.3181818, render.unit_of("trade_win_rate", None)) == "31.82%"
    assert render.format_number(-0.51022, render.unit_of("max_drawdown", None)) == "-51.02%"
    assert render.format_number(0.001, render.unit_of("commission_pct", None)) == "0.10%"
    assert render.format_number(5.0, render.unit_of("slippage_bps", None)) == "5 bps"
    assert render.format_number(1303, render.unit_of("bars", None)) == "1303"
    assert render.format_number(0.752393781744864) == "0.7524"
    assert render.format_number(219495.2888287835) == "219,495.29"
    assert render.format_number(0.0013090038242818966) == "0.001309"
    assert "e" not in render.format_number(123456789012.5)
    # The schema's format wins over the name; a nested field inherits its parent's unit.
    assert render.unit_of("sharpe", {"type": "number", "format": "fraction"}) == render.FRACTION
    assert render.unit_of("p95", {"type": "number"}, render.unit_of("total_return", None)) == render.FRACTION
    assert render.unit_of("from_high", None) is None


# -- a pack with a wide result -------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class WideRow:
    order_id: str
    symbol: str
    note: str
    fill_share: float = attrs.field(metadata={"format": "fraction"})  # a unit the name does not say
    pnl: float
    qty: int
    a_long_column_name: float
    another_long_column: float
    yet_another_column: float


@attrs.frozen(kw_only=True)
class WideResult:
    account_id: str
    fingerprint: str
    rows: list[WideRow]


@attrs.frozen(kw_only=True)
class NoParams:
    pass


ORDER_ID = "ord_7f3a9c0e5b2d41a8b6c4e9f0"
FINGERPRINT = "9" * 64


def wide(params: NoParams, ctx: Context) -> WideResult:
    rows = [WideRow(order_id=f"{ORDER_ID}{i}", symbol="BRK.B", note="filled in two parts at the open " * 2,
                    fill_share=0.5 + i / 10, pnl=-1355.12 * (i + 1), qty=1000 + i, a_long_column_name=1.5,
                    another_long_column=2.25, yet_another_column=-3.125) for i in range(3)]
    return WideResult(account_id="acct-000123456789", fingerprint=FINGERPRINT, rows=rows)


class WidePack:
    @hookimpl
    def nt_register_operations(self, register):  # type: ignore[no-untyped-def]
        register(Operation(name="report.wide", summary="A wide report.", params=NoParams, result=WideResult,
                           handler=wide))


@pytest.fixture
def wide_cli():  # type: ignore[no-untyped-def]
    host = make_host(plugins=[WidePack()])
    return lambda columns=None: CliRunner().invoke(
        make_cli(host), ["report", "wide"], env={"COLUMNS": columns}, catch_exceptions=False)


def test_a_pipe_is_never_cropped(wide_cli) -> None:  # type: ignore[no-untyped-def]
    out = wide_cli().output  # CliRunner's output is no terminal, and COLUMNS is unset
    header = next(line for line in out.splitlines() if line.startswith("order_id"))
    assert all(name in header for name in [f.name for f in attrs.fields(WideRow)])
    assert max(map(len, out.splitlines())) > 200
    assert "filled in two parts at the open filled in two parts at the open" in out


@pytest.mark.parametrize("columns", [40, 60, 80, 120])
def test_narrow_terminals_fold_and_never_cut(wide_cli, columns: int) -> None:  # type: ignore[no-untyped-def]
    out = wide_cli(str(columns)).output
    lines = out.splitlines()
    assert max(map(len, lines)) <= columns
    for i in range(3):
        assert any(f"{ORDER_ID}{i}" in line for line in lines)
        assert any(f"{-1355.12 * (i + 1):,.2f}" in line for line in lines)
        assert any(f"{(0.5 + i / 10) * 100:.2f}%" in line for line in lines)
        assert any(str(1000 + i) in line for line in lines)
    if columns - 2 >= len(FINGERPRINT):  # on a line of its own under its key
        assert any(FINGERPRINT in line for line in lines)
    for name in [f.name for f in attrs.fields(WideRow)]:
        assert any(re.search(rf"(^|\s){name}(\s|$)", line) for line in lines), name


def test_compare_at_80_columns_shows_every_column_and_whole_numbers() -> None:
    host = make_host(strict=True)
    cli = make_cli(host)
    args = ["backtest", "compare", "--symbol", "SPY", "--provider", "synthetic", "--strategies",
            "sma_crossover", "--strategies", "momentum"]
    data = json.loads(CliRunner().invoke(cli, [*args, "--json"]).output)
    out = CliRunner().invoke(cli, args, env={"COLUMNS": "80"}).output
    for row in data["rows"]:
        for column, value in row.items():
            assert column in out
            if column == "run_id":
                assert value in out
    best = data["rows"][0]
    assert f"{best['total_return'] * 100:,.2f}%" in out
    assert "e+" not in out


# -- pictures ------------------------------------------------------------------------------------


PNG = b"\x89PNG\r\n\x1a\n"


def test_plot_asks_for_the_chart_on_every_command_that_draws(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    cli = make_cli(make_host(strict=True))
    runs = {
        "bars": ["market", "bars", "--symbol", "ORCL", "--provider", "synthetic"],  # chart: none|candles|line
        "run": ["backtest", "run", "--symbol", "SPY", "--provider", "synthetic", "--strategy",
                "sma_crossover"],  # chart: equity|drawdown|trades|null
        "compare": ["backtest", "compare", "--symbol", "SPY", "--provider", "synthetic", "--strategies",
                    "sma_crossover"],  # chart: bool
    }
    for name, args in runs.items():
        target = tmp_path / f"{name}.png"
        result = CliRunner().invoke(cli, [*args, "--plot", str(target)])
        assert result.exit_code == 0, result.output
        assert target.read_bytes().startswith(PNG)
        # --chart alone asks for the default picture, as --plot does
        alone = json.loads(CliRunner().invoke(cli, [*args, "--chart", "--json"]).output)
        assert alone["chart"]["media_type"] == "image/png"
    turned_off = CliRunner().invoke(cli, [*runs["bars"], "--chart", "none", "--plot", str(tmp_path / "x.png")])
    assert turned_off.exit_code == 2 and "needs a picture" in turned_off.output


def test_plot_is_offered_only_where_a_picture_can_come_back() -> None:
    cli = make_cli(make_host(strict=True))
    assert "--plot" in CliRunner().invoke(cli, ["market", "bars", "--help"]).output
    assert "--plot" not in CliRunner().invoke(cli, ["system", "ping", "--help"]).output
    # backtest.get's result has a chart field, but nothing asks for it: --plot could never write one
    assert "--plot" not in CliRunner().invoke(cli, ["backtest", "get", "--help"]).output
    assert "[equity|drawdown|trades]" in CliRunner().invoke(cli, ["backtest", "run", "--help"]).output


# -- serving ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["serve", "rest"], ["serve", "mcp", "--transport", "http"]])
def test_a_busy_port_is_refused_before_listening(command: list[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # A real process: serving must not start (and block) if the check were missing.
        result = subprocess.run([sys.executable, "-m", "neural_trader_cli.main", *command, "--port", str(port)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 5, result.stderr
    assert f"port {port}" in result.stderr and "--port" in result.stderr and "already in use" in result.stderr
    assert "http://" not in result.stderr + result.stdout


def test_a_plain_unit_inherits_nothing_from_the_object_around_it() -> None:
    from neural_trader_cli.render import unit_of

    assert unit_of("percentile", {"type": "number", "format": "plain"}, "fraction") is None
    assert unit_of("percentile", {"type": "number", "x-unit": "plain"}, "fraction") is None
    assert unit_of("collar", {"type": ["string", "number"], "format": "decimal", "x-unit": "fraction"}) == "fraction"
    assert unit_of("p50", {"type": "number"}, "fraction") == "fraction"
