"""The odds-source operations on the football-data files (tests/data): events and odds as the CSV
rows hold them, opening -> closing movement, arbitrage held to the existing pure-Python
``find_arbitrage`` and to hand-computed stakes, market depth, provider comparison, and bad input
naming the field; one call through every frontend."""

from __future__ import annotations

import csv
from decimal import Decimal
from typing import Any

import pytest

from neural_trader.errors import NtNotFound, NtUserError, NtValidationError
from neural_trader.host import Host
from neural_trader.testing import call_everywhere
from neural_trader_plugins.sports.arbitrage import MarketQuotes, find_arbitrage
from neural_trader_plugins.sports.compare_ops import team_key

from .conftest import DATA

EVENT = "E0-20230811-burnley-man-city"
SEASON = {"start": "2023-08-01T00:00:00Z", "end": "2024-06-01T00:00:00Z"}


def _row(home: str, away: str) -> dict[str, str]:
    with (DATA / "football-data_E0_2324.csv").open(encoding="utf-8-sig") as f:
        return next(r for r in csv.DictReader(f) if r["HomeTeam"] == home and r["AwayTeam"] == away)


def test_list_names_the_league_and_both_sources(nt_host: Host) -> None:
    got = nt_host.call("sports.list", {})
    assert [s["key"] for s in got["sports"]] == ["soccer_epl"] and "760 matches" in got["sports"][0]["description"]
    assert {s["name"] for s in got["sources"]} == {"football_data", "oddsapi"}


def test_empty_folder_explains_itself(nt_host: Host, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("NT_FOOTBALL_DATA_DIR", str(tmp_path))
    got = nt_host.call("sports.events", {"sport": "soccer_epl"})
    assert got["events"] == [] and "NT_FOOTBALL_DATA_DIR" in got["note"] and str(tmp_path) not in got["note"]


def test_event_odds_are_the_csv_columns(nt_host: Host) -> None:
    row = _row("Burnley", "Man City")
    closing = nt_host.call("sports.event_odds", {"sport": "soccer_epl", "event": EVENT, "markets": ["h2h", "totals"]})
    (event,) = closing["events"]
    assert event["commence_time"] == "2023-08-11T19:00:00Z"          # 20:00 UK summer time
    assert (event["home_score"], event["away_score"]) == (0, 3)
    books = {b["key"]: b for b in event["bookmakers"]}
    ps = {p["outcome"]: p["decimal"] for p in books["pinnacle"]["markets"][0]["prices"]}
    assert ps == {"Burnley": float(row["PSCH"]), "Draw": float(row["PSCD"]), "Man City": float(row["PSCA"])}
    assert books["market_max"]["aggregate"] and not books["pinnacle"]["aggregate"]
    totals = {p["outcome"]: p for p in books["pinnacle"]["markets"][1]["prices"]}
    assert totals["Over"]["decimal"] == float(row["PC>2.5"]) and totals["Over"]["point"] == 2.5
    opening = nt_host.call("sports.event_odds", {"sport": "soccer_epl", "event": EVENT, "stage": "opening",
                                                 "bookmakers": ["pinnacle"], "odds_format": "american"})
    prices = opening["events"][0]["bookmakers"][0]["markets"][0]["prices"]
    assert prices[0]["decimal"] == float(row["PSH"]) and prices[0]["price"] == pytest.approx((float(row["PSH"]) - 1) * 100)


def test_movement_goes_from_opening_to_closing(nt_host: Host) -> None:
    row = _row("Burnley", "Man City")
    got = nt_host.call("odds.movement", {"sport": "soccer_epl", "event": EVENT, "bookmaker": "pinnacle"})
    burnley = got["lines"][0]
    assert burnley["outcome"] == "Burnley" and [p["stage"] for p in burnley["points"]] == ["opening", "closing"]
    assert (burnley["first"], burnley["last"]) == (float(row["PSH"]), float(row["PSCH"]))
    assert burnley["implied_change"] == pytest.approx(1 / float(row["PSCH"]) - 1 / float(row["PSH"]))


def test_arbitrage_over_the_season_agrees_with_find_arbitrage(nt_host: Host) -> None:
    got = nt_host.call("sports.arbitrage", {"sport": "soccer_epl", **SEASON, "top": 50})
    assert got["markets_scanned"] == 380 and got["arbitrages"] == len(got["opportunities"]) >= 1
    for arb in got["opportunities"]:
        event = nt_host.call("sports.event_odds", {"sport": "soccer_epl", "event": arb["event"]})["events"][0]
        outcomes = tuple(p["outcome"] for p in event["bookmakers"][0]["markets"][0]["prices"])
        quotes = MarketQuotes(event=arb["event"], market="h2h", line=None, outcomes=outcomes, odds={
            b["key"]: tuple(p["decimal"] for p in b["markets"][0]["prices"])
            for b in event["bookmakers"] if not b["aggregate"]})
        expected = find_arbitrage(quotes, total_stake=100.0)
        assert arb["booksum"] == pytest.approx(expected.booksum, abs=1e-15)
        assert [leg["odds"] for leg in arb["legs"]] == list(expected.best_odds)
        assert [Decimal(leg["stake"]) for leg in arb["legs"]] == [Decimal(repr(s)).quantize(Decimal("0.01"))
                                                                  for s in expected.stakes]
        assert Decimal(arb["payout"]) == min(Decimal(leg["payout"]) for leg in arb["legs"])
        assert Decimal(arb["profit"]) == Decimal(arb["payout"]) - Decimal(arb["total_stake"])


def test_inline_arbitrage_by_hand(nt_host: Host) -> None:
    # Best odds 2.1 (x) and 2.05 (y): booksum 1/2.1 + 1/2.05 = 0.963995; stakes 100 * (1/o) / booksum.
    got = nt_host.call("sports.arbitrage", {"quotes": [
        {"event": "A v B", "bookmaker": "x", "outcome": "A", "odds": 2.1},
        {"event": "A v B", "bookmaker": "x", "outcome": "B", "odds": 1.7},
        {"event": "A v B", "bookmaker": "y", "outcome": "A", "odds": 1.8},
        {"event": "A v B", "bookmaker": "y", "outcome": "B", "odds": 2.05}]})
    (arb,) = got["opportunities"]
    booksum = 1 / 2.1 + 1 / 2.05
    assert arb["booksum"] == pytest.approx(booksum, abs=1e-15)
    assert [(leg["bookmaker"], leg["stake"]) for leg in arb["legs"]] == [("x", "49.40"), ("y", "50.60")]
    assert [leg["payout"] for leg in arb["legs"]] == ["103.74", "103.73"] and arb["profit"] == "3.73"


@pytest.mark.parametrize(("quotes", "words"), [
    ([{"event": "e", "market": "totals", "line": 2.5, "bookmaker": "x", "outcome": "Over", "odds": 2.2},
      {"event": "e", "market": "totals", "line": 3.0, "bookmaker": "y", "outcome": "Under", "odds": 2.2}],
     r"quotes\[0\]: totals .* only the outcome 'Over'.*mix"),
    ([{"event": "e", "market": "totals", "bookmaker": "x", "outcome": "Over", "odds": 2.2}], r"quotes\[0\]\.line is required"),
    ([{"event": "e", "market": "h2h", "line": 1.5, "bookmaker": "x", "outcome": "A", "odds": 2.2}], r"quotes\[0\]\.line"),
])
def test_arbitrage_never_mixes_lines(nt_host: Host, quotes: list[dict[str, Any]], words: str) -> None:
    with pytest.raises(NtUserError, match=words):
        nt_host.call("sports.arbitrage", {"quotes": quotes})


def test_spread_lines_are_separate_markets() -> None:
    from neural_trader_plugins.sports.events import Market, Price, market_lines

    market = Market(key="spreads", outcomes=(Price(name="H", price=1.9, point=-1.5), Price(name="A", price=1.9, point=1.5),
                                             Price(name="H", price=2.4, point=-2.5), Price(name="A", price=1.6, point=2.5)))
    lines = market_lines(market, "H")
    assert sorted(lines) == [-2.5, -1.5] and [p.price for p in lines[-2.5]] == [2.4, 1.6]


def test_depth_says_it_is_not_there_and_gives_what_is(nt_host: Host) -> None:
    row = _row("Burnley", "Man City")
    got = nt_host.call("sports.market_depth", {"sport": "soccer_epl", "event": EVENT})
    assert got["depth_available"] is False and "neither" in got["note"]
    home = got["outcomes"][0]
    books = ("B365", "BW", "IW", "PS", "WH", "VC")
    prices = {b: float(row[f"{b}CH"]) for b in books}
    assert got["bookmakers"] == home["books"] == 6
    assert home["best"] == max(prices.values()) and home["worst"] == min(prices.values())


def test_compare_providers_ranks_margins(nt_host: Host) -> None:
    got = nt_host.call("sports.compare_providers", {"sport": "soccer_epl", **SEASON})
    assert got["compared_events"] == 380
    ps = next(p for p in got["providers"] if p["bookmaker"] == "pinnacle")
    rows = list(csv.DictReader((DATA / "football-data_E0_2324.csv").open(encoding="utf-8-sig")))
    margins = [1 - 1 / sum(1 / float(r[c]) for c in ("PSCH", "PSCD", "PSCA")) for r in rows]
    assert ps["mean_margin"] == pytest.approx(sum(margins) / len(margins), rel=1e-12) and ps["coverage"] == 1.0
    assert got["providers"][0]["mean_margin"] <= got["providers"][-1]["mean_margin"]


def test_team_names_match_across_sources() -> None:
    assert team_key("Man City") == team_key("Manchester City") == "manchester city"
    assert team_key("Nott'm Forest") == team_key("Nottingham Forest")
    assert team_key("Brighton & Hove Albion") == team_key("Brighton")
    assert team_key("Luton") == team_key("Luton Town FC")


@pytest.mark.parametrize(("name", "params", "error", "words"), [
    ("sports.event_odds", {"sport": "soccer_epl", "event": "E0-20230811-nobody-nowhere"}, NtNotFound, "event"),
    ("sports.odds", {"sport": "soccer_epl", "stage": "live"}, NtUserError, "stage"),
    ("sports.odds", {"sport": "soccer_epl", "source": "nosuch"}, NtNotFound, "source"),
    ("sports.odds", {"sport": "Soccer EPL"}, NtValidationError, "sport"),
    ("sports.events", {"sport": "soccer_epl", "start": "2024-01-02T00:00:00Z", "end": "2024-01-01T00:00:00Z"},
     NtUserError, "start"),
    ("sports.arbitrage", {"quotes": [{"event": "e", "bookmaker": "x", "outcome": "A", "odds": 1.0}]},
     NtValidationError, "odds"),
    ("sports.arbitrage", {}, NtUserError, "sport is missing"),
    ("odds.movement", {"sport": "soccer_epl", "event": "abc", "source": "oddsapi"}, NtNotFound, "fetch them first"),
])
def test_bad_input_names_the_field(nt_host: Host, name: str, params: dict[str, Any], error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        nt_host.call(name, params)


def test_unknown_sport_on_the_files_is_an_error(nt_host: Host) -> None:
    with pytest.raises(NtUserError, match="sport"):
        nt_host.call("sports.odds", {"sport": "soccer_nowhere"})


async def test_the_same_answer_from_every_frontend(nt_host: Host, nt_cli: Any, nt_mcp: Any, nt_rest: Any) -> None:
    for name, params in (("sports.arbitrage", {"sport": "soccer_epl", **SEASON, "top": 2}),
                         ("odds.movement", {"sport": "soccer_epl", "event": EVENT, "bookmaker": "pinnacle"})):
        await call_everywhere(name, params, cli=nt_cli, mcp=nt_mcp, rest=nt_rest)


def test_with_nothing_configured_the_shipped_seasons_are_read(nt_host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    from neural_trader_plugins.sports.sources import EMBEDDED_DIR

    if not any(EMBEDDED_DIR.glob("*.csv")):
        pytest.skip("this checkout ships no football-data seasons in the package")
    monkeypatch.delenv("NT_FOOTBALL_DATA_DIR")
    got = nt_host.call("sports.event_odds", {"sport": "soccer_epl", "event": EVENT})
    assert got["events"][0]["home_team"] == "Burnley"


def test_lines_that_can_push_carry_a_caveat(nt_host: Host) -> None:
    quotes = [{"event": "e", "market": "totals", "line": line, "bookmaker": b, "outcome": o, "odds": 2.1}
              for line in (2.5, 3.0, 2.25) for b, o in (("x", "Over"), ("y", "Under"))]
    got = nt_host.call("sports.arbitrage", {"quotes": quotes})
    caveats = {a["line"]: a["caveat"] for a in got["opportunities"]}
    assert caveats[2.5] == "" and "refunded" in caveats[3.0] and "quarter" in caveats[2.25]
