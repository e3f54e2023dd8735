"""What timing a native kernel call costs (``nt_native_kernel_seconds`` on ``/metrics``): small
kernel calls with and without the timing of :func:`neural_trader.native._loader.timed`, and the
decorator around a function that does nothing (its cost alone).

``python -m bench kernel_metrics [--quick]``. The untimed call is the decorated function's
``__wrapped__``; the two are measured in alternation, and each figure is the fastest round's
:func:`bench.common.median_seconds` (a busy machine only ever adds time, to both alike).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bench.common import fmt_seconds, machine_rows, median_seconds, table


def _pair(untimed: Callable[[], Any], timed: Callable[[], Any], rounds: int) -> tuple[float, float]:
    plain, with_timing = [], []
    for _ in range(rounds):
        plain.append(median_seconds(untimed, repeat=3))
        with_timing.append(median_seconds(timed, repeat=3))
    return min(plain), min(with_timing)


def run(quick: bool = False) -> str:
    from neural_trader.native import _loader, indicators, metrics, sports

    rounds = 3 if quick else 15
    x = np.linspace(1.0, 2.0, 8)
    returns = np.diff(x) / x[:-1]
    odds = np.full((1, 2, 3), 3.1)

    probe_native = _loader.NativeModule(family="bench", reason="a benchmark probe")

    def nothing(a: Any, b: Any) -> None:
        return None

    timed_nothing = _loader.timed(probe_native)(nothing)
    impl = {m: "C" if m.COMPILED else "numpy twin" for m in (indicators, metrics, sports)}
    cases: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
        (f"`indicators.sma`, 8 bars ({impl[indicators]})",
         lambda: indicators.sma.__wrapped__(x, 3), lambda: indicators.sma(x, 3)),
        (f"`metrics.summary`, 7 returns ({impl[metrics]})",
         lambda: metrics.summary.__wrapped__(returns), lambda: metrics.summary(returns)),
        (f"`sports.arbitrage_scan`, 1 market ({impl[sports]})",
         lambda: sports.arbitrage_scan.__wrapped__(odds), lambda: sports.arbitrage_scan(odds)),
        ("a function that does nothing (the timing alone)", lambda: nothing(1, 2), lambda: timed_nothing(1, 2)),
    ]
    rows = []
    for name, untimed, timed in cases:
        plain, with_timing = _pair(untimed, timed, rounds)
        rows.append((name, fmt_seconds(plain), fmt_seconds(with_timing), f"{(with_timing - plain) * 1e9:+.0f} ns",
                     f"{(with_timing - plain) / plain:+.0%}"))
    _loader._SERIES.pop(("bench", "nothing", "numpy"), None)
    return "\n\n".join([
        table(["machine", ""], machine_rows()),
        table(["call", "untimed", "timed", "overhead per call", "relative"], rows),
        "Each timed call reads `perf_counter_ns` twice, finds its bucket (`bisect`) and adds one to "
        "it and its time to the total in its thread's own counts (no lock).",
    ])
