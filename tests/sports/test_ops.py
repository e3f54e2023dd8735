"""The betting-maths operations (odds.convert, odds.implied, odds.margins, sports.kelly) through the
host and all three frontends, held to closed forms and the committed peer references
(tests/data/betting_reference.json: penaltyblog and shin); bad input names the field."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from neural_trader.errors import NtUserError, NtValidationError
from neural_trader.host import Host
from neural_trader.testing import call_everywhere

REFERENCE = json.loads((Path(__file__).resolve().parents[1] / "data" / "betting_reference.json").read_text())


@pytest.mark.parametrize(("value", "fmt", "decimal", "american", "fractional"), [
    ("2.5", "decimal", 2.5, 150.0, "3/2"),
    ("+150", "american", 2.5, 150.0, "3/2"),
    ("-200", "american", 1.5, -200.0, "1/2"),
    ("5/2", "fractional", 3.5, 250.0, "5/2"),
    ("evens", "fractional", 2.0, 100.0, "1/1"),
    ("0.4", "probability", 2.5, 150.0, "3/2"),
])
def test_convert_between_every_format(nt_host: Host, value: str, fmt: str, decimal: float, american: float,
                                      fractional: str) -> None:
    got = nt_host.call("odds.convert", {"value": value, "format": fmt})
    assert got["decimal"] == pytest.approx(decimal) and got["american"] == pytest.approx(american)
    assert got["fractional"] == fractional and got["probability"] == pytest.approx(1 / decimal)
    assert Fraction(got["fractional"]) + 1 == Fraction(decimal).limit_denominator(1000)


def test_implied_matches_penaltyblog_and_shin(nt_host: Host) -> None:
    checked = 0
    for case in REFERENCE["cases"][:12]:
        got = nt_host.call("odds.implied", {"odds": case["odds"]})
        by = {f["method"]: f for f in got["fair"]}
        assert got["booksum"] == pytest.approx(sum(1 / o for o in case["odds"]))
        for method, expected in case["penaltyblog"].items():
            if method in by and expected and "probabilities" in expected:
                assert by[method]["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-6), method
                checked += 1
    assert checked >= 30


def test_margins_rank_the_books(nt_host: Host) -> None:
    got = nt_host.call("odds.margins", {"books": {"a": [1.95, 1.95], "b": [1.9, 2.0], "c": [1.8, 1.9]}})
    assert [b["bookmaker"] for b in got["books"]] == ["a", "b", "c"] and got["lowest"] == "a"
    assert got["books"][0]["margin"] == pytest.approx(1 - 1 / (2 / 1.95))


def test_kelly_single_exclusive_and_independent(nt_host: Host) -> None:
    single = nt_host.call("sports.kelly", {"probabilities": [0.6], "odds": [2.0], "bankroll": 1000})
    assert single["stakes"][0]["stake"] == pytest.approx(0.2) and single["stakes"][0]["amount"] == pytest.approx(200)
    half = nt_host.call("sports.kelly", {"probabilities": [0.6], "odds": [2.0], "fraction": 0.5})
    assert half["stakes"][0]["stake"] == pytest.approx(0.1) and half["stakes"][0]["full_stake"] == pytest.approx(0.2)
    none = nt_host.call("sports.kelly", {"probabilities": [0.4], "odds": [2.0]})
    assert none["stakes"][0]["stake"] == 0 and "no edge" in none["note"]
    # Two independent even-money bets at p = 0.6: f = 5/26 each (closed form, see tests/sports/test_kelly.py).
    two = nt_host.call("sports.kelly", {"kind": "independent", "probabilities": [0.6, 0.6], "odds": [2.0, 2.0]})
    assert [s["stake"] for s in two["stakes"]] == pytest.approx([5 / 26, 5 / 26], abs=1e-6)
    exclusive = nt_host.call("sports.kelly", {"kind": "exclusive", "probabilities": [0.55, 0.28, 0.17],
                                              "odds": [1.9, 3.3, 4.0]})
    assert exclusive["stakes"][0]["stake"] > 0 and exclusive["stakes"][2]["stake"] == 0


async def test_the_same_answer_from_every_frontend(nt_host: Host, nt_cli: Any, nt_mcp: Any, nt_rest: Any) -> None:
    for name, params in (("odds.convert", {"value": "+150", "format": "american"}),
                         ("odds.implied", {"odds": [2.1, 3.4, 3.6], "methods": ["shin"]}),
                         ("sports.kelly", {"probabilities": [0.55], "odds": [2.0]})):
        await call_everywhere(name, params, cli=nt_cli, mcp=nt_mcp, rest=nt_rest)


@pytest.mark.parametrize(("name", "params", "error", "words"), [
    ("odds.convert", {"value": "0.9"}, NtUserError, "decimal odds > 1"),
    ("odds.convert", {"value": "50", "format": "american"}, NtUserError, "american odds"),
    ("odds.convert", {"value": "abc"}, NtUserError, "is not decimal odds"),
    ("odds.implied", {"odds": [2.0]}, NtValidationError, "odds"),
    ("odds.implied", {"odds": [2.0, 0.5]}, NtUserError, "decimal odds > 1"),
    ("odds.margins", {"books": {"a": [2, 2], "b": [2, 2, 2]}}, NtUserError, "same outcomes"),
    ("sports.kelly", {"probabilities": [1.2], "odds": [2.0]}, NtUserError, "probability"),
    ("sports.kelly", {"probabilities": [0.5, 0.5], "odds": [2.0]}, NtUserError, "one price per probability"),
    ("sports.kelly", {"kind": "exclusive", "probabilities": [0.5, 0.3, 0.2], "odds": [2.2, 3.6, 4.5]},
     NtUserError, "Dutch book"),
])
def test_bad_input_names_the_field(nt_host: Host, name: str, params: dict[str, Any], error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        nt_host.call(name, params)
