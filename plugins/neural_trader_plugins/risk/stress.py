"""Stress tests: historical scenario replays, user-defined shocks and sensitivity ladders.

Conventions: ``positions`` are the current market values of the holdings (currency; negative is
short), ``{symbol: value}`` or a list aligned with ``symbols``. Positions are linear (delta one):
a return ``s`` on an asset changes its value by ``value * s``. P&L is in the positions' currency;
returns are P&L over ``capital``, which defaults to the net value ``sum(positions)`` (pass it for
long-short books, whose net value may be zero or negative).

**Replays.** A scenario is a named window ``(start, end]``: the move from the close of ``start``
(a peak) to the close of ``end`` (a trough), so the returns dated strictly after ``start`` and up to
``end`` are replayed. Pass daily simple returns with their dates (one date per return, the date
of the close that ends it) reaching from ``start`` or earlier to ``end`` or later; the positions
are held without rebalancing from ``start`` (buy and hold), so asset ``i`` contributes
``value_i * (prod(1 + r_i) - 1)`` and the contributions add up to the portfolio's P&L.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from neural_trader.errors import NtUserError

__all__ = [
    "SCENARIOS", "AssetReplay", "Ladder", "Scenario", "ScenarioReplay", "ShockResult", "list_scenarios",
    "replay_scenario", "replay_window", "scenario_window", "sensitivity_ladder", "shock_assets", "shock_factors",
]


@attrs.frozen(kw_only=True)
class Scenario:
    """A historical stress window: from the close of ``start`` to the close of ``end``."""

    name: str
    start: dt.date
    end: dt.date
    description: str


def _scenario(name: str, start: str, end: str, description: str) -> tuple[str, Scenario]:
    return name, Scenario(name=name, start=dt.date.fromisoformat(start), end=dt.date.fromisoformat(end),
                          description=description)


#: The built-in scenarios, oldest first (US equity market dates; S&P 500 closes for peaks and troughs).
SCENARIOS: dict[str, Scenario] = dict([
    _scenario("black_monday_1987", "1987-10-14", "1987-10-19",
              "Black Monday: the week of 14-19 October 1987, the S&P 500's 20 % one-day fall on the 19th"),
    _scenario("ltcm_1998", "1998-07-17", "1998-10-08",
              "Russian default and LTCM: S&P 500 peak of 17 July to the trough of 8 October 1998"),
    _scenario("dotcom_2000_2002", "2000-03-24", "2002-10-09",
              "Dot-com bust: S&P 500 peak of 24 March 2000 to the trough of 9 October 2002"),
    _scenario("sept11_2001", "2001-09-10", "2001-09-21",
              "11 September 2001: last close before the attacks to the trough of 21 September after reopening"),
    _scenario("gfc_2008", "2008-09-01", "2009-03-09",
              "Global financial crisis: September 2008 (Lehman) to the S&P 500 trough of 9 March 2009"),
    _scenario("flash_crash_2010", "2010-05-05", "2010-05-06", "Flash crash of 6 May 2010 (one day)"),
    _scenario("us_downgrade_2011", "2011-07-22", "2011-10-03",
              "US debt-ceiling crisis and S&P downgrade: 22 July to the trough of 3 October 2011"),
    _scenario("covid_2020", "2020-02-19", "2020-03-23",
              "COVID-19 crash: S&P 500 peak of 19 February to the trough of 23 March 2020"),
    _scenario("rate_hikes_2022", "2022-01-03", "2022-10-12",
              "2022 inflation and rate hikes: S&P 500 peak of 3 January to the trough of 12 October 2022"),
])


def list_scenarios() -> tuple[Scenario, ...]:
    """Every built-in scenario, oldest first."""
    return tuple(sorted(SCENARIOS.values(), key=lambda s: s.start))


def scenario_window(name: str) -> Scenario:
    """The scenario called ``name`` (its ``start`` and ``end`` dates); NtUserError listing the names if unknown."""
    try:
        return SCENARIOS[name]
    except (KeyError, TypeError):
        raise NtUserError(f"scenario must be one of {', '.join(SCENARIOS)}, got {name!r}") from None


# -- inputs ------------------------------------------------------------------------------------


def _day(value: Any) -> np.datetime64:
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[D]")
    if isinstance(value, dt.datetime):
        return np.datetime64(value.date(), "D")
    if isinstance(value, dt.date):
        return np.datetime64(value, "D")
    if isinstance(value, str):
        try:
            return np.datetime64(dt.date.fromisoformat(value[:10]), "D")
        except ValueError:
            pass
    raise NtUserError(f"dates must be ISO dates (YYYY-MM-DD), dates or datetimes, got {value!r}")


def _days(dates: Sequence[Any] | np.ndarray) -> np.ndarray:
    if isinstance(dates, np.ndarray) and dates.dtype.kind == "M":
        d = dates.astype("datetime64[D]")
    else:
        d = np.array([_day(v) for v in dates], dtype="datetime64[D]")
    if d.ndim != 1:
        raise NtUserError(f"dates must be one list of dates, got shape {d.shape}")
    if d.shape[0] > 1 and not (np.diff(d) > np.timedelta64(0, "D")).all():
        i = int(np.flatnonzero(np.diff(d) <= np.timedelta64(0, "D"))[0])
        raise NtUserError(f"dates must be strictly increasing, but dates[{i + 1}] ({d[i + 1]}) is not after "
                          f"dates[{i}] ({d[i]})")
    return d


def _finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise NtUserError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not np.isfinite(v):
        raise NtUserError(f"{name} must be finite, got {value!r}")
    return v


def _positions(positions: Mapping[str, float] | Sequence[float] | np.ndarray,
               symbols: Sequence[str] | None) -> tuple[tuple[str, ...], np.ndarray]:
    if isinstance(positions, Mapping):
        names = tuple(str(k) for k in positions)
        values = [_finite(f"positions[{k!r}]", v) for k, v in positions.items()]
    else:
        values = [_finite(f"positions[{i}]", v) for i, v in enumerate(positions)]
        if symbols is None:
            raise NtUserError("symbols must be given when positions is a list (one symbol per position)")
        names = tuple(str(s) for s in symbols)
        if len(names) != len(values):
            raise NtUserError(f"positions has {len(values)} values but symbols has {len(names)}; give one per symbol")
    if not names:
        raise NtUserError("positions must hold at least one asset")
    if len(set(names)) != len(names):
        raise NtUserError(f"symbols must be unique, got {list(names)}")
    return names, np.array(values, dtype=np.float64)


def _capital(capital: float | None, values: np.ndarray) -> float:
    if capital is None:
        net = float(values.sum())
        if not net > 0:
            raise NtUserError(f"capital must be given when the net value of the positions is not positive "
                              f"(it is {net:g}); pass the book's capital to express P&L as a return")
        return net
    c = _finite("capital", capital)
    if not c > 0:
        raise NtUserError(f"capital must be > 0, got {capital!r}")
    return c


def _mismatch(what: str, have: Sequence[str], want: Sequence[str]) -> NtUserError:
    missing = [s for s in want if s not in have]
    extra = [s for s in have if s not in want]
    parts = []
    if missing:
        parts.append(f"no {what} for {', '.join(missing)}")
    if extra:
        parts.append(f"{what} for {', '.join(extra)} which hold no position")
    return NtUserError(f"{what} and positions must name the same symbols: {'; '.join(parts)}")


def _returns_matrix(returns: Mapping[str, Sequence[float]] | Sequence[Sequence[float]] | np.ndarray,
                    names: tuple[str, ...], returns_symbols: Sequence[str] | None) -> np.ndarray:
    """``(periods, len(names))`` returns in the order of ``names``."""
    if isinstance(returns, Mapping):
        have = [str(k) for k in returns]
        if sorted(have) != sorted(names):
            raise _mismatch("returns", have, names)
        cols = {str(k): np.asarray(v, dtype=np.float64) for k, v in returns.items()}
        lengths = {k: c.shape for k, c in cols.items()}
        if len(set(lengths.values())) != 1 or cols[names[0]].ndim != 1:
            raise NtUserError(f"returns must be 1-D series of one length, aligned on dates; got shapes {lengths}")
        x = np.column_stack([cols[s] for s in names])
    else:
        try:
            x = np.asarray(returns, dtype=np.float64)
        except (TypeError, ValueError):
            raise NtUserError("returns must be a (periods, assets) matrix of numbers or {symbol: returns}") from None
        if x.ndim != 2:
            raise NtUserError(f"returns must be a 2-D (periods, assets) matrix, got shape {x.shape}")
        order = list(names) if returns_symbols is None else [str(s) for s in returns_symbols]
        if len(order) != x.shape[1]:
            raise NtUserError(f"returns has {x.shape[1]} columns but {len(order)} symbols name them")
        if sorted(order) != sorted(names):
            raise _mismatch("returns", order, names)
        x = x[:, [order.index(s) for s in names]]
    if not np.isfinite(x).all():
        i, j = (int(v) for v in np.argwhere(~np.isfinite(x))[0])
        raise NtUserError(f"returns must be finite, but the return of {names[j]} at row {i} is {x[i, j]}; "
                          "align the assets on common dates and fill or drop missing days")
    if (x < -1.0).any():
        i, j = (int(v) for v in np.argwhere(x < -1.0)[0])
        raise NtUserError(f"returns must be >= -1 (simple returns), but that of {names[j]} at row {i} is {x[i, j]}")
    return x


# -- replays -----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AssetReplay:
    """One asset over the window: ``total_return = prod(1 + r) - 1``, ``pnl = position * total_return``,
    ``contribution = pnl / capital`` (the contributions sum to the portfolio's ``total_return``)."""

    symbol: str
    position: float
    total_return: float
    pnl: float
    contribution: float
    worst_day: float
    worst_day_date: dt.date


@attrs.frozen(kw_only=True, eq=False)
class ScenarioReplay:
    """A portfolio replayed through a window.

    ``equity[k]`` is ``capital`` plus the P&L after the ``k``-th day (``equity[0]`` is ``capital``,
    at ``start``); ``total_return = pnl / capital``; ``worst_day`` is the worst daily return of
    that equity; ``max_drawdown`` is its deepest fall from a running peak (positive, the peak
    including the start); ``first_date``/``last_date`` are the first and last days replayed.
    """

    scenario: str
    start: dt.date
    end: dt.date
    first_date: dt.date
    last_date: dt.date
    n_days: int
    capital: float
    pnl: float
    total_return: float
    worst_day: float
    worst_day_date: dt.date
    max_drawdown: float
    assets: tuple[AssetReplay, ...]
    dates: np.ndarray
    equity: np.ndarray


def _date(d: np.datetime64) -> dt.date:
    out: dt.date = d.astype("datetime64[D]").item()
    return out


def replay_window(returns: Mapping[str, Sequence[float]] | Sequence[Sequence[float]] | np.ndarray, *,
                  dates: Sequence[Any] | np.ndarray, positions: Mapping[str, float] | Sequence[float],
                  start: Any, end: Any, symbols: Sequence[str] | None = None, capital: float | None = None,
                  label: str = "window") -> ScenarioReplay:
    """Replay ``positions`` through the returns dated in ``(start, end]`` (see the module notes).

    :param returns: ``{symbol: daily returns}`` or a ``(periods, assets)`` matrix whose columns
        ``symbols`` names (the positions' symbols, in order, when omitted).
    :param dates: one per return row.
    """
    names, values = _positions(positions, symbols)
    x = _returns_matrix(returns, names, symbols)
    d = _days(dates)
    if d.shape[0] != x.shape[0]:
        raise NtUserError(f"dates has {d.shape[0]} entries but returns has {x.shape[0]} rows; give one date per row")
    lo, hi = _day(start), _day(end)
    if not lo < hi:
        raise NtUserError(f"start must be before end, got {_date(lo)} and {_date(hi)}")
    what = f"scenario {label}" if label != "window" else "the window"
    if d.shape[0] == 0 or d[0] > lo or d[-1] < hi:
        have = f"{_date(d[0])}..{_date(d[-1])}" if d.shape[0] else "no dates"
        raise NtUserError(f"{what} ({_date(lo)}..{_date(hi)}) is outside the data's range ({have}); pass returns "
                          f"from {_date(lo)} or earlier through {_date(hi)} or later")
    inside = (d > lo) & (d <= hi)
    if not inside.any():
        raise NtUserError(f"{what} ({_date(lo)}..{_date(hi)}) holds no dated returns; check the dates")
    r, days = x[inside], d[inside]
    cap = _capital(capital, values)
    growth = np.cumprod(1.0 + r, axis=0)  # (days, assets)
    pnl_path = (growth - 1.0) @ values
    equity = np.concatenate([[cap], cap + pnl_path])
    with np.errstate(divide="ignore", invalid="ignore"):
        daily = equity[1:] / equity[:-1] - 1.0
    peak = np.maximum.accumulate(equity)
    worst = int(np.argmin(daily))
    total = growth[-1] - 1.0
    assets = tuple(
        AssetReplay(symbol=s, position=float(values[i]), total_return=float(total[i]), pnl=float(values[i] * total[i]),
                    contribution=float(values[i] * total[i] / cap), worst_day=float(r[:, i].min()),
                    worst_day_date=_date(days[int(np.argmin(r[:, i]))]))
        for i, s in enumerate(names))
    return ScenarioReplay(
        scenario=label, start=_date(lo), end=_date(hi), first_date=_date(days[0]), last_date=_date(days[-1]),
        n_days=int(days.shape[0]), capital=cap, pnl=float(pnl_path[-1]), total_return=float(pnl_path[-1] / cap),
        worst_day=float(daily[worst]), worst_day_date=_date(days[worst]),
        max_drawdown=float(np.max(1.0 - equity / peak)), assets=assets, dates=days, equity=equity)


def replay_scenario(name: str, returns: Mapping[str, Sequence[float]] | Sequence[Sequence[float]] | np.ndarray, *,
                    dates: Sequence[Any] | np.ndarray, positions: Mapping[str, float] | Sequence[float],
                    symbols: Sequence[str] | None = None, capital: float | None = None) -> ScenarioReplay:
    """:func:`replay_window` over the built-in scenario ``name`` (:data:`SCENARIOS`)."""
    sc = scenario_window(name)
    return replay_window(returns, dates=dates, positions=positions, start=sc.start, end=sc.end, symbols=symbols,
                         capital=capital, label=sc.name)


# -- shocks ------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ShockResult:
    """P&L of an instantaneous shock: ``asset_pnl[s] = position[s] * asset_shocks[s]``, ``pnl`` their sum,
    ``total_return = pnl / capital``."""

    pnl: float
    total_return: float
    capital: float
    asset_shocks: dict[str, float]
    asset_pnl: dict[str, float]


def _shock_result(names: tuple[str, ...], values: np.ndarray, moves: np.ndarray, cap: float) -> ShockResult:
    pnl = values * moves
    total = float(pnl.sum())
    return ShockResult(pnl=total, total_return=total / cap, capital=cap,
                       asset_shocks={s: float(m) for s, m in zip(names, moves, strict=True)},
                       asset_pnl={s: float(p) for s, p in zip(names, pnl, strict=True)})


def shock_assets(positions: Mapping[str, float], shocks: Mapping[str, float], *,
                 capital: float | None = None) -> ShockResult:
    """Apply a return ``shocks[symbol]`` (e.g. -0.2 for -20 %) to each named asset; unnamed assets are
    unchanged. A shock must be >= -1 and name a held symbol."""
    names, values = _positions(positions, None)
    unknown = [str(s) for s in shocks if s not in names]
    if unknown:
        raise NtUserError(f"shocks names {', '.join(unknown)}, which hold no position; positions hold "
                          f"{', '.join(names)}")
    moves = np.zeros(len(names))
    for i, s in enumerate(names):
        if s in shocks:
            moves[i] = _finite(f"shocks[{s!r}]", shocks[s])
            if moves[i] < -1.0:
                raise NtUserError(f"shocks[{s!r}] must be a return >= -1 (-100 %), got {shocks[s]!r}")
    return _shock_result(names, values, moves, _capital(capital, values))


def shock_factors(positions: Mapping[str, float], loadings: Mapping[str, Mapping[str, float]],
                  factor_shocks: Mapping[str, float], *, capital: float | None = None) -> ShockResult:
    """Shock factors and move each asset by its loadings: ``shock_i = sum_f loadings[i][f] * factor_shocks[f]``
    (a linear factor model; a factor an asset does not list has loading 0). Every held asset needs an
    entry in ``loadings``; every shocked factor must appear in some asset's loadings."""
    names, values = _positions(positions, None)
    missing = [s for s in names if s not in loadings]
    if missing:
        raise NtUserError(f"loadings has no entry for {', '.join(missing)}; give each held asset its factor betas "
                          "({} for none)")
    known = {str(f) for s in names for f in loadings[s]}
    unknown = [str(f) for f in factor_shocks if f not in known]
    if unknown:
        raise NtUserError(f"factor_shocks names {', '.join(unknown)}, which no asset loads on; known factors: "
                          f"{', '.join(sorted(known)) or 'none'}")
    shocks = {str(f): _finite(f"factor_shocks[{f!r}]", v) for f, v in factor_shocks.items()}
    moves = np.array([sum(_finite(f"loadings[{s!r}][{f!r}]", b) * shocks.get(str(f), 0.0)
                          for f, b in loadings[s].items()) for s in names])
    return _shock_result(names, values, moves, _capital(capital, values))


# -- ladders -----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True, eq=False)
class Ladder:
    """P&L for each shock on the ladder: ``pnl[k]`` for ``shocks[k]``, ``returns = pnl / capital``,
    ``asset_pnl[k, i]`` the P&L of ``symbols[i]``. ``asset`` is the one shocked (None: all of them,
    each moving ``beta * shock`` when betas were given)."""

    shocks: np.ndarray
    pnl: np.ndarray
    returns: np.ndarray
    asset_pnl: np.ndarray
    symbols: tuple[str, ...]
    asset: str | None
    capital: float


def sensitivity_ladder(positions: Mapping[str, float], *, shocks: Sequence[float] | None = None,
                       low: float = -0.30, high: float = 0.30, step: float = 0.05, asset: str | None = None,
                       betas: Mapping[str, float] | None = None, capital: float | None = None) -> Ladder:
    """Portfolio P&L across uniform shocks: ``shocks`` as given, or ``low, low + step, ..., high``.

    With ``asset`` only that asset moves; otherwise every asset moves by the shock, or by
    ``betas[symbol] * shock`` when ``betas`` (to a market factor) are given. Positions are linear,
    so the ladder is linear in the shock: ``pnl(-s) == -pnl(s)``.
    """
    names, values = _positions(positions, None)
    if shocks is None:
        lo, hi, st = _finite("low", low), _finite("high", high), _finite("step", step)
        if not st > 0:
            raise NtUserError(f"step must be > 0, got {step!r}")
        if not lo <= hi:
            raise NtUserError(f"low must be <= high, got {low!r} and {high!r}")
        count = int(np.floor((hi - lo) / st + 1e-9)) + 1
        if count > 10_000:
            raise NtUserError(f"the ladder would have {count} rungs; use a larger step (at most 10000 rungs)")
        grid = np.round(lo + st * np.arange(count), 12)
    else:
        grid = np.array([_finite(f"shocks[{i}]", s) for i, s in enumerate(shocks)], dtype=np.float64)
        if grid.size == 0:
            raise NtUserError("shocks must hold at least one shock")
    if (grid < -1.0).any() and betas is None:
        raise NtUserError(f"shocks must be returns >= -1 (-100 %), got {float(grid.min())}")
    sens = np.ones(len(names))
    if asset is not None:
        if asset not in names:
            raise NtUserError(f"asset {asset!r} holds no position; positions hold {', '.join(names)}")
        sens = np.array([1.0 if s == asset else 0.0 for s in names])
    elif betas is not None:
        missing = [s for s in names if s not in betas]
        if missing:
            raise NtUserError(f"betas has no entry for {', '.join(missing)}; give every held asset a beta")
        extra = [str(s) for s in betas if s not in names]
        if extra:
            raise NtUserError(f"betas names {', '.join(extra)}, which hold no position")
        sens = np.array([_finite(f"betas[{s!r}]", betas[s]) for s in names])
    asset_pnl = grid[:, None] * (sens * values)[None, :]
    pnl = asset_pnl.sum(axis=1)
    cap = _capital(capital, values)
    return Ladder(shocks=grid, pnl=pnl, returns=pnl / cap, asset_pnl=asset_pnl, symbols=names, asset=asset,
                  capital=cap)
