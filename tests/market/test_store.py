"""The local bar store and the cache codec: exact round trips, merging, listing, refusing to mix
synthetic with observed bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neural_trader.domain.market import Bars, Timeframe
from neural_trader.errors import NtConflict, NtUserError
from neural_trader.market.codec import decode_bars, encode_bars
from neural_trader.market.files import read_bars
from neural_trader.market.store import LocalStore
from neural_trader.market.synthetic import series

from .conftest import DATA


def _awkward() -> Bars:
    """Bars whose floats would not survive text: subnormals, long mantissas, NaN volume, -0.0."""
    ts = np.array([0, 60, 120], dtype=np.int64) * 10**9 + 1
    close = np.array([0.1 + 0.2, 5e-324, 1.7976931348623157e308])
    return Bars(symbol="BTC/USD", timeframe="1Min", provider="csv", ts=ts, open=close, high=close, low=close,
                close=close, volume=np.array([np.nan, -0.0, 3.0]))


def _bits(bars: Bars) -> list[bytes]:
    return [np.ascontiguousarray(c).tobytes() for c in bars.columns().values()]


def test_round_trip_is_exact_to_the_bit(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    original = _awkward()
    info = store.save(original)
    back = store.load("BTC/USD", Timeframe.MIN_1)
    assert back is not None and _bits(back) == _bits(original)
    assert back.provider == "local" and info.sources == ("csv",) and info.rows == 3
    mapped = store.load("BTC/USD", "1Min", mmap=True)
    assert mapped is not None and _bits(mapped) == _bits(original)
    assert all(c.flags.c_contiguous for c in back.columns().values())


def test_real_file_round_trip(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    orcl = read_bars(DATA / "orcl-1995-2014.txt")
    store.save(orcl)
    back = store.load("ORCL", "1Day")
    assert back is not None and back.equals(orcl)
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave nothing behind


def test_saving_again_merges_and_new_bars_win(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    orcl = read_bars(DATA / "orcl-1995-2014.txt")
    store.save(orcl[:3000])
    revised = Bars(symbol="ORCL", timeframe="1Day", provider="alpaca", ts=orcl.ts[2990:], open=orcl.open[2990:],
                   high=orcl.high[2990:] + 1, low=orcl.low[2990:], close=orcl.close[2990:], volume=orcl.volume[2990:])
    info = store.save(revised)
    back = store.load("ORCL", "1Day")
    assert back is not None and len(back) == len(orcl) == info.rows
    assert np.array_equal(back.high[:2990], orcl.high[:2990])
    assert np.array_equal(back.high[2990:], orcl.high[2990:] + 1)
    assert info.sources == ("csv", "alpaca")


def test_synthetic_and_observed_bars_never_mix(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.save(read_bars(DATA / "2006-day-001.txt", symbol="SX5E"))
    fake = series("SX5E", "1Day").bars("2007-01-01", "2007-02-01")
    with pytest.raises(NtConflict, match="observed SX5E 1Day bars; synthetic bars must not mix"):
        store.save(fake)
    store.save(fake, merge=False)
    assert store.describe("SX5E", Timeframe.DAY_1).synthetic  # type: ignore[union-attr]


def test_listing_and_deleting(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    assert store.series() == [] and store.load("NOPE", "1Day") is None
    store.save(read_bars(DATA / "2006-min-005.txt", symbol="SX5E"))
    store.save(read_bars(DATA / "2006-day-001.txt", symbol="SX5E"))
    store.save(_awkward())
    listed = [(s.symbol, s.timeframe.value, s.rows) for s in store.series()]
    assert listed == [("BTC/USD", "1Min", 3), ("SX5E", "5Min", 2142), ("SX5E", "1Day", 255)]
    assert store.delete("SX5E", "5Min") and not store.delete("SX5E", "5Min")
    assert len(store.series()) == 2


def test_symbols_cannot_escape_the_store(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "bars")
    with pytest.raises(NtUserError):
        store.load("..", "1Day")
    store.save(Bars(symbol="a/../../x", timeframe="1Day", provider="t", ts=[0], open=[1], high=[1], low=[1],
                    close=[1], volume=[1]))
    assert [p.parent.name for p in (tmp_path / "bars").rglob("*.npy")] == ["a%2F..%2F..%2Fx"]


def test_codec_round_trip_is_exact_and_compact() -> None:
    original = _awkward()
    data = encode_bars(original)
    back = decode_bars(data)
    assert _bits(back) == _bits(original) and back.symbol == "BTC/USD" and back.provider == "csv"
    header = data.index(b"}") + 1
    assert len(data) <= header + 8 + 48 * len(original)
    assert decode_bars(encode_bars(series("S", "1Day").bars("2024-01-01", "2024-02-01"))).synthetic


@pytest.mark.parametrize("damage", [b"XXXX", b"NTB1\x05\x00\x00\x00{}"])
def test_codec_refuses_what_it_did_not_write(damage: bytes) -> None:
    with pytest.raises((ValueError, KeyError)):
        decode_bars(damage)
    with pytest.raises(ValueError, match="truncated"):
        decode_bars(encode_bars(_awkward())[:-8])
