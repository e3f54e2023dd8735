"""Kernel timings on ``/metrics``: every call of a native kernel (compiled C or its numpy twin) is
one observation of ``nt_native_kernel_seconds{kernel, function, impl}``; timing changes no result.

The counts are per process and other tests run kernels too, so each test compares two scrapes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from neural_trader.errors import NtUserError
from neural_trader.frontends import rest
from neural_trader.host import Host, make_host
from neural_trader.native import (
    _loader,
    indicators,
    indicators_numpy,
    kernel_timings,
    metrics,
    metrics_numpy,
    sports,
    sports_numpy,
)
from neural_trader.ops import Scope
from neural_trader.settings import load_settings

IMPL = "c" if indicators.COMPILED else "numpy"
needs_compiled = pytest.mark.skipif(not (indicators.COMPILED and metrics.COMPILED and sports.COMPILED),
                                    reason=f"compiled kernels unavailable: {indicators.STATUS_REASON}")


@pytest.fixture
def host(tmp_path: Path) -> Any:
    h = make_host(settings=load_settings(env={"NT_CONFIG": str(tmp_path / "none.toml")}, data_dir=tmp_path / "data"))
    yield h
    h.close()


async def _scrape(host: Host, token: str | None) -> httpx.Response:
    transport = httpx.ASGITransport(app=rest.build_app(host))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return await client.get("/metrics", headers=headers)


def _histograms(text: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    """``nt_native_kernel_seconds`` by (kernel, function, impl), read by prometheus_client's parser."""
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "nt_native_kernel_seconds":
            continue
        assert family.type == "histogram" and "impl c (compiled) or numpy (the twin)" in family.documentation
        for s in family.samples:
            key = (s.labels["kernel"], s.labels["function"], s.labels["impl"])
            h = out.setdefault(key, {"buckets": {}})
            if s.name.endswith("_bucket"):
                h["buckets"][s.labels["le"]] = s.value
            else:
                h[s.name.rsplit("_", 1)[1]] = s.value
    return out


async def test_each_call_is_one_observation_on_metrics(host: Host) -> None:
    _, token = host.services.keys.create("prometheus", frozenset({Scope.ADMIN}))
    assert (await _scrape(host, None)).status_code == 401  # still admin only
    x = np.linspace(1.0, 2.0, 1000)
    indicators.sma(x, 20)  # the series exists before the first scrape
    before = _histograms((await _scrape(host, token)).text)
    wall = time.perf_counter()
    for _ in range(3):
        indicators.sma(x, 20)
    wall = time.perf_counter() - wall
    for _ in range(2):
        metrics.summary(np.diff(x) / x[:-1])
    with pytest.raises(NtUserError):
        indicators.sma(x, 0)  # a call that raises is not counted
    response = await _scrape(host, token)
    assert response.status_code == 200
    after = _histograms(response.text)
    assert 'nt_native_kernel_compiled{kernel="indicators"}' in response.text

    sma_key, summary_key = ("indicators", "sma", IMPL), ("metrics", "summary", "c" if metrics.COMPILED else "numpy")
    sma_before = before[sma_key]
    assert after[sma_key]["count"] - sma_before["count"] == 3
    assert after[summary_key]["count"] - before.get(summary_key, {"count": 0})["count"] == 2
    for key in (sma_key, summary_key):
        h = after[key]
        assert h["buckets"]["+Inf"] == h["count"]
        counts = list(h["buckets"].values())
        assert counts == sorted(counts)  # cumulative
        assert list(h["buckets"]) == [*(repr(b) for b in _loader.TIMING_BUCKETS), "+Inf"]
    spent = after[sma_key]["sum"] - sma_before["sum"]
    assert 0 < spent <= wall  # the three calls, timed inside the loop that took ``wall``


def test_bucket_edges_are_inclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    """A call of exactly 1 µs falls in ``le="1e-06"``, one of 1 µs + 1 ns in the next; 20 s in +Inf."""
    clock = iter([0, 1_000, 0, 1_001, 0, 20_000_000_000])
    monkeypatch.setattr(_loader, "perf_counter_ns", lambda: next(clock))
    key = ("timing-test", "probe", "numpy")
    monkeypatch.delitem(_loader._SERIES, key, raising=False)

    @_loader.timed(_loader.NativeModule(family="timing-test", reason="a test"))
    def probe() -> int:
        return 7

    assert [probe(), probe(), probe()] == [7, 7, 7]
    (t,) = [t for t in kernel_timings() if (t.kernel, t.function, t.impl) == key]
    assert (t.buckets[0], t.buckets[1], t.buckets[-1], t.count) == (1, 2, 2, 3)
    assert t.seconds == pytest.approx(20.000002001)
    _loader._SERIES.pop(key)  # keep the probe off later scrapes of this process


def test_threads_lose_no_count() -> None:
    def count() -> int:
        return next(t.count for t in kernel_timings() if (t.kernel, t.function, t.impl) == ("indicators", "ema", IMPL))

    x = np.linspace(1.0, 2.0, 50)
    indicators.ema(x, 5)
    start = count()
    threads = [threading.Thread(target=lambda: [indicators.ema(x, 5) for _ in range(500)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count() - start == 4000


def test_ended_threads_keep_their_counts_and_no_memory() -> None:
    """A pool per sweep makes many short threads: their counts stay, their lists are folded away."""
    series = _loader._SERIES[("indicators", "rsi", IMPL)]
    x = np.linspace(1.0, 2.0, 50)

    def count() -> int:
        return series.snapshot().count

    start = count()
    for _ in range(30):
        t = threading.Thread(target=indicators.rsi, args=(x, 5))
        t.start()
        t.join()
    assert count() - start == 30
    assert len(series.live) <= 1  # at most this thread's own


@needs_compiled
def test_timing_changes_no_result(orcl: dict[str, np.ndarray]) -> None:
    """The timed C wrappers equal their numpy twins, and the untimed function, bit for bit."""
    close = orcl["close"]
    assert np.array_equal(indicators.sma(close, 20), indicators_numpy.sma(close, 20), equal_nan=True)
    assert np.array_equal(indicators.sma(close, 20), indicators.sma.__wrapped__(close, 20), equal_nan=True)
    returns = metrics.returns_from_equity(close)
    assert np.array_equal(returns, metrics_numpy.returns_from_equity(close))
    assert metrics.summary(returns) == metrics_numpy.summary(returns)
    odds = 1.5 + np.random.default_rng(3).random((40, 4, 3)) * 3
    c, twin = sports.arbitrage_scan(odds), sports_numpy.arbitrage_scan(odds)
    assert all(np.array_equal(getattr(c, f), getattr(twin, f)) for f in ("best", "best_book", "booksum"))


def test_numpy_twin_calls_are_timed_in_a_fallback_process(tmp_path: Path) -> None:
    """With the compiled modules off, the twins run and are labelled ``impl="numpy"``."""
    code = (
        "import numpy as np\n"
        "from pathlib import Path\n"
        "from starlette.testclient import TestClient\n"
        "from neural_trader.frontends import rest\n"
        "from neural_trader.host import make_host\n"
        "from neural_trader.native import indicators\n"
        "from neural_trader.settings import load_settings\n"
        "tmp = Path(__import__('sys').argv[1])\n"
        "host = make_host(settings=load_settings(env={'NT_CONFIG': str(tmp / 'none.toml')}, data_dir=tmp / 'data',"
        " metrics_public=True))\n"
        "for _ in range(4):\n"
        "    indicators.sma(np.linspace(1.0, 2.0, 100), 5)\n"
        "with TestClient(rest.build_app(host), base_url='http://127.0.0.1') as client:\n"
        "    print(client.get('/metrics').text)\n"
        "host.close()\n"
    )
    env = {**os.environ, "NT_NATIVE_DISABLE": "1"}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True,
                         check=True, timeout=120).stdout
    found = _histograms(out)
    assert found[("indicators", "sma", "numpy")]["count"] == 4
    assert found[("indicators", "sma", "numpy")]["sum"] > 0
    assert not any(impl == "c" for _, _, impl in found)
    assert 'nt_native_kernel_compiled{kernel="indicators"} 0.0' in out
