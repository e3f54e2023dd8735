"""Betting kernels: our C kernel, its numpy twin and a plain Python loop, in the same run.

* Arbitrage scan of 10,000 events x 20 bookmakers x 3 outcomes (decimal odds with 10 % of quotes
  missing): the best price per outcome, the book offering it and the booksum of each market.
* Shin margin removal of 100,000 three-way markets: kernel against the vectorised twin (and, for
  scale, the per-market ``margins.remove_margin(..., "shin")`` on 1,000 of them).

Run from the project root: ``python -m bench sports_arbitrage`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import math

import numpy as np

from bench.common import fmt_seconds, machine_rows, median_seconds, table


def _odds(shape: tuple[int, ...], seed: int = 12, missing: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    fair = rng.dirichlet(np.ones(shape[-1]) * 3, size=shape[:-1])
    odds = 1.0 / (fair * rng.uniform(1.02, 1.12, size=(*shape[:-1], 1)))
    odds = np.maximum(odds, 1.01)
    if missing:
        odds[rng.random(shape) < missing] = np.nan
    return np.ascontiguousarray(odds)


def python_scan(odds: np.ndarray) -> list[float]:
    """The plain loop: for each market, the best quote of each outcome across books, and the booksum."""
    rows = odds.tolist()
    out = []
    for market in rows:
        best = [-math.inf] * len(market[0])
        for quote in market:
            for k, x in enumerate(quote):
                if x == x and x > best[k]:
                    best[k] = x
        out.append(sum(1.0 / b for b in best) if all(b > -math.inf for b in best) else math.inf)
    return out


def run(quick: bool = False) -> str:
    from neural_trader.native import sports, sports_numpy
    from neural_trader_plugins.sports.margins import remove_margin

    repeat = 3 if quick else 7
    events, markets = (1_000, 10_000) if quick else (10_000, 100_000)
    scan_odds = _odds((events, 20, 3))
    k, t = sports.arbitrage_scan(scan_odds), sports_numpy.arbitrage_scan(scan_odds)
    assert np.array_equal(k.booksum, t.booksum) and np.allclose(python_scan(scan_odds), k.booksum, rtol=1e-12)
    kernel = median_seconds(lambda: sports.arbitrage_scan(scan_odds), repeat=repeat)
    twin = median_seconds(lambda: sports_numpy.arbitrage_scan(scan_odds), repeat=repeat)
    loop = median_seconds(lambda: python_scan(scan_odds), repeat=max(3, repeat // 2), warmup=False)
    shin_odds = _odds((markets, 3), missing=0.0)
    ks, ts = sports.shin(shin_odds), sports_numpy.shin(shin_odds)
    assert np.array_equal(ks.probabilities, ts.probabilities)
    s_kernel = median_seconds(lambda: sports.shin(shin_odds), repeat=repeat)
    s_twin = median_seconds(lambda: sports_numpy.shin(shin_odds), repeat=max(3, repeat // 2))
    sample = shin_odds[:1000]
    s_python = median_seconds(lambda: [remove_margin(row, "shin") for row in sample], repeat=3, warmup=False)
    s_python_all = s_python * markets / len(sample)
    parts = [
        table(["machine", ""], machine_rows()),
        f"Arbitrage scan, {events:,} events x 20 books x 3 outcomes (10 % of quotes missing), median of {repeat}; "
        f"compiled kernel: {sports.COMPILED}:",
        table(["implementation", "time", "vs kernel"], [
            ("C kernel (nt_sports_arbitrage_scan)", fmt_seconds(kernel), "1.0x"),
            ("numpy twin", fmt_seconds(twin), f"{twin / kernel:.1f}x"),
            ("plain Python loop", fmt_seconds(loop), f"{loop / kernel:.0f}x")]),
        f"Shin margin removal, {markets:,} three-way markets:",
        table(["implementation", "time", "vs kernel"], [
            ("C kernel (nt_sports_shin)", fmt_seconds(s_kernel), "1.0x"),
            ("numpy twin (the same Newton steps, vectorised)", fmt_seconds(s_twin), f"{s_twin / s_kernel:.1f}x"),
            (f"margins.remove_margin per market (brentq; 1,000 timed, x{markets // 1000})",
             fmt_seconds(s_python_all), f"{s_python_all / s_kernel:.0f}x")]),
    ]
    return "\n\n".join(parts)
