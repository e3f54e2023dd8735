"""docs/strategies.md documents every built-in strategy and every parameter with its default."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from neural_trader.schema import schema_for
from neural_trader.strategies import builtin_strategies

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "strategies.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("strategy", builtin_strategies(), ids=lambda s: s.name)
def test_each_parameter_row_matches_the_code(strategy) -> None:  # type: ignore[no-untyped-def]
    section = PAGE.split(f"### {strategy.name}\n", 1)
    assert len(section) == 2, f"docs/strategies.md has no section for {strategy.name}"
    body = section[1].split("\n### ", 1)[0]
    schema = schema_for(strategy.params_type)
    for field in attrs.fields(strategy.params_type):
        prop = schema["properties"][field.name]
        row = f"| `{field.name}` | {prop['default']} |"
        assert row in body, f"{strategy.name}: no row {row!r} (regenerate the table)"
        assert prop["description"] in body
