"""``backtest.compare`` lists a strategy without data of its own (news_sentiment with no article
about the symbol in the window) as skipped with the reason, not as a ranked run with no trades;
with articles it is ranked like any other. Through every frontend, and the CLI table at 80 columns."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from neural_trader.domain.market import Bars
from neural_trader.host import Host
from neural_trader.testing import call_everywhere
from neural_trader_plugins.news import store
from neural_trader_plugins.news.articles import Article
from neural_trader_plugins.news.strategy import NewsSentiment

WINDOW = {"symbol": "SPY", "provider": "synthetic", "start": "2023-01-02", "end": "2023-06-30"}
STORE_SOME = "news.fetch or news.collect stores some"


def save_spy_news(host: Host, days: list[tuple[int, int, float]], symbol: str = "SPY") -> None:
    store.save(host.services.storage, [store.Scored(
        article=Article.create(title=f"{symbol} item {k}", url=f"https://x.example/{symbol}/{k}", source="wire",
                               published_at=dt.datetime(2023, m, d, 14, tzinfo=dt.UTC), provider="rss",
                               symbols=[symbol]),
        score=s, label="x", model="vader_finance") for k, (m, d, s) in enumerate(days)])


def ranked(out: dict[str, Any]) -> set[str]:
    return {r["strategy"] for r in out["rows"]}


def test_without_articles_news_sentiment_is_skipped_with_the_reason(nt_host: Host) -> None:
    out = nt_host.call("backtest.compare", {**WINDOW, "strategies": ["sma_crossover", "news_sentiment"]})
    assert ranked(out) == {"sma_crossover"}
    [skip] = out["skipped"]
    assert skip["strategy"] == "news_sentiment"
    assert skip["reason"] == f"no stored article about SPY from 2023-01-02 to 2023-06-30; {STORE_SOME}"
    # Nothing was stored for it: the only stored run is the ranked one.
    stored = nt_host.call("backtest.list", {})["runs"]
    assert [r["strategy"] for r in stored] == ["sma_crossover"]


def test_the_default_selection_skips_it_too_and_still_ranks_every_other_strategy(nt_host: Host) -> None:
    out = nt_host.call("backtest.compare", WINDOW)
    skipped = {s["strategy"]: s["reason"] for s in out["skipped"]}
    assert STORE_SOME in skipped["news_sentiment"]
    assert "news_sentiment" not in ranked(out) and {"sma_crossover", "momentum"} <= ranked(out)
    assert ranked(out) | set(skipped) == set(nt_host.registry("strategies").names())


def test_articles_about_another_symbol_or_outside_the_window_do_not_count(nt_host: Host) -> None:
    save_spy_news(nt_host, [(2, 1, 0.6), (3, 1, -0.6)], symbol="QQQ")
    save_spy_news(nt_host, [(9, 1, 0.6)])  # SPY, but months after the window (and its lookback)
    out = nt_host.call("backtest.compare", {**WINDOW, "strategies": ["news_sentiment", "momentum"]})
    assert ranked(out) == {"momentum"}
    assert [s["strategy"] for s in out["skipped"]] == ["news_sentiment"]


async def test_with_articles_it_is_ranked_from_every_frontend(nt_host: Host, nt_cli: Any, nt_mcp: Any,
                                                              nt_rest: Any) -> None:
    # Bullish in February, bearish in May (as in tests/news/test_strategy.py): one long, one short.
    save_spy_news(nt_host, [(2, 1, 0.6), (2, 3, 0.6), (2, 7, 0.6), (5, 2, -0.6), (5, 4, -0.6)])
    params = {**WINDOW, "strategies": ["news_sentiment", "sma_crossover"], "config": {"allow_short": True}}
    out = await call_everywhere("backtest.compare", params, cli=nt_cli, mcp=nt_mcp, rest=nt_rest)
    assert ranked(out) == {"news_sentiment", "sma_crossover"} and out["skipped"] == []
    [row] = [r for r in out["rows"] if r["strategy"] == "news_sentiment"]
    assert row["n_trades"] >= 1
    # The ranked row is the same run backtest.run makes with the same request.
    run = await nt_host.acall("backtest.run", {**WINDOW, "strategy": "news_sentiment",
                                               "config": {"allow_short": True}})
    assert run["run_id"] == row["run_id"] and [t["side"] for t in run["trades"]] == ["long", "short"]


async def test_skipped_is_the_same_through_every_frontend(nt_host: Host, nt_cli: Any, nt_mcp: Any,
                                                          nt_rest: Any) -> None:
    out = await call_everywhere("backtest.compare", {**WINDOW, "strategies": ["news_sentiment", "momentum"]},
                                cli=nt_cli, mcp=nt_mcp, rest=nt_rest)
    assert [s["strategy"] for s in out["skipped"]] == ["news_sentiment"] and ranked(out) == {"momentum"}


def test_the_cli_table_names_the_skipped_strategy_and_why_at_80_columns(nt_cli: Any,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    done = nt_cli.invoke("backtest", "compare", "--symbol", "SPY", "--provider", "synthetic", "--start",
                         "2023-01-02", "--end", "2023-06-30", "--strategies", "sma_crossover,news_sentiment")
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    tail = "\n".join(lines[lines.index("skipped"):])
    assert "news_sentiment" in tail and "no stored article about SPY" in tail
    assert " ".join(tail.split()).count(STORE_SOME) == 1  # the reason may wrap, but is all there
    assert not any(line.startswith("news_sentiment") for line in lines[:lines.index("skipped")])


def test_missing_data_is_none_once_one_bar_sees_an_article(nt_host: Host, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    found = nt_host.registry("strategies").get("news_sentiment")
    assert isinstance(found, NewsSentiment)
    first = dt.datetime(2023, 6, 1, tzinfo=dt.UTC)
    ts = np.array([int((first + dt.timedelta(days=k)).timestamp()) * 10**9 for k in range(10)], dtype=np.int64)
    close = np.linspace(100, 110, 10)
    bars = Bars.from_arrays(symbol="SPY", timeframe="1d", provider="test", ts=ts, open=close, high=close + 1,
                            low=close - 1, close=close)
    params = found.default_params()
    assert found.missing_data(bars, params) == f"no stored article about SPY from 2023-06-01 to 2023-06-10; {STORE_SOME}"
    save_spy_news(nt_host, [(6, 10, 0.1)])  # 14:00 on the last bar's day: seen at its close only
    assert found.missing_data(bars, params) is None
    monkeypatch.setenv("NT_RSS_DIR", str(tmp_path))  # an empty folder
    assert found.missing_data(bars, found.make_params({"articles": "feeds"})) == (
        "no article about SPY from 2023-06-01 to 2023-06-10 in the RSS/Atom folder (NT_RSS_DIR)")
