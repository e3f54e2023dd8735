"""A strategy script backtested inside a sandbox, with the answer of ``backtest.run``.

The script defines ``signals(bars)``: ``bars`` is a dict of numpy arrays (``open``, ``high``,
``low``, ``close``, ``volume``) and the answer is the target exposure after each bar's close, in
[-1, 1] (NaN holds), as the built-in strategies' ``signals``. The host fetches the bars (the sandbox
has no network), embeds them in the harness it runs *inside* the sandbox, reads the targets back
from one marked line of output, checks them, and hands them to the backtest engine as a strategy:
the run is stored and reported exactly like ``backtest.run``'s (``RunReport``), its strategy named
``sandbox`` and its parameters holding the script's SHA-256.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import attrs
import numpy as np

from neural_trader.errors import NtUserError
from neural_trader.schema import param
from neural_trader.strategies.base import Strategy

__all__ = ["MARKER", "SandboxStrategy", "harness", "parse_targets"]

MARKER = "@@neural-trader-targets@@"


@attrs.frozen(kw_only=True)
class SandboxStrategyParams:
    code_sha256: str = param(description="SHA-256 of the strategy script that ran in the sandbox")


class SandboxStrategy(Strategy):
    """Targets computed by a script inside a sandbox, replayed by the engine."""

    name = "sandbox"
    summary = "a strategy script run inside a sandbox (sandbox.run_code with backtest)"
    params_type = SandboxStrategyParams

    def __init__(self, targets: np.ndarray) -> None:
        self._targets = targets

    def warmup(self, params: Any) -> int:
        defined = np.flatnonzero(~np.isnan(self._targets))
        return int(defined[0]) if defined.size else 0

    def signals(self, bars: Any, params: Any) -> np.ndarray:
        if self._targets.shape[0] != np.asarray(bars.close).shape[0]:
            raise NtUserError("the sandbox's targets do not match the bars")
        return self._targets


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def harness(code: str, bars: Any) -> str:
    """Python that runs ``code`` on the bars and prints its targets on one marked line."""
    columns = {k: [float(x) for x in np.asarray(getattr(bars, k), dtype=np.float64)]
               for k in ("open", "high", "low", "close", "volume")}
    return (
        "import json, math\n"
        "import numpy as np\n"
        f"_columns = json.loads({json.dumps(json.dumps(columns))})\n"
        "_bars = {k: np.asarray(v, dtype=np.float64) for k, v in _columns.items()}\n"
        "_scope = {'__name__': 'strategy'}\n"
        f"exec(compile({code!r}, 'strategy.py', 'exec'), _scope)\n"
        "if 'signals' not in _scope:\n"
        "    raise SystemExit('the strategy script must define signals(bars)')\n"
        "_t = np.asarray(_scope['signals'](_bars), dtype=np.float64).ravel()\n"
        f"print({MARKER!r} + json.dumps([None if math.isnan(x) else float(x) for x in _t]))\n"
    )


def parse_targets(stdout: str, n: int, *, truncated: bool) -> np.ndarray:
    """The targets of the marked line, checked: ``n`` numbers in [-1, 1] or null."""
    line = next((ln for ln in reversed(stdout.splitlines()) if ln.startswith(MARKER)), None)
    if line is None:
        hint = "raise limits.output_kb" if truncated else "signals(bars) must return one number per bar"
        raise NtUserError(f"the strategy script printed no targets ({hint}); see stdout and stderr")
    try:
        values = json.loads(line[len(MARKER):])
        targets = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    except (ValueError, TypeError):
        raise NtUserError("signals(bars) must return numbers (or NaN to hold)") from None
    if targets.shape[0] != n:
        raise NtUserError(f"signals(bars) returned {targets.shape[0]} targets for {n} bars; return one per bar")
    defined = targets[~np.isnan(targets)]
    if defined.size and (not np.all(np.isfinite(defined)) or np.abs(defined).max() > 1):
        raise NtUserError("signals(bars) must return exposures in [-1, 1] (NaN holds)")
    return targets


# -- the host's side: bars in, report out ------------------------------------------------------------
@attrs.frozen(kw_only=True, eq=False)
class Prepared:
    request: Any
    data: Any
    code_sha256: str


async def bars_for(inside: Any, code: str, ctx: Any) -> Prepared:
    """Fetch the bars (on the host: the sandbox has no network) as ``backtest.run`` would."""
    from neural_trader.backtest.data import load
    from neural_trader.backtest.requests import StrategySelection

    request = StrategySelection(symbol=inside.symbol, provider=inside.provider, start=inside.start, end=inside.end,
                                strategy=SandboxStrategy.name)
    data = await load(ctx.host, request.data_request(frontend=ctx.frontend))
    return Prepared(request=request, data=data, code_sha256=code_hash(code))


def code_for(code: str, prepared: Prepared) -> str:
    return harness(code, prepared.data.strategy_input())


def report_for(host: Any, params: Any, prepared: Prepared, execution: Any) -> Any:
    """``backtest.run``'s report of the targets the sandbox printed (stored like any run), or None when
    the script failed (its error is in the run's stderr)."""
    from neural_trader.backtest.api import prepare_with, report, store

    if execution.exit_code != 0:
        return None
    bars = prepared.data.strategy_input()
    targets = parse_targets(execution.stdout, int(np.asarray(bars.close).shape[0]),
                            truncated=execution.stdout_truncated)
    strategy = SandboxStrategy(targets)
    run = prepare_with(prepared.request, strategy, SandboxStrategyParams(code_sha256=prepared.code_sha256),
                       prepared.data)
    stored, _ = store(host, run)
    return report(stored, max_trades=params.backtest.max_trades, data=prepared.data)
