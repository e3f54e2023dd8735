"""Value bets against hand-computed edges and EVs, and (fair probabilities) the shin package's values on
real closing odds (tests/data/betting_reference.json)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from neural_trader.errors import NtUserError
from neural_trader_plugins.sports.value import value_bets

REF = json.loads((Path(__file__).resolve().parents[1] / "data" / "betting_reference.json").read_text())


def test_hand_example_multiplicative() -> None:
    """Odds 2.0 / 3.5 / 4.0: booksum 1/2 + 2/7 + 1/4 = 29/28; fair = (14/29, 8/29, 7/29). Model 0.55 / 0.25
    / 0.20: edges 0.55 - 14/29 = 0.067241, 0.25 - 8/29, 0.2 - 7/29; EVs 0.1, -0.125, -0.2."""
    r = value_bets([0.55, 0.25, 0.20], [2.0, 3.5, 4.0], method="multiplicative", outcomes=["H", "D", "A"])
    np.testing.assert_allclose([b.fair_probability for b in r.bets], [14 / 29, 8 / 29, 7 / 29], rtol=1e-14)
    np.testing.assert_allclose([b.edge for b in r.bets], [0.55 - 14 / 29, 0.25 - 8 / 29, 0.2 - 7 / 29], atol=1e-15)
    np.testing.assert_allclose([b.ev for b in r.bets], [0.1, -0.125, -0.2], atol=1e-15)
    assert [b.outcome for b in r.value] == ["H"] and r.booksum == pytest.approx(29 / 28)
    assert value_bets([0.55, 0.25, 0.20], [2.0, 3.5, 4.0], min_ev=0.12).value == ()
    assert value_bets([0.55, 0.25, 0.20], [2.0, 3.5, 4.0], min_edge=0.07, method="multiplicative").value == ()


def test_positive_edge_but_negative_ev() -> None:
    # model 0.49 beats the fair 0.4828 but not the price 2.0: edge > 0, ev < 0, not a value bet
    b = value_bets([0.49, 0.27, 0.24], [2.0, 3.5, 4.0], method="multiplicative").bets[0]
    assert b.edge > 0 > b.ev and not b.is_value


def test_fair_probabilities_are_shins_on_real_odds() -> None:
    case = next(c for c in REF["cases"] if "pinnacle_close_1x2" in c["name"])
    model = [0.5, 0.3, 0.2]
    r = value_bets(model, case["odds"], method="shin")
    np.testing.assert_allclose([b.fair_probability for b in r.bets], case["shin"]["probabilities"], atol=1e-6)
    assert r.parameter == pytest.approx(case["shin"]["z"], abs=1e-6)
    np.testing.assert_allclose([b.ev for b in r.bets], np.array(model) * case["odds"] - 1, rtol=1e-14)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: value_bets([0.5, 0.5], [2.0, 2.0, 3.0]), "model_probabilities must have one entry per outcome"),
    (lambda: value_bets([0.5, 0.4], [2.0, 2.0]), "model_probabilities must sum to 1"),
    (lambda: value_bets([0.5, 0.5], [2.0, 2.0], method="fancy"), "method must be one of"),
    (lambda: value_bets([0.5, 0.5], [2.0, 2.0], min_ev=float("nan")), "min_ev must be a finite number"),
])
def test_errors(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NtUserError, match=re.escape(message)):
        call()
