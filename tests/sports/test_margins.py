"""Margins and margin removal against the peer libraries penaltyblog (every method) and shin, on hand
markets and real closing odds from the football-data.co.uk E0 files (tests/data/betting_reference.json,
written by bench/reference/betting_reference.py; versions and command inside), plus closed forms."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from neural_trader.errors import NtUserError
from neural_trader_plugins.sports.margins import METHODS, compare_margins, market_margin, remove_margin

REF = json.loads((Path(__file__).resolve().parents[1] / "data" / "betting_reference.json").read_text())
CASES = REF["cases"]
TOL = 1e-6


def test_reference_covers_two_and_three_way_real_markets() -> None:
    sizes = {len(c["odds"]) for c in CASES}
    assert {2, 3} <= sizes
    assert sum(c["source"] != "hand" for c in CASES) >= 30
    assert set(REF["method_names"]) == set(METHODS)


@pytest.mark.parametrize("method", METHODS)
def test_matches_penaltyblog(method: str) -> None:
    checked = 0
    for case in CASES:
        ref = case["penaltyblog"][method]
        assert "error" not in ref, case["name"]
        fair = remove_margin(case["odds"], method)
        np.testing.assert_allclose(fair.probabilities, ref["probabilities"], rtol=0, atol=TOL, err_msg=case["name"])
        assert math.fsum(fair.probabilities) == pytest.approx(1.0, abs=1e-12)
        assert fair.booksum - 1 == pytest.approx(ref["margin"], abs=1e-12)   # penaltyblog's "margin" is the overround
        if ref["parameters"]:
            (name, value), = ref["parameters"].items()
            assert fair.parameter_name == name
            assert fair.parameter == pytest.approx(value, abs=TOL)
        else:
            assert fair.parameter is None
        checked += 1
    assert checked == len(CASES)


def test_shin_matches_shin_package() -> None:
    """The shin package solves z in closed form for two outcomes and by Jullien & Salanie's fixed point
    otherwise; ours solves sum p(z) = 1 by Brent's method."""
    for case in CASES:
        fair = remove_margin(case["odds"], "shin")
        np.testing.assert_allclose(fair.probabilities, case["shin"]["probabilities"], rtol=0, atol=TOL)
        assert fair.parameter == pytest.approx(case["shin"]["z"], abs=TOL)


def test_closed_forms() -> None:
    odds = [2.7, 2.3, 4.4]
    pi = 1 / np.array(odds)
    b = pi.sum()
    m = market_margin(odds)
    assert m.booksum == pytest.approx(b) and m.overround == pytest.approx(b - 1)
    assert m.margin == pytest.approx(1 - 1 / b) and m.payout == pytest.approx(1 / b)
    np.testing.assert_allclose(remove_margin(odds).probabilities, pi / b)
    np.testing.assert_allclose(remove_margin(odds, "additive").probabilities, pi - (b - 1) / 3)
    k = remove_margin(odds, "power")
    assert sum(x ** k.parameter for x in pi) == pytest.approx(1.0, abs=1e-13) and k.parameter > 1
    np.testing.assert_allclose(k.probabilities, pi ** k.parameter)
    c = remove_margin(odds, "odds_ratio").parameter
    fair = np.array(remove_margin(odds, "odds_ratio").probabilities)
    np.testing.assert_allclose((pi / (1 - pi)) / (fair / (1 - fair)), c, rtol=1e-12)   # a constant odds ratio
    # a margin-free market is its own fair market, with neutral parameters
    fair_odds = [2.0, 4.0, 4.0]
    for method in METHODS:
        r = remove_margin(fair_odds, method)
        np.testing.assert_allclose(r.probabilities, [0.5, 0.25, 0.25], atol=1e-12)
    assert remove_margin(fair_odds, "shin").parameter == 0.0
    assert remove_margin(fair_odds, "power").parameter == 1.0


def test_below_one_booksum() -> None:
    best = [2.2, 3.6, 4.6]     # e.g. best odds across books: sum 1/o < 1
    assert market_margin(best).booksum < 1
    assert remove_margin(best, "power").parameter < 1
    assert remove_margin(best, "odds_ratio").parameter < 1
    with pytest.raises(NtUserError, match="Shin's model needs a bookmaker's margin"):
        remove_margin(best, "shin")


def test_compare_margins() -> None:
    books = {"bet365": [1.33, 5.25, 9.0], "pinnacle": [1.33, 5.81, 9.62], "avg": [1.33, 5.45, 9.27]}
    cmp = compare_margins(books)
    assert cmp.lowest == "pinnacle"
    margins = {b.bookmaker: b.margin for b in cmp.books}
    for name, odds in books.items():
        assert margins[name] == pytest.approx(1 - 1 / sum(1 / x for x in odds))
    assert [b.margin for b in cmp.books] == sorted(margins.values())


@pytest.mark.parametrize(("call", "message"), [
    (lambda: remove_margin([2.0]), "odds must list the decimal odds of every outcome"),
    (lambda: remove_margin([2.0, 1.0]), "odds must be decimal odds > 1"),
    (lambda: remove_margin([2.0, 2.0], "logit"), "method must be one of"),
    (lambda: remove_margin([1.3, 3.2, 50.0], "additive"), "additive method gives a probability <= 0"),
    (lambda: compare_margins({"a": [2.0, 2.0], "b": [3.0, 3.0, 3.0]}), "books['b'] has 3 odds"),
    (lambda: compare_margins({}), "books must map"),
])
def test_errors(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NtUserError, match=re.escape(message)):
        call()
