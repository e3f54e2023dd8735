"""Numpy twins of the risk kernels: the reference semantics, bit for bit.

Each public function has the signature of its namesake in :mod:`neural_trader.native.risk` and
performs the same floating-point operations in the same order as ``native/risk/risk.c``: sums run
sequentially (``np.cumsum``, never numpy's pairwise ``sum``), the random numbers are the same
xoshiro256++ streams and the same ziggurat, so kernel and twin agree exactly for a seed.

Definitions (docs/native.md, "Risk"):

* losses are ``0.0 - returns``; ``VaR = numpy.quantile(losses, confidence, method="linear")`` and
  ``CVaR`` is the mean of the losses ``>= VaR`` (``math.fsum`` of them over their count). Historical VaR skips NaN returns and refuses
  infinite ones.
* Monte Carlo: the portfolio return of a scenario is ``w . (mu + B z)`` with ``B B^T = cov`` (the
  pivoted Cholesky factor) and ``z`` standard normal, computed as ``w.mu + (B^T w) . z``. Scenarios are cut into chunks of
  :data:`MC_CHUNK`; chunk ``c`` draws from the SplitMix64-seeded xoshiro256++ state jumped ``c``
  times, so results do not depend on the number of threads.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from neural_trader.errors import NtUserError
from neural_trader.native import _ziggurat_tables as _zt
from neural_trader.native._buffers import F64, array_arg, float_arg, int_arg, range_error, same_length

#: Scenarios per random stream (``NT_RISK_MC_CHUNK`` in risk.h).
MC_CHUNK = 2048

#: What each scalar argument must be; the compiled wrapper reuses these texts.
RULES: dict[str, str] = {
    "confidence": "must be strictly between 0 and 1",
    "n_scenarios": "must be >= 1",
    "window": "must be >= 1",
    "lam": "must be in (0, 1]",
    "ddof": "must be >= 0",
    "seed": "must be an integer in [0, 2**64)",
    "threads": "must be >= 1",
}

#: What an array argument must hold, when the kernel refuses one of its values.
ARRAY_RULES: dict[str, str] = {
    "returns": "must hold finite values or NaN (infinite returns have no loss quantile)",
    "weights": "must be finite",
    "means": "must be finite",
    "losses": "must be finite",
}

# nt_risk_reason (risk.h)
FINE, NONFINITE, ASYMMETRIC, NOT_PSD, OVERFLOW = range(5)

_M64 = (1 << 64) - 1
_U64 = np.dtype(np.uint64)
_JUMP = (0x180EC6D33CFD0ABA, 0xD5A61266F0C9392C, 0xA9582618E03FC9AA, 0x39ABDC4529B1661C)
_ZIG_R = _zt.R
_ZIG_K = np.array(_zt.K, dtype=np.uint64)
_ZIG_W = np.array([float.fromhex(h) for h in _zt.W_HEX])
_ZIG_F = tuple(float.fromhex(h) for h in _zt.F_HEX)
_TWO_M53 = 2.0**-53


class RiskEstimate(NamedTuple):
    """Value at risk and conditional value at risk (expected shortfall), as positive losses."""

    var: float
    cvar: float


class RollingRisk(NamedTuple):
    """Rolling VaR and CVaR, NaN before the first full window."""

    var: np.ndarray
    cvar: np.ndarray


# -- argument checks (shared with the compiled wrapper) ----------------------------------------


def check_confidence(confidence: object) -> float:
    c = float_arg("confidence", confidence)
    if not 0.0 < c < 1.0:
        raise range_error("confidence", c, RULES["confidence"])
    return c


def check_positive(name: str, value: object) -> int:
    i = int_arg(name, value)
    if i < 1:
        raise range_error(name, i, RULES[name])
    return i


def check_seed(seed: object) -> int:
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, int | np.integer):
        raise range_error("seed", seed, RULES["seed"])
    s = int(seed)
    if not 0 <= s <= _M64:
        raise range_error("seed", s, RULES["seed"])
    return s


def check_lam(lam: object) -> float:
    v = float_arg("lam", lam)
    if not 0.0 < v <= 1.0:
        raise range_error("lam", v, RULES["lam"])
    return v


def check_ddof(ddof: object) -> int:
    d = int_arg("ddof", ddof)
    if d < 0:
        raise range_error("ddof", d, RULES["ddof"])
    return d


def matrix_arg(name: str, value: object, *, square: bool = False) -> np.ndarray:
    """``value`` itself if it is a 2-D C-contiguous float64 array (square if asked); else NtUserError."""
    if not isinstance(value, np.ndarray):
        raise NtUserError(f"{name} must be a 2-D numpy array of float64, got {type(value).__name__}; "
                          f"convert it with np.asarray({name}, dtype=np.float64)")
    if value.dtype != F64:
        raise NtUserError(f"{name} must have dtype float64, got {value.dtype}; "
                          f"convert it with {name}.astype(np.float64)")
    if value.ndim != 2:
        raise NtUserError(f"{name} must be 2-D, got shape {value.shape}")
    if not value.flags.c_contiguous:
        raise NtUserError(f"{name} must be C-contiguous (a strided view was passed); "
                          f"pass np.ascontiguousarray({name})")
    if square and value.shape[0] != value.shape[1]:
        raise NtUserError(f"{name} must be square, got shape {value.shape}")
    return value


def check_portfolio(weights: object, means: object, cov: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w, mu = array_arg("weights", weights), array_arg("means", means)
    n = same_length(weights=w, means=mu)
    if n < 1:
        raise NtUserError("weights must hold at least one asset")
    c = matrix_arg("cov", cov, square=True)
    if c.shape[0] != n:
        raise NtUserError(f"cov has shape {c.shape} but weights has length {n}; cov must be {n} x {n}")
    return w, mu, c


def array_error(name: str) -> NtUserError:
    return NtUserError(f"{name} {ARRAY_RULES[name]}")


def cov_error(reason: int, where: int, n: int) -> NtUserError:
    """The error for a covariance matrix the Cholesky factorisation refuses (info from risk.c)."""
    if reason == NONFINITE:
        i, j = divmod(where, n)
        return NtUserError(f"cov must be finite, but cov[{i}, {j}] is not")
    if reason == ASYMMETRIC:
        i, j = divmod(where, n)
        return NtUserError(f"cov must be symmetric, but cov[{i}, {j}] differs from cov[{j}, {i}]")
    if reason == NOT_PSD:
        return NtUserError(f"cov must be positive semi-definite, but its Cholesky factorisation fails "
                           f"at row {where}; pass a valid covariance matrix")
    return NtUserError("weights and cov are too large: the portfolio's scenario returns overflow")


# -- random numbers ----------------------------------------------------------------------------


def _next_int(s: list[int]) -> int:
    t0 = (s[0] + s[3]) & _M64
    result = ((((t0 << 23) | (t0 >> 41)) & _M64) + s[0]) & _M64
    t = (s[1] << 17) & _M64
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = ((s[3] << 45) | (s[3] >> 19)) & _M64
    return result


def _jump(s: list[int]) -> None:
    acc = [0, 0, 0, 0]
    for word in _JUMP:
        for b in range(64):
            if word >> b & 1:
                for i in range(4):
                    acc[i] ^= s[i]
            _next_int(s)
    s[:] = acc


def seed_streams(seed: int, n_streams: int) -> np.ndarray:
    """``(n_streams, 4)`` uint64 states: SplitMix64 from ``seed``, then stream ``c`` jumped ``c`` times."""
    x = check_seed(seed)
    n_streams = int_arg("n_streams", n_streams)
    if n_streams < 0:
        raise range_error("n_streams", n_streams, "must be >= 0")
    s = []
    for _ in range(4):
        x = (x + 0x9E3779B97F4A7C15) & _M64
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
        s.append(z ^ (z >> 31))
    out = np.empty((n_streams, 4), dtype=np.uint64)
    for c in range(n_streams):
        if c > 0:
            _jump(s)
        out[c] = s
    return out


def _raw_block(state: list[np.ndarray], m: int) -> np.ndarray:
    """``(m, lanes)`` xoshiro256++ outputs, advancing the per-lane ``state`` (4 uint64 arrays)."""
    s0, s1, s2, s3 = state
    out = np.empty((m, s0.shape[0]), dtype=np.uint64)
    t0 = np.empty_like(s0)
    t = np.empty_like(s0)
    for j in range(m):
        np.add(s0, s3, out=t0)
        np.bitwise_or(t0 << 23, t0 >> 41, out=t)
        np.add(t, s0, out=out[j])
        np.left_shift(s1, 17, out=t)
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        np.bitwise_or(s3 << 45, s3 >> 19, out=s3)
    return out


def raw(state: np.ndarray, n: int) -> np.ndarray:
    """``n`` raw xoshiro256++ outputs from the 4-word ``state`` (advanced in place)."""
    lanes = [state[i : i + 1].copy() for i in range(4)]
    out = _raw_block(lanes, n)[:, 0].copy()
    for i in range(4):
        state[i] = lanes[i][0]
    return out


class _Short(Exception):
    """A lane's raw block ran out before it yielded the normals asked for."""


def _uniform(r: int) -> float:
    return float(r >> 11) * _TWO_M53


def _parse_lane(raw_lane: np.ndarray, need: int) -> np.ndarray:
    """The first ``need`` ziggurat normals in one lane's raw outputs (risk.c's ``normal``, vectorised)."""
    m = raw_lane.shape[0]
    idx = (raw_lane & 0xFF).astype(np.intp)
    u = raw_lane >> 12
    x = u.astype(np.float64) * _ZIG_W[idx]
    neg = (raw_lane & 0x100) != 0
    np.negative(x, out=x, where=neg)
    emit = u < _ZIG_K[idx]
    pos = 0  # first output not yet consumed
    count = 0  # normals emitted before pos
    for c in np.flatnonzero(~emit).tolist():
        if c < pos:
            continue  # consumed by an earlier slow path
        count += c - pos
        if count >= need:
            pos = c
            break
        p = c + 1
        i = int(idx[c])
        if i == 0:  # tail beyond R
            while True:
                if p + 1 >= m:
                    raise _Short
                xx = -math.log1p(-_uniform(int(raw_lane[p]))) / _ZIG_R
                yy = -math.log1p(-_uniform(int(raw_lane[p + 1])))
                p += 2
                if yy + yy > xx * xx:
                    x[c] = -(_ZIG_R + xx) if neg[c] else _ZIG_R + xx
                    emit[c] = True
                    break
        else:  # wedge
            if p >= m:
                raise _Short
            xv = float(x[c])
            y = _ZIG_F[i] + _uniform(int(raw_lane[p])) * (_ZIG_F[i + 1] - _ZIG_F[i])
            p += 1
            emit[c] = y < math.exp(-0.5 * xv * xv)
        emit[c + 1 : p] = False
        count += int(emit[c])
        pos = p
    else:
        count += m - pos
        pos = m
    if count < need:
        raise _Short
    return x[np.flatnonzero(emit[:pos])[:need]]


def _normals_lanes(states: np.ndarray, needs: list[int]) -> list[np.ndarray]:
    """For each lane (a row of ``states``), its first ``needs[lane]`` normals."""
    lanes = states.shape[0]
    if lanes == 0:
        return []
    st = [states[:, i].copy() for i in range(4)]
    top = max(needs)
    blocks = [_raw_block(st, top + top // 16 + 64)]
    out: list[np.ndarray | None] = [None] * lanes
    todo = list(range(lanes))
    while todo:
        block = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
        short = []
        for lane in todo:
            try:
                out[lane] = _parse_lane(block[:, lane], needs[lane])
            except _Short:
                short.append(lane)
        todo = short
        if todo:
            blocks.append(_raw_block(st, top // 8 + 64))
    return [o for o in out if o is not None]


def normals(state: np.ndarray, n: int) -> np.ndarray:
    """``n`` standard normals from the 4-word uint64 ``state``; unlike the kernel, ``state`` is not
    advanced (the twin serves tests and the Monte Carlo streams, which never continue a state)."""
    n = int_arg("n", n)
    if n < 0:
        raise range_error("n", n, "must be >= 0")
    return _normals_lanes(state.reshape(1, 4), [n])[0]


# -- matrices ----------------------------------------------------------------------------------


class Cholesky(NamedTuple):
    """Pivoted Cholesky factorisation: ``cov[perm][:, perm] == lower @ lower.T`` (to rounding)."""

    lower: np.ndarray
    perm: np.ndarray
    rank: int

    @property
    def factor(self) -> np.ndarray:
        """``B`` with ``B @ B.T == cov`` in the original order (``lower`` with its rows put back)."""
        return self.lower[np.argsort(self.perm)]


def _cholesky(a: np.ndarray) -> tuple[Cholesky, int, int]:
    """(factorisation, reason, where) exactly as risk.c's ``cholesky``."""
    n = a.shape[0]
    lower = np.zeros((n, n))
    perm = np.arange(n, dtype=np.int64)
    bad = np.flatnonzero(~np.isfinite(a))
    if bad.size:
        return Cholesky(lower, perm, 0), NONFINITE, int(bad[0])
    max_diag = float(np.max(np.abs(np.diagonal(a)))) if n else 0.0
    sym_tol = 1e-10 * max_diag
    asym = np.tril(np.abs(a - a.T) > sym_tol, -1)
    if asym.any():
        return Cholesky(lower, perm, 0), ASYMMETRIC, int(np.flatnonzero(asym)[0])
    tol = 1e-12 * max_diag
    off_tol = 1e-6 * max_diag
    w = a.copy()
    r = 0
    while r < n:
        p = r + int(np.argmax(np.diagonal(w)[r:]))
        if not w[p, p] > tol:
            break
        if p != r:
            w[[r, p]] = w[[p, r]]
            w[:, [r, p]] = w[:, [p, r]]
            lower[[r, p], :r] = lower[[p, r], :r]
            perm[[r, p]] = perm[[p, r]]
        d = math.sqrt(float(w[r, r]))
        lower[r, r] = d
        lower[r + 1 :, r] = w[r + 1 :, r] / d
        col = lower[r + 1 :, r]
        w[r + 1 :, r + 1 :] = w[r + 1 :, r + 1 :] - col[:, None] * col[None, :]
        r += 1
    rest = w[r:, r:]
    off = np.abs(rest) > off_tol
    np.fill_diagonal(off, np.diagonal(rest) < -tol)
    if off.any():
        return Cholesky(lower, perm, r), NOT_PSD, int(perm[r + int(np.flatnonzero(off)[0]) // (n - r)])
    return Cholesky(lower, perm, r), FINE, -1


def cholesky(cov: np.ndarray) -> Cholesky:
    """Pivoted Cholesky factorisation of a symmetric positive semi-definite matrix (pivots within
    ``1e-12 * max(diag)`` of zero end it: ``rank`` says how many columns are non-zero)."""
    c = matrix_arg("cov", cov, square=True)
    chol, reason, where = _cholesky(c)
    if reason:
        raise cov_error(reason, where, c.shape[0])
    return chol


def _seq_sum_rows(rows: np.ndarray, block: int = 4096) -> np.ndarray:
    """Left-to-right sum over axis 0 starting from 0.0, as the C loops do (not pairwise)."""
    acc = np.zeros(rows.shape[1:])
    for start in range(0, rows.shape[0], block):
        part = rows[start : start + block]
        acc = np.cumsum(np.concatenate([acc[None], part]), axis=0)[-1]
    return acc


def _seq_sum(v: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        return float(np.cumsum(np.concatenate([[0.0], v]))[-1])


def _mirror(acc: np.ndarray) -> np.ndarray:
    n = acc.shape[0]
    upper = np.triu(np.ones((n, n), dtype=bool))
    return np.where(upper, acc, acc.T)


def _outer_sums(d_left: np.ndarray, d: np.ndarray, block: int = 1024) -> np.ndarray:
    """``sum_i d_left[i, j] * d[i, k]`` in row order for every j, k."""
    n = d.shape[1]
    acc = np.zeros((n, n))
    for start in range(0, d.shape[0], block):
        p = d_left[start : start + block, :, None] * d[start : start + block, None, :]
        acc = np.cumsum(np.concatenate([acc[None], p]), axis=0)[-1]
    return acc


def covariance(returns: np.ndarray, ddof: int = 1) -> np.ndarray:
    """Sample covariance of the columns of a ``(t, n)`` matrix, divisor ``t - ddof`` (NaN if <= 0).

    Computed on deviations from the first row, so a constant column has exactly zero variance."""
    x = matrix_arg("returns", returns)
    d = check_ddof(ddof)
    t = x.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        shifted = x - x[:1] if t else x
        means = _seq_sum_rows(shifted) / float(t)
        dev = shifted - means
        acc = _mirror(_outer_sums(dev, dev))
        fact = float(t - d) if t - d > 0 else math.nan
        return acc / fact


def ewma_covariance(returns: np.ndarray, lam: float = 0.94, demean: bool = True) -> np.ndarray:
    """Exponentially weighted covariance: weight ``lam**(t-1-i)`` on row ``i``, normalised."""
    x = matrix_arg("returns", returns)
    lv = check_lam(lam)
    t, n = x.shape
    w = np.cumprod(np.concatenate([[1.0], np.full(max(t - 1, 0), lv)]))[:t]
    with np.errstate(invalid="ignore", divide="ignore"):
        sw = _seq_sum(w)
        if demean:
            shifted = (x - x[:1])[::-1] if t else x
            means = _seq_sum_rows(w[:, None] * shifted) / sw
        else:
            shifted = x[::-1] - np.zeros(n)
            means = np.zeros(n)
        dev = shifted - means
        acc = _mirror(_outer_sums(w[:, None] * dev, dev))
        return acc / sw


def cov_to_corr(cov: np.ndarray) -> np.ndarray:
    """Correlation from covariance as ``numpy.corrcoef`` does it: ``(c / s_i) / s_j``, clipped."""
    c = matrix_arg("cov", cov, square=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.sqrt(np.diagonal(c))
        return np.clip(c / s[:, None] / s[None, :], -1.0, 1.0)


def correlation(returns: np.ndarray) -> np.ndarray:
    """Pearson correlation of the columns (``numpy.corrcoef(returns, rowvar=False)``)."""
    return cov_to_corr(covariance(returns))


def ewma_correlation(returns: np.ndarray, lam: float = 0.94, demean: bool = True) -> np.ndarray:
    """Correlation of :func:`ewma_covariance`."""
    return cov_to_corr(ewma_covariance(returns, lam, demean))


# -- VaR and CVaR ------------------------------------------------------------------------------


def _var_cvar(x: np.ndarray, confidence: float) -> RiskEstimate:
    m = x.shape[0]
    s = np.sort(x)
    vi = float(m - 1) * confidence
    below = math.floor(vi)
    if vi >= float(m - 1):
        prev = nxt = m - 1
    else:
        prev, nxt = int(below), int(below) + 1
    gamma = vi - float(below)
    a, b = float(s[prev]), float(s[nxt])
    diff = b - a
    v = b - diff * (1.0 - gamma) if gamma >= 0.5 else a + diff * gamma
    tail = s[s >= v]
    return RiskEstimate(v, _tail_mean(tail, v))


def _tail_mean(tail: np.ndarray, v: float) -> float:
    """risk.c's ``tail_mean``: the correctly rounded sum over the count, within [v, max]."""
    n = tail.shape[0]
    scale = 1.0
    try:
        total = math.fsum(tail.tolist())
    except OverflowError:
        scale = math.ldexp(1.0, -(n - 1).bit_length())
        total = math.fsum((tail * scale).tolist())
    mean = total / float(n) / scale
    top = max(v, float(tail.max()))
    return v if mean < v else (top if mean > top else mean)


def var_cvar(losses: np.ndarray, confidence: float = 0.99) -> RiskEstimate:
    """VaR and CVaR of a loss sample (finite values; positive numbers are losses)."""
    x = array_arg("losses", losses)
    c = check_confidence(confidence)
    if x.shape[0] < 1:
        raise NtUserError("losses must hold at least one value")
    if not np.isfinite(x).all():
        raise array_error("losses")
    return _var_cvar(x, c)


def _historical(r: np.ndarray, confidence: float) -> RiskEstimate:
    losses = 0.0 - r[~np.isnan(r)]
    if losses.shape[0] == 0:
        return RiskEstimate(math.nan, math.nan)
    return _var_cvar(losses, confidence)


def historical_var(returns: np.ndarray, confidence: float = 0.99) -> RiskEstimate:
    """Historical VaR and CVaR of a return series (NaN returns are skipped)."""
    r = array_arg("returns", returns)
    c = check_confidence(confidence)
    if np.isinf(r).any():
        raise array_error("returns")
    return _historical(r, c)


def rolling_historical_var(returns: np.ndarray, window: int, confidence: float = 0.99) -> RollingRisk:
    """Historical VaR and CVaR over each trailing ``window`` of returns."""
    r = array_arg("returns", returns)
    w = check_positive("window", window)
    c = check_confidence(confidence)
    if np.isinf(r).any():
        raise array_error("returns")
    n = r.shape[0]
    var, cvar = np.full(n, math.nan), np.full(n, math.nan)
    for i in range(w - 1, n):
        var[i], cvar[i] = _historical(r[i - w + 1 : i + 1], c)
    return RollingRisk(var=var, cvar=cvar)


# -- Monte Carlo -------------------------------------------------------------------------------


def _prepare(w: np.ndarray, mu: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, float]:
    """(loading L^T w, portfolio mean w . mu) as risk.c's ``nt_risk_mc_prepare``."""
    n = w.shape[0]
    for name, arr in (("weights", w), ("means", mu)):
        if not np.isfinite(arr).all():
            raise array_error(name)
    chol, reason, where = _cholesky(cov)
    if reason:
        raise cov_error(reason, where, n)
    mean = 0.0
    for i in range(n):
        mean = mean + float(w[i]) * float(mu[i])
    loading = np.zeros(n)
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(n):
            loading = loading + chol.lower[i, :] * w[chol.perm[i]]
    if not (math.isfinite(mean) and np.isfinite(loading).all()):
        raise cov_error(OVERFLOW, -1, n)
    return loading, mean


def monte_carlo_losses(weights: np.ndarray, means: np.ndarray, cov: np.ndarray, *, n_scenarios: int = 100_000,
                       seed: int = 0, threads: int = 1) -> np.ndarray:
    """Simulated one-period portfolio losses ``-(w . r)``, ``r ~ N(means, cov)``, in scenario order."""
    w, mu, c = check_portfolio(weights, means, cov)
    n_s = check_positive("n_scenarios", n_scenarios)
    s = check_seed(seed)
    check_positive("threads", threads)
    loading, mean = _prepare(w, mu, c)
    n = w.shape[0]
    n_chunks = -(-n_s // MC_CHUNK)
    sizes = [min(MC_CHUNK, n_s - k * MC_CHUNK) for k in range(n_chunks)]
    z = np.concatenate(_normals_lanes(seed_streams(s, n_chunks), [k * n for k in sizes])).reshape(n_s, n)
    acc = np.full(n_s, mean)
    for k in range(n):
        acc = acc + loading[k] * z[:, k]
    return 0.0 - acc


def monte_carlo_var(weights: np.ndarray, means: np.ndarray, cov: np.ndarray, *, confidence: float = 0.99,
                    n_scenarios: int = 100_000, seed: int = 0, threads: int = 1) -> RiskEstimate:
    """Monte Carlo VaR and CVaR of a portfolio of jointly normal assets (one period of ``means``/``cov``)."""
    c = check_confidence(confidence)
    losses = monte_carlo_losses(weights, means, cov, n_scenarios=n_scenarios, seed=seed, threads=threads)
    if not np.isfinite(losses).all():
        raise cov_error(OVERFLOW, -1, losses.shape[0])
    return _var_cvar(losses, c)


__all__ = [
    "MC_CHUNK", "RULES", "Cholesky", "RiskEstimate", "RollingRisk", "cholesky", "correlation", "cov_to_corr",
    "covariance", "ewma_correlation", "ewma_covariance", "historical_var", "monte_carlo_losses",
    "monte_carlo_var", "normals", "raw", "rolling_historical_var", "seed_streams", "var_cvar",
]
