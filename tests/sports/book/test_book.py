"""The paper sportsbook through the host (SQLite and the real PostgreSQL): validate-only by default,
idempotent placing, limits naming the field, settlement from the football-data results with
closing-line value, the account's record recomputed by hand, real money refused, and every bet in
the audit log that audit.verify checks."""

from __future__ import annotations

import csv
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from neural_trader.errors import (
    NtConflict,
    NtForbidden,
    NtNotFound,
    NtUnavailable,
    NtUserError,
    NtValidationError,
)
from neural_trader.host import Host
from neural_trader.testing import HostFactory, call_everywhere

# Real 2023/24 matches: Arsenal 2-1 Everton and Brentford 2-4 Newcastle (19 May), Burnley 0-3 Man City
# (11 Aug, the first match).
ARSENAL = "E0-20240519-arsenal-everton"
BRENTFORD = "E0-20240519-brentford-newcastle"
BURNLEY = "E0-20230811-burnley-man-city"


def closing(home: str, column: str) -> D:
    """A closing price straight from the CSV (Pinnacle: PSCH/PSCD/PSCA, PC>2.5)."""
    path = Path(__file__).resolve().parents[2] / "data" / "football-data_E0_2324.csv"
    with path.open(encoding="utf-8-sig", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["HomeTeam"] == home and r["Date"] == "19/05/2024")
    return D(row[column])


def leg(event: str, selection: str, odds: str, **extra: Any) -> dict[str, Any]:
    return {"event_id": event, "selection": selection, "odds": float(odds), **extra}


def place(host: Host, coid: str, legs: list[dict[str, Any]], stake: str = "10", **extra: Any) -> dict[str, Any]:
    return host.call("sports.bet", {"legs": legs, "stake": stake, "client_bet_id": coid, "validate_only": False,
                                    "confirm": True, **extra})


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def nt_host(request: pytest.FixtureRequest, nt_host_factory: HostFactory, monkeypatch: pytest.MonkeyPatch) -> Host:
    for name in ("MAX_STAKE", "MAX_EVENT_EXPOSURE", "MAX_SPORT_EXPOSURE", "MAX_DAILY_STAKE", "BANKROLL"):
        monkeypatch.delenv(f"NT_SPORTSBOOK_{name}", raising=False)
    monkeypatch.delenv("NT_ENABLE_REAL_MONEY_BETS", raising=False)
    overrides = {}
    if request.param == "postgresql":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    return nt_host_factory(**overrides)


def test_validate_only_is_the_default_and_stores_nothing(nt_host: Host) -> None:
    got = nt_host.call("sports.bet", {"legs": [leg(ARSENAL, "home", "1.12")], "stake": "10"})
    assert got["validate_only"] is True and got["bet"]["status"] == "validated"
    assert D(got["bet"]["potential_return"]) == D("11.20")
    assert nt_host.call("sports.bets", {})["bets"] == []
    assert nt_host.call("audit.verify", {})["records"] == 0
    with pytest.raises(NtUserError, match="confirm"):
        nt_host.call("sports.bet", {"legs": [leg(ARSENAL, "home", "1.12")], "stake": "10", "client_bet_id": "b-1",
                                    "validate_only": False})
    with pytest.raises(NtUserError, match="client_bet_id"):
        nt_host.call("sports.bet", {"legs": [leg(ARSENAL, "home", "1.12")], "stake": "10", "validate_only": False,
                                    "confirm": True})


def test_placing_is_idempotent_by_client_bet_id(nt_host: Host) -> None:
    first = place(nt_host, "b-1", [leg(ARSENAL, "home", "1.12")])
    assert first["bet"]["status"] == "open" and D(first["bet"]["stake"]) == D(10)
    again = place(nt_host, "b-1", [leg(ARSENAL, "home", "1.12")], stake="10.00")
    assert again == first
    with pytest.raises(NtConflict, match="b-1"):
        place(nt_host, "b-1", [leg(ARSENAL, "home", "1.13")])
    assert len(nt_host.call("sports.bets", {})["bets"]) == 1
    verified = nt_host.call("audit.verify", {})
    assert verified["ok"] and verified["records"] == 1


def test_limits_name_the_field(nt_host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NT_SPORTSBOOK_MAX_STAKE", "50")
    monkeypatch.setenv("NT_SPORTSBOOK_MAX_EVENT_EXPOSURE", "60")
    monkeypatch.setenv("NT_SPORTSBOOK_MAX_SPORT_EXPOSURE", "100")
    monkeypatch.setenv("NT_SPORTSBOOK_MAX_DAILY_STAKE", "120")
    with pytest.raises(NtUserError, match="max_stake 50") as too_big:
        nt_host.call("sports.bet", {"legs": [leg(ARSENAL, "home", "1.12")], "stake": "50.01"})
    assert too_big.value.details["field"] == "stake"
    place(nt_host, "b-1", [leg(ARSENAL, "home", "1.12")], stake="40")
    with pytest.raises(NtUserError, match="max_event_exposure 60"):
        place(nt_host, "b-2", [leg(ARSENAL, "draw", "10")], stake="25")
    place(nt_host, "b-2", [leg(BRENTFORD, "away", "1.6")], stake="45")
    with pytest.raises(NtUserError, match="max_sport_exposure 100"):
        place(nt_host, "b-3", [leg(BURNLEY, "away", "1.33")], stake="20")
    place(nt_host, "b-3", [leg("nba:2024-01-01:x:y", "home", "1.9", sport="basketball_nba")], stake="30")
    with pytest.raises(NtUserError, match="max_daily_stake 120"):
        place(nt_host, "b-4", [leg("nba:2024-01-02:x:y", "home", "1.9", sport="basketball_nba")], stake="10")
    monkeypatch.setenv("NT_SPORTSBOOK_MAX_DAILY_STAKE", "10000")
    monkeypatch.setenv("NT_SPORTSBOOK_BANKROLL", "120")
    with pytest.raises(NtUserError, match="balance 5"):
        place(nt_host, "b-5", [leg("nba:2024-01-03:x:y", "home", "1.9", sport="basketball_nba")], stake="10")
    portfolio = nt_host.call("sports.portfolio", {})
    assert D(portfolio["open_stakes"]) == D(115) and D(portfolio["balance"]) == D(5) and portfolio["open_bets"] == 3
    assert {e["key"]: D(e["open_stake"]) for e in portfolio["by_sport"]} == {"soccer_epl": D(85), "basketball_nba": D(30)}


@pytest.mark.parametrize(("legs", "field"), [
    ([leg(ARSENAL, "home", "1")], "$.legs[0].odds"),
    ([leg(ARSENAL, "over", "1.9")], "legs[0].selection"),
    ([leg(ARSENAL, "over", "1.9", market="totals")], "legs[0].line"),
    ([leg(ARSENAL, "home", "1.9"), leg(ARSENAL, "away", "9")], "legs"),
])
def test_bad_bets_name_the_field(nt_host: Host, legs: list[dict[str, Any]], field: str) -> None:
    with pytest.raises((NtUserError, NtValidationError), match=field.replace("$", r"\$").replace("[", r"\[")):
        nt_host.call("sports.bet", {"legs": legs, "stake": "10"})
    with pytest.raises(NtUserError, match="stake"):
        nt_host.call("sports.bet", {"legs": [leg(ARSENAL, "home", "1.5")], "stake": "0.001"})


def test_real_money_is_refused(nt_host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    request = {"legs": [leg(ARSENAL, "home", "1.12")], "stake": "10", "real_money": True}
    with pytest.raises(NtForbidden, match="NT_ENABLE_REAL_MONEY_BETS"):
        nt_host.call("sports.bet", request)
    monkeypatch.setenv("NT_ENABLE_REAL_MONEY_BETS", "1")
    with pytest.raises(NtUnavailable, match="no installed sports provider"):
        nt_host.call("sports.bet", request)


def test_settlement_from_the_season_and_the_record(nt_host: Host) -> None:
    place(nt_host, "single-won", [leg(ARSENAL, "home", "1.15")], stake="20")           # 2-1: won
    place(nt_host, "single-lost", [leg(BRENTFORD, "home", "4.5")], stake="10")         # 2-4: lost
    place(nt_host, "over", [leg(BRENTFORD, "over", "1.5", market="totals", line=2.5)], stake="10")   # 6 goals
    place(nt_host, "acca", [leg(ARSENAL, "home", "1.12"), leg(BURNLEY, "away", "1.4")], stake="5")    # both won
    place(nt_host, "acca-lost", [leg(ARSENAL, "draw", "10"), leg(BURNLEY, "away", "1.4")], stake="5")
    place(nt_host, "elsewhere", [leg("nba:2024-01-01:x:y", "home", "1.9", sport="basketball_nba")], stake="5")
    settled = nt_host.call("sports.settle", {"season": "E0_2324"})
    by = {b["client_bet_id"]: b for b in settled["bets"]}
    assert set(by) == {"single-won", "single-lost", "over", "acca", "acca-lost"}
    assert (by["single-won"]["status"], D(by["single-won"]["payout"])) == ("won", D("23.00"))
    assert by["single-won"]["legs"][0]["score"] == "2-1"
    assert D(by["single-won"]["legs"][0]["closing_odds"]) == closing("Arsenal", "PSCH")
    assert D(by["over"]["legs"][0]["closing_odds"]) == closing("Brentford", "PC>2.5")
    assert (by["single-lost"]["status"], D(by["single-lost"]["payout"])) == ("lost", D(0))
    assert by["over"]["status"] == "won" and D(by["over"]["payout"]) == D(15)
    assert by["acca"]["status"] == "won" and D(by["acca"]["payout"]) == D("7.84")   # 5 x 1.12 x 1.4
    assert by["acca-lost"]["status"] == "lost"
    assert nt_host.call("sports.settle", {"season": "E0_2324"}) == settled         # again: nothing changes
    record = nt_host.call("sports.performance", {})
    assert (record["n_settled"], record["won"], record["lost"]) == (5, 3, 2)
    staked, returned = D(20 + 10 + 10 + 5 + 5), D("23.00") + D(15) + D("7.84")
    assert D(record["staked"]) == staked and D(record["profit"]) == returned - staked
    assert record["roi"] == pytest.approx(float((returned - staked) / staked))
    assert record["hit_rate"] == pytest.approx(3 / 5)
    clv = [1.15 / float(closing("Arsenal", "PSCH")) - 1, 4.5 / float(closing("Brentford", "PSCH")) - 1,
           1.5 / float(closing("Brentford", "PC>2.5")) - 1]
    assert record["n_clv"] == 3 and record["mean_clv"] == pytest.approx(sum(clv) / 3, rel=1e-12)
    # settled in one call: the bankroll path runs in placing order, 1000 +3 -10 +5 +2.84 -5
    assert D(record["bankroll"]) == D(1000) + returned - staked
    assert D(record["max_drawdown"]) == D(10) and record["max_drawdown_fraction"] == pytest.approx(10 / 1003)
    verified = nt_host.call("audit.verify", {})
    assert verified["ok"] and verified["records"] == 6 + 5    # 6 bets placed, 5 settled


def test_a_result_given_inline_settles_and_void_lines_refund(nt_host: Host) -> None:
    place(nt_host, "nba", [leg("nba:2024-01-01:x:y", "home", "1.9", sport="basketball_nba")], stake="10")
    place(nt_host, "push", [leg("hockey:1", "over", "1.9", market="totals", line=5, sport="icehockey_nhl")],
          stake="10")
    got = nt_host.call("sports.settle", {"season": None, "results": [
        {"event_id": "nba:2024-01-01:x:y", "home_goals": 99, "away_goals": 101},
        {"event_id": "hockey:1", "home_goals": 3, "away_goals": 2}]})
    by = {b["client_bet_id"]: b for b in got["bets"]}
    assert by["nba"]["status"] == "lost" and by["push"]["status"] == "void" and D(by["push"]["payout"]) == D(10)
    record = nt_host.call("sports.performance", {})
    assert record["void"] == 1 and D(record["staked"]) == D(10) and D(record["profit"]) == D(-10)
    assert D(record["max_drawdown"]) == D(10) and record["max_drawdown_fraction"] == pytest.approx(0.01)


async def test_the_book_answers_the_same_from_every_frontend(nt_host: Host, nt_cli: Any, nt_mcp: Any,
                                                             nt_rest: Any) -> None:
    request = {"legs": [leg(ARSENAL, "home", "1.12")], "stake": "10", "client_bet_id": "every-1",
               "validate_only": False, "confirm": True}
    placed = await call_everywhere("sports.bet", request, cli=nt_cli, mcp=nt_mcp, rest=nt_rest)
    assert placed["bet"]["status"] == "open"
    settled = await call_everywhere("sports.settle", {"season": "E0_2324"}, cli=nt_cli, mcp=nt_mcp, rest=nt_rest)
    assert settled["bets"][0]["status"] == "won"


def test_an_event_from_the_odds_source_is_bet_and_settled_by_the_same_id(nt_host: Host) -> None:
    events = nt_host.call("sports.events", {"sport": "soccer_epl", "start": "2024-05-19T00:00:00Z",
                                            "end": "2024-05-20T00:00:00Z"})["events"]
    assert ARSENAL in {e["id"] for e in events}
    leg = {"event_id": ARSENAL, "sport": "soccer_epl", "market": "h2h", "selection": "home", "odds": 1.12}
    nt_host.call("sports.bet", {"legs": [leg], "stake": "10", "client_bet_id": "same-id", "validate_only": False,
                                "confirm": True})
    settled = nt_host.call("sports.settle", {"season": "E0_2324"})
    assert [b["status"] for b in settled["bets"] if b["client_bet_id"] == "same-id"] == ["won"]


def test_without_the_shipped_seasons_a_season_names_the_folder_to_fill(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    from neural_trader_plugins.sports.book import seasons

    monkeypatch.setattr(seasons, "_DATA", tmp_path / "absent")  # as in a wheel, which carries no CSVs
    assert seasons.available() == []
    with pytest.raises(NtNotFound) as err:
        seasons.load_season("E0_2324")
    assert "save football-data.co.uk's file as E0_2324.csv in NT_FOOTBALL_DATA_DIR" in err.value.message


def test_concurrent_placements_of_one_client_bet_id_make_one_bet(nt_host: Host) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def attempt(_: int) -> str:
        try:
            return place(nt_host, "race-1", [leg(ARSENAL, "home", "1.12")])["bet"]["client_bet_id"]
        except NtConflict:
            return "conflict"

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(attempt, range(16)))
    # Each caller sees the one stored bet (same id, same payload): none sees a conflict, none a second bet.
    assert answers == ["race-1"] * 16
    bets = [b for b in nt_host.call("sports.bets", {})["bets"] if b["client_bet_id"] == "race-1"]
    assert len(bets) == 1
