"""A goal model of its own for value bets: independent Poisson or Dixon-Coles, time-decay weighted,
fitted by maximum likelihood on match results.

Each team has an attack ``a`` and a defence ``d`` rating; a match between home team ``h`` and away
team ``v`` has expected goals ``lambda = exp(home_advantage + a_h + d_v)`` (home) and
``mu = exp(a_v + d_h)`` (away). The **Poisson** model takes the two scores as independent Poisson
counts. **Dixon-Coles** (1997) multiplies the probability of the four low scores by
``tau``: ``1 - rho lambda mu`` (0-0), ``1 + rho lambda`` (0-1), ``1 + rho mu`` (1-0), ``1 - rho`` (1-1).
Match ``i`` weighs ``w_i = exp(-xi * days_i)``, ``days_i`` its age at the last match fitted
(Dixon and Coles' time decay; ``xi = 0`` weighs every match the same; only the ratios matter).

The ratings are identified up to a shift (``a + c``, ``d - c`` predict the same): this module states
them with ``mean(attack) = 0`` (penaltyblog states ``mean(attack) = 1``: its attack is ours + 1, its
defence ours - 1). The weighted log-likelihood is maximised with BFGS and its exact gradient;
a penalty ``(sum a)**2`` pins the shift without moving the optimum. The score grid holds 0 to
``max_goals - 1`` goals a side and is normalised to sum to 1 (as penaltyblog's).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Literal

import attrs
import numpy as np
from scipy import optimize, special

from neural_trader.errors import NtUserError

__all__ = ["MODELS", "GoalModel", "MatchPrediction", "Result", "fit_cached", "fit_goal_model", "time_weights"]

Kind = Literal["poisson", "dixon_coles"]
MODELS: tuple[str, ...] = ("poisson", "dixon_coles")
#: Fitting needs at least this many matches (and every team in at least one).
MIN_MATCHES = 10
#: The most matches one fit takes (a few seasons of one league).
MAX_MATCHES = 5000
_CACHE_SIZE = 64


@attrs.frozen(kw_only=True)
class Result:
    """One played match, as the model sees it."""

    date: dt.date
    home_team: str
    away_team: str
    home_goals: int
    away_goals: int


@attrs.frozen(kw_only=True)
class MatchPrediction:
    """Outcome probabilities of one fixture: home/draw/away, over/under 2.5 goals, expected goals and
    the normalised score grid (``scores[i][j]``: home ``i``, away ``j`` goals)."""

    home_team: str
    away_team: str
    home: float
    draw: float
    away: float
    over_2_5: float
    under_2_5: float
    home_goals: float
    away_goals: float
    scores: tuple[tuple[float, ...], ...] = attrs.field(repr=False)


def time_weights(dates: Sequence[dt.date], xi: float, base: dt.date | None = None) -> np.ndarray:
    """``exp(-xi * (base - date).days)`` per match; ``base`` defaults to the latest date."""
    if not (isinstance(xi, int | float) and math.isfinite(xi) and xi >= 0):
        raise NtUserError(f"xi must be a time-decay rate >= 0 per day (e.g. 0.0018), got {xi!r}")
    if not dates:
        return np.zeros(0)
    base = max(dates) if base is None else base
    days = np.array([(base - d).days for d in dates], dtype=np.float64)
    return np.exp(-float(xi) * days)


@attrs.frozen(kw_only=True)
class GoalModel:
    """A fitted goal model: ratings per team (``teams`` sorted; ``mean(attack) = 0``), home advantage,
    ``rho`` (0 for Poisson), the weighted log-likelihood (constants included, as penaltyblog reports
    it), the matches and date span it saw, and the optimiser's iteration count."""

    kind: str
    xi: float
    teams: tuple[str, ...]
    attack: tuple[float, ...]
    defence: tuple[float, ...]
    home_advantage: float
    rho: float
    loglikelihood: float
    n_matches: int
    first_date: dt.date
    last_date: dt.date
    iterations: int

    def _index(self, team: str, field: str) -> int:
        try:
            return self.teams.index(team)
        except ValueError:
            raise NtUserError(f"{field} {team!r} is not a team the model was fitted on (it saw "
                              f"{', '.join(self.teams)})", details={"field": field, "team": team}) from None

    def expected_goals(self, home_team: str, away_team: str) -> tuple[float, float]:
        h, v = self._index(home_team, "home_team"), self._index(away_team, "away_team")
        lam = math.exp(self.home_advantage + self.attack[h] + self.defence[v])
        mu = math.exp(self.attack[v] + self.defence[h])
        return lam, mu

    def predict(self, home_team: str, away_team: str, *, max_goals: int = 15) -> MatchPrediction:
        """Probabilities of ``home_team`` at home to ``away_team``."""
        if isinstance(max_goals, bool) or not isinstance(max_goals, int) or not 3 <= max_goals <= 30:
            raise NtUserError(f"max_goals must be a whole number from 3 to 30, got {max_goals!r}")
        if home_team == away_team:
            raise NtUserError(f"home_team and away_team are both {home_team!r}: a team does not play itself")
        lam, mu = self.expected_goals(home_team, away_team)
        if not (1e-6 < lam < max_goals / 2 and 1e-6 < mu < max_goals / 2):
            raise NtUserError(f"the fit expects {lam:.3g}-{mu:.3g} goals for {home_team} v {away_team}, beyond a "
                              f"grid of 0 to {max_goals - 1} goals: the fit is degenerate (too few matches, or xi "
                              "too large for the window); fit on more matches or with a smaller xi",
                              details={"field": "xi"})
        k = np.arange(max_goals)
        grid = np.outer(np.exp(k * math.log(lam) - lam - special.gammaln(k + 1)),
                        np.exp(k * math.log(mu) - mu - special.gammaln(k + 1)))
        if self.kind == "dixon_coles":
            grid[0, 0] *= 1.0 - self.rho * lam * mu
            grid[0, 1] *= 1.0 + self.rho * lam
            grid[1, 0] *= 1.0 + self.rho * mu
            grid[1, 1] *= 1.0 - self.rho
        # rho far from 0 can make a corrected low score negative: that score has no probability.
        np.maximum(grid, 0.0, out=grid)
        grid /= grid.sum()
        total = k[:, None] + k[None, :]
        under = float(grid[total <= 2].sum())
        return MatchPrediction(
            home_team=home_team, away_team=away_team, home=float(np.tril(grid, -1).sum()),
            draw=float(np.trace(grid)), away=float(np.triu(grid, 1).sum()), over_2_5=1.0 - under, under_2_5=under,
            home_goals=float(grid.sum(axis=1) @ k), away_goals=float(grid.sum(axis=0) @ k),
            scores=tuple(tuple(float(v) for v in row) for row in grid))


def _check(results: Sequence[Result]) -> None:
    if len(results) < MIN_MATCHES:
        raise NtUserError(f"the goal model needs at least {MIN_MATCHES} played matches to fit, got {len(results)}: "
                          "widen the training window")
    if len(results) > MAX_MATCHES:
        raise NtUserError(f"the goal model fits at most {MAX_MATCHES} matches at once, got {len(results)}: "
                          "narrow the training window")


def fit_goal_model(results: Sequence[Result], *, kind: str = "dixon_coles", xi: float = 0.0,
                   start: np.ndarray | None = None) -> GoalModel:
    """Maximum-likelihood ratings of ``results`` (see the module docstring). ``start`` is an optional
    starting point (a previous fit's parameter vector, same teams) that only speeds the search."""
    if kind not in MODELS:
        raise NtUserError(f"kind must be one of {', '.join(MODELS)}, got {kind!r}")
    _check(results)
    teams = tuple(sorted({r.home_team for r in results} | {r.away_team for r in results}))
    n = len(teams)
    index = {t: i for i, t in enumerate(teams)}
    hi = np.array([index[r.home_team] for r in results])
    ai = np.array([index[r.away_team] for r in results])
    x = np.array([r.home_goals for r in results], dtype=np.float64)
    y = np.array([r.away_goals for r in results], dtype=np.float64)
    w = time_weights([r.date for r in results], xi)
    dc = kind == "dixon_coles"
    const = float(np.sum(w * (special.gammaln(x + 1) + special.gammaln(y + 1))))
    scale = 1.0 / float(w.sum())   # a well-scaled objective: the same optimum, a steadier stopping rule

    # The four low scores Dixon-Coles corrects, found once: the objective runs a few hundred times.
    s00, s01 = (w * ((x == 0) & (y == 0)), w * ((x == 0) & (y == 1)))
    s10, s11 = (w * ((x == 1) & (y == 0)), w * ((x == 1) & (y == 1)))
    low = (s00 + s01 + s10 + s11) > 0

    def negll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        a, d, h = theta[:n], theta[n:2 * n], theta[2 * n]
        rho = theta[2 * n + 1] if dc else 0.0
        log_lam, log_mu = h + a[hi] + d[ai], a[ai] + d[hi]
        # A line search may step far out: an overflowing rate makes the value non-finite, answered
        # below as a wall (1e10), not as a warning.
        with np.errstate(over="ignore", invalid="ignore"):
            lam, mu = np.exp(log_lam), np.exp(log_mu)
            total = float(w @ (x * log_lam - lam + y * log_mu - mu))
        g_lam, g_mu = w * (x - lam), w * (y - mu)
        grad = np.zeros_like(theta)
        if dc:
            lm = lam * mu
            t00, t01, t10, t11 = 1.0 - rho * lm, 1.0 + rho * lam, 1.0 + rho * mu, 1.0 - rho
            if (low & ((s00 > 0) & (t00 <= 0) | (s01 > 0) & (t01 <= 0) | (s10 > 0) & (t10 <= 0))).any() or t11 <= 0:
                return 1e10, np.zeros_like(theta)
            with np.errstate(divide="ignore", invalid="ignore"):
                total += float(np.sum(np.where(s00 > 0, s00 * np.log(np.abs(t00)), 0.0)
                                      + np.where(s01 > 0, s01 * np.log(np.abs(t01)), 0.0)
                                      + np.where(s10 > 0, s10 * np.log(np.abs(t10)), 0.0))) + float(s11.sum()) * math.log(t11)
                g_lam = g_lam + np.where(s00 > 0, -s00 * rho * lm / t00, 0.0) + np.where(s01 > 0, s01 * rho * lam / t01, 0.0)
                g_mu = g_mu + np.where(s00 > 0, -s00 * rho * lm / t00, 0.0) + np.where(s10 > 0, s10 * rho * mu / t10, 0.0)
                grad[2 * n + 1] = float(np.sum(np.where(s00 > 0, -s00 * lm / t00, 0.0) + np.where(s01 > 0, s01 * lam / t01, 0.0)
                                               + np.where(s10 > 0, s10 * mu / t10, 0.0))) - float(s11.sum()) / t11
        grad[:n] = np.bincount(hi, g_lam, n) + np.bincount(ai, g_mu, n)
        grad[n:2 * n] = np.bincount(ai, g_lam, n) + np.bincount(hi, g_mu, n)
        grad[2 * n] = float(g_lam.sum())
        shift = float(a.sum())
        value = -total * scale + shift * shift
        if not math.isfinite(value):
            return 1e10, np.zeros_like(theta)
        out = -grad * scale
        out[:n] += 2.0 * shift
        return value, out

    size = 2 * n + 1 + (1 if dc else 0)
    theta0 = np.zeros(size)
    theta0[2 * n] = 0.25
    if start is not None and np.shape(start) == (size,):
        theta0 = np.asarray(start, dtype=np.float64).copy()
    # BFGS, not L-BFGS-B: scipy's L-BFGS-B spends its time in threaded BLAS calls on these tiny
    # matrices (a 40-parameter fit took 0.5 s on a busy machine, BFGS 0.02 s), and no bound is active
    # at a real optimum.
    res = optimize.minimize(negll, theta0, jac=True, method="BFGS", options={"maxiter": 5000, "gtol": 1e-10})
    theta = res.x
    if not np.isfinite(res.fun) or res.fun >= 1e9:  # pragma: no cover - the likelihood is smooth here
        raise NtUserError(f"the {kind} fit did not converge ({res.message}); give more matches")
    a, d = theta[:n] - theta[:n].mean(), theta[n:2 * n] + theta[:n].mean()
    loglik = -(float(res.fun) - float(theta[:n].sum()) ** 2) / scale - const
    dates = [r.date for r in results]
    return GoalModel(kind=kind, xi=float(xi), teams=teams, attack=tuple(float(v) for v in a),
                     defence=tuple(float(v) for v in d), home_advantage=float(theta[2 * n]),
                     rho=float(theta[2 * n + 1]) if dc else 0.0, loglikelihood=loglik, n_matches=len(results),
                     first_date=min(dates), last_date=max(dates), iterations=int(res.nit))


def parameter_vector(model: GoalModel) -> np.ndarray:
    """The fit's parameters in the optimiser's order (a warm start for a refit on the same teams)."""
    tail = [model.home_advantage] + ([model.rho] if model.kind == "dixon_coles" else [])
    return np.array([*model.attack, *model.defence, *tail])


def fingerprint(results: Sequence[Result]) -> str:
    """SHA-256 of the results (dates, teams, scores): the fit cache's key with the model's settings."""
    digest = hashlib.sha256()
    for r in results:
        digest.update(f"{r.date.isoformat()}|{r.home_team}|{r.away_team}|{r.home_goals}|{r.away_goals}\n".encode())
    return digest.hexdigest()


_cache: OrderedDict[tuple[str, str, float], GoalModel] = OrderedDict()
_cache_lock = threading.Lock()


def fit_cached(results: Sequence[Result], *, kind: str = "dixon_coles", xi: float = 0.0,
               start: np.ndarray | None = None) -> GoalModel:
    """:func:`fit_goal_model`, remembered by (data fingerprint, kind, xi) for the process (LRU, 64 fits):
    a repeated request, or a backtest's refits on the same window, costs one fit."""
    key = (fingerprint(results), kind, float(xi))
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    model = fit_goal_model(results, kind=kind, xi=xi, start=start)
    with _cache_lock:
        _cache[key] = model
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return model
