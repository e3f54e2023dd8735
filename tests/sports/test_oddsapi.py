"""The oddsapi source on recorded answers through the host's HTTP layer: sports, odds (american
prices turned decimal, h2h/spreads/totals lines), quota headers tracked and shown, the documented
error codes as clear errors, an empty answer as no events, and the key never in an answer."""

from __future__ import annotations

import json

import httpx
import pytest

from neural_trader.errors import NtRateLimited, NtUserError
from neural_trader.host import Host
from neural_trader.services.http import HttpService, NtProviderAuthError
from neural_trader_plugins.sports import oddsapi
from neural_trader_plugins.sports.oddsapi import OddsApiQuotaExhausted

from .conftest import FIXTURES, Replay, recorded

KEY = "secret-odds-key-123"


@pytest.fixture
def replay(nt_host: Host, monkeypatch: pytest.MonkeyPatch) -> Replay:
    monkeypatch.setenv("NT_ODDS_API_KEY", KEY)
    answers = Replay()

    async def no_sleep(_seconds: float) -> None:
        return None

    nt_host.services._http = HttpService(nt_host.settings, transport=httpx.MockTransport(answers), sleep=no_sleep)
    return answers


def test_every_fixture_has_its_provenance() -> None:
    manifest = json.loads((FIXTURES / "MANIFEST.sports.json").read_text())
    assert {e["file"] for e in manifest} == {f"oddsapi/{p.name}" for p in (FIXTURES / "oddsapi").iterdir()}
    assert all(e["provenance"] in ("verbatim", "synthesized-from-documented-shape") for e in manifest)


def test_sports_list_shows_the_quota(nt_host: Host, replay: Replay) -> None:
    replay.answers = [recorded("sports.json")]
    got = nt_host.call("sports.list", {"source": "oddsapi"})
    assert [s["key"] for s in got["sports"]][:3] == ["americanfootball_nfl", "americanfootball_nfl_super_bowl_winner",
                                                     "basketball_nba"]
    assert got["quota"] == {"remaining": 498, "used": 2, "last": 0}
    by = {s["name"]: s for s in got["sources"]}
    assert by["oddsapi"]["configured"] and by["oddsapi"]["quota"]["remaining"] == 498
    (request,) = replay.requests
    assert request.url.path == "/v4/sports" and request.url.params["apiKey"] == KEY
    assert KEY not in json.dumps(got)


def test_american_odds_become_decimal_and_spread_lines_stay_apart(nt_host: Host, replay: Replay) -> None:
    replay.answers = [recorded("odds_basketball_nba_american.json")]
    got = nt_host.call("sports.odds", {"source": "oddsapi", "sport": "basketball_nba", "regions": ["us"],
                                       "markets": ["h2h", "spreads"], "odds_format": "american"})
    params = replay.requests[0].url.params
    assert params["oddsFormat"] == "american" and params["markets"] == "h2h,spreads" and params["regions"] == "us"
    (event,) = got["events"]
    dk = next(b for b in event["bookmakers"] if b["key"] == "draftkings")
    h2h = {p["outcome"]: p for p in dk["markets"][0]["prices"]}
    assert h2h["Boston Celtics"]["decimal"] == pytest.approx(1 + 100 / 280)    # -280
    assert h2h["Miami Heat"]["decimal"] == pytest.approx(3.3)                 # +230
    assert h2h["Miami Heat"]["price"] == pytest.approx(230)
    assert got["recorded"] == 8 and got["quota"]["last"] == 2


def test_empty_answer_is_no_events_not_an_error(nt_host: Host, replay: Replay) -> None:
    replay.answers = [recorded("odds_empty.json")]
    got = nt_host.call("sports.odds", {"source": "oddsapi", "sport": "soccer_epl"})
    assert got["events"] == [] and got["quota"]["last"] == 0 and "costs no credits" in got["note"]


@pytest.mark.parametrize(("fixture", "error", "words"), [
    ("error_401_invalid_key.json", NtProviderAuthError, "NT_ODDS_API_KEY"),
    ("error_401_out_of_credits.json", OddsApiQuotaExhausted, "credits are reset"),
    ("error_429_freq_limit.json", NtRateLimited, "how often"),
    ("error_422_invalid_market.json", NtUserError, "markets"),
])
def test_error_codes_become_clear_errors(nt_host: Host, replay: Replay, fixture: str, error: type,
                                         words: str) -> None:
    replay.answers = [recorded(fixture)]
    with pytest.raises(error, match=words) as caught:
        nt_host.call("sports.odds", {"source": "oddsapi", "sport": "soccer_epl"})
    assert KEY not in str(caught.value)
    if error is OddsApiQuotaExhausted:
        assert len(replay.requests) == 1          # not retried: nothing changes before the reset


def test_without_a_key_it_says_what_to_set(nt_host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NT_ODDS_API_KEY", "ODDS_API_KEY", "NT_ODDSAPI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(NtUserError, match="NT_ODDS_API_KEY"):
        nt_host.call("sports.odds", {"source": "oddsapi", "sport": "soccer_epl"})


def test_request_builders_refuse_bad_input() -> None:
    with pytest.raises(NtUserError, match="regions may hold"):
        oddsapi.odds_request(api_key=KEY, sport="soccer_epl", regions=["mars"])
    with pytest.raises(NtUserError, match="markets"):
        oddsapi.odds_request(api_key=KEY, sport="soccer_epl", markets=["player_points"])
    with pytest.raises(NtUserError, match="sport"):
        oddsapi.odds_request(api_key=KEY, sport="Soccer EPL!")
    assert KEY not in repr(oddsapi.odds_request(api_key=KEY, sport="soccer_epl"))


def test_snapshots_make_a_movement(nt_host: Host, replay: Replay) -> None:
    first = recorded("odds_soccer_epl_decimal.json")
    moved = json.loads(first.content)
    moved[0]["bookmakers"][0]["markets"][0]["outcomes"][0]["price"] = 1.12     # Arsenal shortens at Betfair
    replay.answers = [first, httpx.Response(200, headers=first.headers, json=moved)]
    params = {"source": "oddsapi", "sport": "soccer_epl", "markets": ["h2h", "totals"]}
    assert nt_host.call("sports.odds", params)["recorded"] == 10
    nt_host.call("sports.odds", params)
    event = "eb2553d10d63dc912b99f8fd0d675721"
    got = nt_host.call("odds.movement", {"source": "oddsapi", "sport": "soccer_epl", "event": event,
                                         "bookmaker": "betfair_sb_uk"})
    arsenal = next(line for line in got["lines"] if line["outcome"] == "Arsenal")
    assert [p["price"] for p in arsenal["points"]] == [1.15, 1.12]
    assert arsenal["change"] == pytest.approx(-0.03) and arsenal["implied_change"] == pytest.approx(1 / 1.12 - 1 / 1.15)
    draw = next(line for line in got["lines"] if line["outcome"] == "Draw")
    assert [p["price"] for p in draw["points"]] == [7.0, 7.0] and draw["change"] == 0   # first and last seen
    totals = nt_host.call("odds.movement", {"source": "oddsapi", "sport": "soccer_epl", "event": event,
                                            "market": "totals"})
    assert {(line["outcome"], line["point"]) for line in totals["lines"]} == {("Over", 2.5), ("Under", 2.5)}


def test_compare_providers_matches_the_same_match_across_sources(nt_host: Host, replay: Replay) -> None:
    # A constructed Odds API answer for a match the football-data file has (Burnley v Man City,
    # 2023-08-11): Pinnacle 0.10 above the file's closing prices, and a book the file lacks.
    body = [{"id": "abc123", "sport_key": "soccer_epl", "sport_title": "EPL", "commence_time": "2023-08-11T19:00:00Z",
             "home_team": "Burnley", "away_team": "Manchester City", "bookmakers": [
                 {"key": "pinnacle", "title": "Pinnacle", "markets": [{"key": "h2h", "outcomes": [
                     {"name": "Burnley", "price": 9.72}, {"name": "Manchester City", "price": 1.43},
                     {"name": "Draw", "price": 5.91}]}]},
                 {"key": "unibet_eu", "title": "Unibet", "markets": [{"key": "h2h", "outcomes": [
                     {"name": "Burnley", "price": 9.0}, {"name": "Manchester City", "price": 1.36},
                     {"name": "Draw", "price": 5.5}]}]}]}]
    replay.answers = [httpx.Response(200, json=body, headers={"x-requests-remaining": "90", "x-requests-last": "1"})]
    got = nt_host.call("sports.compare_providers", {"sport": "soccer_epl", "sources": ["football_data", "oddsapi"],
                                                    "start": "2023-08-11T00:00:00Z", "end": "2023-08-12T00:00:00Z"})
    assert got["compared_events"] == 1 and [s["events"] for s in got["sources"]] == [1, 1]
    (same,) = got["same_bookmaker"]
    assert same["bookmaker"] == "pinnacle" and same["prices"] == 3      # PSC: 9.62, 5.81, 1.33 in the file
    assert same["mean_abs_difference"] == pytest.approx(0.10) and same["max_abs_difference"] == pytest.approx(0.10)
    providers = {(p["source"], p["bookmaker"]) for p in got["providers"]}
    assert ("oddsapi", "unibet_eu") in providers and ("football_data", "pinnacle") in providers
    best = next(p for p in got["providers"] if p["source"] == "oddsapi" and p["bookmaker"] == "pinnacle")
    assert best["best_share"] == pytest.approx(2 / 3)    # best on the draw and City; BetVictor's 10.5 beats 9.72


def _prices(got: dict) -> set[tuple]:
    return {(b["key"], m["key"], p["outcome"], p["point"], p["decimal"])
            for e in got["events"] for b in e["bookmakers"] for m in b["markets"] for p in m["prices"]}


def test_a_spent_quota_serves_the_stored_prices_labelled(nt_host: Host, replay: Replay) -> None:
    replay.answers = [recorded("odds_soccer_epl_decimal.json"), recorded("error_401_out_of_credits.json")]
    live = nt_host.call("sports.odds", {"source": "oddsapi", "sport": "soccer_epl", "markets": ["h2h", "totals"]})
    assert live["cached_at"] is None
    served = nt_host.call("sports.odds", {"source": "oddsapi", "sport": "soccer_epl", "markets": ["h2h", "totals"]})
    assert served["cached_at"] is not None and served["note"].startswith("CACHED") and "reset" in served["note"]
    assert _prices(served) == _prices(live)
    with pytest.raises(OddsApiQuotaExhausted):            # nothing stored for this sport: the error itself
        nt_host.call("sports.odds", {"source": "oddsapi", "sport": "basketball_nba"})


@pytest.mark.parametrize(("code", "status", "error", "field"), [
    ("UNKNOWN_SPORT", 404, NtUserError, "sport"), ("INVALID_REGION", 422, NtUserError, "regions"),
    ("INVALID_ODDS_FORMAT", 422, NtUserError, "odds_format"), ("MISSING_KEY", 401, NtProviderAuthError, "NT_ODDS_API_KEY"),
])
def test_other_documented_codes_name_the_field(code: str, status: int, error: type, field: str) -> None:
    found = oddsapi.error_for({"message": "refused", "error_code": code}, status)
    assert isinstance(found, error) and field in str(found)
    assert oddsapi.error_for([], 200) is None and oddsapi.error_for({"message": "x"}, 503) is None
