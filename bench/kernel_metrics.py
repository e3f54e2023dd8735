"""What timing a native kernel call costs (``nt_native_kernel_seconds`` on ``/metrics``): small
kernel calls with and without the timing of :func:`neural_trader.native._loader.timed`, and the
decorator around a function that does nothing (its cost alone).

``python -m bench kernel_metrics [--quick]``. The untimed call is the decorated function's
``__wrapped__``; the two are measured in alternation, in short samples, and each figure is the
fastest sample's time per call (a busy machine only ever adds time).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.common import fmt_seconds, machine_rows, median_seconds, table


def _per_call(fn: Callable[[], Any], number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def _pair(untimed: Callable[[], Any], timed: Callable[[], Any], rounds: int) -> tuple[float, float]:
    """The fastest of ``rounds`` short samples (about 2 ms) of each, taken in alternation."""
    number = max(1, int(0.002 / median_seconds(timed, repeat=3, min_sample_s=0.005)))
    plain = with_timing = float("inf")
    for _ in range(rounds):
        plain = min(plain, _per_call(untimed, number))
        with_timing = min(with_timing, _per_call(timed, number))
    return plain, with_timing


def run(quick: bool = False) -> str:
    from neural_trader.native import _loader, indicators, metrics, sports

    rounds = 10 if quick else 200
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
    clock = min(_per_call(time.perf_counter_ns, 20_000) for _ in range(rounds // 2 + 1))
    return "\n\n".join([
        table(["machine", ""], machine_rows()),
        table(["call", "untimed", "timed", "overhead per call", "relative"], rows),
        "Each timed call reads `perf_counter_ns` twice (one read takes "
        f"{clock * 1e9:.0f} ns here, with the loop's own cost), finds its bucket (`bisect`) and adds one "
        "to it and its time to the total in its thread's own counts (no lock).",
    ])
