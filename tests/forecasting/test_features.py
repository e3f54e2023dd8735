"""Features, windows, splits and the scaler on real ORCL bars, against hand computations, and the
no-leakage properties: later bars change no earlier feature, bars after the train part change no
train window and no scaler statistic."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from neural_trader.errors import NtUserError
from neural_trader_plugins.forecasting import features as F

LB, HZ = 20, 5


def _bars(orcl: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    return orcl["close"], orcl["high"], orcl["low"], orcl["volume"]


def test_features_match_hand_computations(orcl: dict[str, np.ndarray]) -> None:
    c, h, lo, v = _bars(orcl)
    fm = F.feature_matrix(c, h, lo, v)
    assert fm.names == F.FEATURES
    assert np.isfinite(fm.values[fm.first_valid:]).all()
    assert not np.isfinite(fm.values[fm.first_valid - 1]).all()
    col = {n: fm.values[:, j] for j, n in enumerate(fm.names)}
    lr = np.log(c[1:] / c[:-1])
    for t in (fm.first_valid, 1000, 2500, len(c) - 1):
        assert col["return"][t] == pytest.approx(c[t] / c[t - 1] - 1, rel=1e-12)
        assert col["log_return"][t] == pytest.approx(np.log(c[t] / c[t - 1]), rel=1e-12)
        # sample sd of the 20 log returns ending at bar t (log return t is lr[t-1])
        assert col["volatility"][t] == pytest.approx(np.std(lr[t - 20:t], ddof=1), rel=1e-9)
        assert col["volume_change"][t] == pytest.approx(np.log((v[t] + 1) / (v[t - 1] + 1)), rel=1e-12)
        assert col["sma_gap"][t] == pytest.approx(c[t] / np.mean(c[t - 19:t + 1]) - 1, rel=1e-9, abs=1e-12)
    # Wilder's RSI is in [0, 100]: the feature is RSI/100 - 0.5
    assert (np.abs(col["rsi"][fm.first_valid:]) <= 0.5).all()
    assert (col["atr"][fm.first_valid:] > 0).all()


def test_optional_columns_are_left_out() -> None:
    c = np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 300))) * 50
    fm = F.feature_matrix(c)
    assert "volume_change" not in fm.names and "atr" not in fm.names
    assert fm.values.shape == (300, len(fm.names))


def test_windows_and_targets(orcl: dict[str, np.ndarray]) -> None:
    c, h, lo, v = _bars(orcl)
    fm = F.feature_matrix(c, h, lo, v)
    w = F.windows(fm, c, lookback=LB, horizon=HZ)
    assert w.x.shape == (len(c) - HZ - fm.first_valid - LB + 1, LB, len(fm.names))
    assert w.y.shape == (w.x.shape[0], HZ)
    for i in (0, 777, len(w) - 1):
        t = int(w.ends[i])
        np.testing.assert_array_equal(w.x[i], fm.values[t - LB + 1:t + 1])
        for step in range(1, HZ + 1):
            assert w.y[i, step - 1] == pytest.approx(np.log(c[t + step] / c[t]), rel=1e-12, abs=1e-15)
    assert w.ends[0] == fm.first_valid + LB - 1 and w.ends[-1] == len(c) - 1 - HZ
    np.testing.assert_allclose(F.to_prices(w.y, c[w.ends]), c[w.ends[:, None] + np.arange(1, HZ + 1)], rtol=1e-12)


def test_split_and_scaler(orcl: dict[str, np.ndarray]) -> None:
    c, h, lo, v = _bars(orcl)
    d = F.prepare(c, h, lo, v, lookback=LB, horizon=HZ, train=0.6, val=0.2)
    n = len(c)
    assert (d.b1, d.b2) == (int(0.6 * n), int(0.8 * n))
    assert d.train.ends.max() + HZ < d.b1
    assert d.val.ends.min() + 1 >= d.b1 and d.val.ends.max() + HZ < d.b2
    assert d.test.ends.min() + 1 >= d.b2 and d.test.ends.max() + HZ == n - 1
    # no target bar is shared by two parts, and each part is in time order
    for p in (d.train, d.val, d.test):
        assert (np.diff(p.ends) == 1).all()
    fm = F.feature_matrix(c, h, lo, v)
    rows = fm.values[fm.first_valid:d.b1]
    np.testing.assert_allclose(d.scaler.mean, rows.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(d.scaler.std, rows.std(axis=0), rtol=1e-12)
    # train features after scaling: mean 0 / sd 1 over the train rows (the windows overlap them)
    scaled_rows = (rows - d.scaler.mean) / d.scaler.std
    np.testing.assert_allclose(scaled_rows.mean(axis=0), 0, atol=1e-12)
    t = int(d.test.ends[3])
    np.testing.assert_allclose(d.test.x[3], (fm.values[t - LB + 1:t + 1] - rows.mean(0)) / rows.std(0), rtol=1e-10)
    assert d.fingerprint == hashlib.sha256(fm.values.tobytes()).hexdigest()


def _perturb(bars: tuple[np.ndarray, ...], start: int, *, decimals: int | None) -> tuple[np.ndarray, ...]:
    c, h, lo, v = (b.copy() for b in bars)
    f = np.exp(np.random.default_rng(1).normal(0.0, 0.05, len(c) - start))
    c[start:] *= f
    h[start:] = c[start:] * 1.02
    lo[start:] = c[start:] * 0.97
    v[start:] = v[start:] * 3.0 + 17.0
    if decimals is not None:  # the same decimal format as the Yahoo file (6 places)
        c, h, lo = (np.round(a, decimals) for a in (c, h, lo))
    return c, h, lo, v


@pytest.mark.parametrize("t", [200, 2345, 4000])
def test_later_bars_change_no_earlier_feature(orcl: dict[str, np.ndarray], t: int) -> None:
    bars = _bars(orcl)
    base = F.feature_matrix(*bars)
    w0 = F.windows(base, bars[0], lookback=LB, horizon=HZ)
    changed = _perturb(bars, t + 1, decimals=6)
    after = F.feature_matrix(*changed)
    np.testing.assert_array_equal(after.values[:t + 1], base.values[:t + 1])
    assert not np.array_equal(after.values[t + 1:], base.values[t + 1:])
    w1 = F.windows(after, changed[0], lookback=LB, horizon=HZ)
    keep = w0.ends <= t
    np.testing.assert_array_equal(w1.x[keep], w0.x[keep])
    # Prices with more decimals than the file's switch the SMA kernel from exact decimal sums to floats
    # (its choice is made per column, see features' docstring): earlier values move by ulps only.
    raw = F.feature_matrix(*_perturb(bars, t + 1, decimals=None))
    np.testing.assert_allclose(raw.values[:t + 1], base.values[:t + 1], rtol=1e-13, atol=1e-15)


def test_bars_after_train_change_no_train_window_nor_scaler(orcl: dict[str, np.ndarray]) -> None:
    bars = _bars(orcl)
    d0 = F.prepare(*bars, lookback=LB, horizon=HZ)
    d1 = F.prepare(*_perturb(bars, d0.b1, decimals=6), lookback=LB, horizon=HZ)
    np.testing.assert_array_equal(d1.train.x, d0.train.x)
    np.testing.assert_array_equal(d1.train.y, d0.train.y)
    np.testing.assert_array_equal(d1.train.ends, d0.train.ends)
    for name in ("mean", "std", "y_mean", "y_std"):
        np.testing.assert_array_equal(getattr(d1.scaler, name), getattr(d0.scaler, name))
    assert not np.array_equal(d1.val.y, d0.val.y)
    assert d1.fingerprint != d0.fingerprint


def test_bad_input_names_the_field(orcl: dict[str, np.ndarray]) -> None:
    c, h, lo, v = _bars(orcl)
    bad = c.copy()
    bad[10] = np.nan
    cases = [
        (lambda: F.feature_matrix(bad), "close"),
        (lambda: F.feature_matrix(c, h, None, v), "high and low"),
        (lambda: F.feature_matrix(c, h, lo, v[:-1]), "volume"),
        (lambda: F.feature_matrix(-c), "close"),
        (lambda: F.feature_matrix(c, vol_window=1), "vol_window"),
        (lambda: F.prepare(c, lookback=0), "lookback"),
        (lambda: F.prepare(c, horizon=2.5), "horizon"),  # type: ignore[arg-type]
        (lambda: F.prepare(c, train=0.8, val=0.3), "train + val"),
        (lambda: F.prepare(c, train=1.2), "train"),
        (lambda: F.prepare(c[:60], lookback=20, horizon=5), "part has no window"),
    ]
    for call, field in cases:
        with pytest.raises(NtUserError, match=re.escape(field)):
            call()
