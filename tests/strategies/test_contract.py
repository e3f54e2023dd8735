"""The strategy contract: registration through the plugin hook, parameters, schema, description."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

from neural_trader.errors import NtUserError
from neural_trader.host import make_host
from neural_trader.schema import schema_for
from neural_trader.strategies import BUILTIN_STRATEGIES, Strategy, StrategyLike, builtin_strategies

NAMES = ["sma_crossover", "momentum", "mean_reversion", "breakout", "trend_following", "pairs_trading",
         "multi_indicator", "adaptive", "ensemble"]


def test_builtins_register_through_the_plugin_hook() -> None:
    import neural_trader_plugins.strategies as plugin

    host = make_host(plugins=[plugin], autoload=False, strict=True)
    registry = host.registry("strategies")
    assert registry.names() == sorted(NAMES)
    assert {registry.owner(n) for n in NAMES} == {host.pm.get_name(plugin)}
    assert isinstance(registry.get("sma_crossover"), StrategyLike)


@pytest.mark.parametrize("strategy", builtin_strategies(), ids=lambda s: s.name)
def test_every_builtin_is_complete(strategy: Strategy) -> None:
    assert strategy.name in NAMES and strategy.summary
    assert attrs.has(strategy.params_type)
    params = strategy.default_params()
    assert strategy.constraints(params) == []
    assert strategy.warmup(params) >= 1
    assert strategy.has_signals
    schema = schema_for(strategy.params_type)
    for field in attrs.fields(strategy.params_type):
        prop = schema["properties"][field.name]
        assert prop.get("description"), f"{strategy.name}.{field.name} has no description"
        assert "default" in prop
        if prop["type"] in ("integer", "number"):
            assert {"minimum", "exclusiveMinimum"} & set(prop), f"{strategy.name}.{field.name} has no lower bound"
    described = strategy.describe()
    assert described["params_schema"] == schema
    assert described["defaults"] == attrs.asdict(params)
    assert "vectorized" in described["styles"]


def test_the_four_event_strategies_have_both_styles() -> None:
    both = sorted(s.name for s in builtin_strategies() if s.has_signals and s.has_events)
    assert both == ["breakout", "mean_reversion", "momentum", "sma_crossover"]


def test_make_params_validates_names_bounds_and_constraints() -> None:
    s = BUILTIN_STRATEGIES[0]()
    assert s.make_params({"fast": 5}).fast == 5
    assert s.make_params(None, slow=50).slow == 50
    p = s.make_params(fast=3, slow=9)
    assert s.make_params(p) is p
    with pytest.raises(NtUserError, match=r"no parameter.*fsat"):
        s.make_params({"fsat": 3})
    with pytest.raises(NtUserError, match="fast"):
        s.make_params(fast=0)
    with pytest.raises(NtUserError, match=r"fast \(30\) must be less than slow \(30\)"):
        s.make_params(fast=30, slow=30)


def test_targets_out_of_range_are_refused(bars) -> None:  # type: ignore[no-untyped-def]
    from neural_trader.backtest import run_vectorized

    class TooMuch(Strategy):
        name = "too_much"
        params_type = BUILTIN_STRATEGIES[0]().params_type

        def warmup(self, params: object) -> int:
            return 0

        def signals(self, bars: object, params: object) -> np.ndarray:
            return np.full(len(bars), 2.0)  # type: ignore[arg-type]

    with pytest.raises(NtUserError, match=r"targets must be in \[-1, 1\]"):
        run_vectorized(bars, TooMuch())
