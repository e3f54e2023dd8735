"""Monte Carlo bankroll paths of a betting strategy: ``n_bets`` independent bets, each won with
probability ``p`` at decimal odds ``o``, staked by a rule, on ``n_paths`` seeded paths.

Staking rules: ``flat`` (the same ``stake`` each bet), ``fraction`` (``fraction`` of the current
bankroll) and ``kelly`` (``fraction`` times the Kelly stake ``f* = (b p - q) / b``, ``b = o - 1``, of
the current bankroll). A path is **ruined** when its bankroll falls to ``ruin_fraction`` of the start
or below, or (flat) below the stake; it stops betting there.

Closed forms the simulation is tested against (no ruin): flat staking ends at mean
``B0 + n s (p o - 1)`` with variance ``n s**2 o**2 p (1 - p)``; a fixed fraction ``f`` has
``E[log(Bn / B0)] = n (p log(1 + f b) + q log(1 - f))``.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from neural_trader.errors import NtLimitExceeded, NtUserError

__all__ = ["MAX_DRAWS", "Simulation", "simulate"]

#: The most paths x bets one simulation draws.
MAX_DRAWS = 5_000_000
PERCENTILES = (5.0, 25.0, 50.0, 75.0, 95.0)
_BAND_POINTS = 200
#: Bankrolls beyond this are refused: their variance would overflow a float.
_LARGEST = 1e150


@attrs.frozen(kw_only=True)
class Simulation:
    """Final bankrolls (mean, std, percentiles), max drawdowns (as a fraction of the running peak),
    the ruin probability, the stake fraction used, the closed-form expectations where there are
    some, and percentile bands of the paths (at most 200 points, for a chart)."""

    final_mean: float
    final_std: float
    final_percentiles: tuple[float, ...]
    drawdown_median: float
    drawdown_p95: float
    ruin_probability: float
    mean_bets_placed: float
    stake_fraction: float | None
    theory_mean: float | None
    theory_std: float | None
    theory_log_growth: float | None
    steps: tuple[int, ...]
    bands: tuple[tuple[float, ...], ...]   # one row per percentile in PERCENTILES, over steps


def simulate(*, probability: float, odds: float, n_bets: int, n_paths: int, bankroll: float, staking: str,
             stake: float | None = None, fraction: float | None = None, ruin_fraction: float = 0.0,
             seed: int = 0) -> Simulation:
    """See the module docstring."""
    if not 0.0 < probability < 1.0:
        raise NtUserError(f"probability must be in (0, 1), got {probability!r}", details={"field": "probability"})
    if not odds > 1.0:
        raise NtUserError(f"odds must be decimal odds > 1, got {odds!r}", details={"field": "odds"})
    if n_bets * n_paths > MAX_DRAWS:
        raise NtLimitExceeded(f"n_paths x n_bets is {n_paths * n_bets}; at most {MAX_DRAWS:,}: fewer paths or bets",
                              details={"bound": "draws", "asked": n_paths * n_bets, "limit": MAX_DRAWS})
    b, p = odds - 1.0, probability
    if staking == "flat":
        if stake is None or not 0 < stake <= bankroll:
            raise NtUserError(f"stake must be given for flat staking, > 0 and at most the bankroll, got {stake!r}",
                              details={"field": "stake"})
        f = None
    elif staking in ("fraction", "kelly"):
        if fraction is None or not 0 < fraction <= 1:
            raise NtUserError(f"fraction must be in (0, 1] for {staking} staking, got {fraction!r}",
                              details={"field": "fraction"})
        f = fraction if staking == "fraction" else fraction * max((b * p - (1 - p)) / b, 0.0)
        if f >= 1.0:
            raise NtUserError("fraction 1 stakes the whole bankroll: a single loss ruins the path; use less than 1",
                              details={"field": "fraction"})
    else:
        raise NtUserError(f"staking must be flat, fraction or kelly, got {staking!r}", details={"field": "staking"})
    rng = np.random.default_rng(seed)
    wealth = np.full(n_paths, float(bankroll))
    peak = wealth.copy()
    drawdown = np.zeros(n_paths)
    alive = np.ones(n_paths, dtype=bool)
    placed = np.zeros(n_paths)
    floor = ruin_fraction * bankroll
    flat = 0.0 if stake is None else float(stake)
    every = max(1, n_bets // _BAND_POINTS)
    steps, bands = [0], [np.percentile(wealth, PERCENTILES)]
    for i in range(n_bets):
        won = rng.random(n_paths) < p
        amount = np.full(n_paths, flat) if f is None else wealth * f
        if f is None:
            alive &= wealth >= amount
        amount = np.where(alive, amount, 0.0)
        placed += alive
        with np.errstate(over="ignore", invalid="ignore"):
            wealth = wealth + np.where(won, amount * b, -amount)
        peak = np.maximum(peak, wealth)
        with np.errstate(over="ignore", invalid="ignore"):
            drawdown = np.maximum(drawdown, 1.0 - wealth / peak)
        alive &= wealth > floor
        if (i + 1) % every == 0 or i + 1 == n_bets:
            steps.append(i + 1)
            with np.errstate(over="ignore", invalid="ignore"):
                bands.append(np.percentile(wealth, PERCENTILES))
    if not (np.isfinite(wealth).all() and wealth.max() < _LARGEST):
        raise NtUserError("the bankroll outgrows floating point on some path (too many bets at these odds and "
                          "stakes): simulate fewer bets, or a smaller fraction", details={"field": "n_bets"})
    ruined = wealth <= floor
    if f is None:
        ruined |= wealth < stake
    band_rows = np.array(bands).T
    theory_mean = theory_std = theory_log = None
    if f is None:
        assert stake is not None
        theory_mean = bankroll + n_bets * stake * (p * odds - 1.0)
        theory_std = math.sqrt(n_bets * stake * stake * odds * odds * p * (1.0 - p))
    elif f > 0:
        theory_log = n_bets * (p * math.log1p(f * b) + (1.0 - p) * math.log1p(-f))
    return Simulation(final_mean=float(wealth.mean()), final_std=float(wealth.std(ddof=1)) if n_paths > 1 else 0.0,
                      final_percentiles=tuple(float(v) for v in np.percentile(wealth, PERCENTILES)),
                      drawdown_median=float(np.median(drawdown)), drawdown_p95=float(np.percentile(drawdown, 95)),
                      ruin_probability=float(ruined.mean()), mean_bets_placed=float(placed.mean()),
                      stake_fraction=f, theory_mean=theory_mean, theory_std=theory_std, theory_log_growth=theory_log,
                      steps=tuple(steps), bands=tuple(tuple(float(v) for v in row) for row in band_rows))
