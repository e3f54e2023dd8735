"""JSON Schema generation from attrs types, checked against the 2020-12 meta-schema."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from typing import Literal

import attrs
import jsonschema
import pytest

from neural_trader.schema import MAX_SAFE_INTEGER, YEAR_SPAN_PATTERN, SchemaError, param, schema_for


class Side(enum.Enum):
    BUY = "buy"
    SELL = "sell"


@attrs.frozen(kw_only=True)
class Leg:
    symbol: str = param(pattern=r"^[A-Z]{1,5}$", description="ticker")
    qty: int = param(gt=0, le=1000)


@attrs.frozen(kw_only=True)
class Everything:
    """Every supported kind of field."""

    text: str
    count: int = param(default=3, ge=1, lt=10, description="how many")
    ratio: float = param(default=0.5, gt=0.0, le=1.0)
    flag: bool = False
    price: decimal.Decimal = decimal.Decimal("1.25")
    at: dt.datetime | None = None
    day: dt.date | None = None
    side: Side = Side.BUY
    mode: Literal["fast", "slow"] = "fast"
    maybe: int | None = param(default=None, ge=0)
    tags: list[str] = param(factory=list, max_len=5)
    weights: dict[str, float] = param(factory=dict)
    legs: list[Leg] = param(factory=list)
    pair: tuple[int, int] = (1, 2)
    choice: str = attrs.field(default="a", validator=attrs.validators.in_(["a", "b"]))


def test_schema_is_valid_2020_12_and_describes_every_field() -> None:
    schema = schema_for(Everything)
    jsonschema.Draft202012Validator.check_schema(schema)
    props = schema["properties"]
    assert schema["required"] == ["text"]
    assert schema["additionalProperties"] is False
    assert schema["description"] == "Every supported kind of field."
    assert props["text"] == {"type": "string"}
    assert props["count"] == {"type": "integer", "minimum": 1, "exclusiveMaximum": 10,
                              "description": "how many", "default": 3}
    assert props["ratio"]["exclusiveMinimum"] == 0.0 and props["ratio"]["maximum"] == 1.0
    assert props["flag"] == {"type": "boolean", "default": False}
    assert props["price"]["format"] == "decimal" and props["price"]["default"] == "1.25"
    assert props["at"] == {"type": ["string", "null"], "format": "date-time", "default": None,
                           "pattern": YEAR_SPAN_PATTERN, "x-pattern-hint": props["at"]["x-pattern-hint"]}
    assert "1678 to 2261" in props["at"]["x-pattern-hint"]
    assert props["day"]["format"] == "date"
    assert props["side"]["enum"] == ["buy", "sell"] and props["side"]["default"] == "buy"
    assert props["mode"] == {"type": "string", "enum": ["fast", "slow"], "default": "fast"}
    assert props["maybe"] == {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_SAFE_INTEGER, "default": None}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}, "maxItems": 5, "default": []}
    assert props["weights"] == {"type": "object", "additionalProperties": {"type": "number"}, "default": {}}
    leg = props["legs"]["items"]
    assert leg["properties"]["symbol"]["pattern"] == "^[A-Z]{1,5}$"
    assert leg["properties"]["qty"] == {"type": "integer", "exclusiveMinimum": 0, "maximum": 1000}
    assert props["pair"]["prefixItems"] == [{"type": "integer"}, {"type": "integer"}]
    assert props["choice"]["enum"] == ["a", "b"]


def test_schema_accepts_what_the_class_accepts() -> None:
    validator = jsonschema.Draft202012Validator(schema_for(Everything))
    good = {"text": "x", "count": 9, "price": "10.5", "at": "2024-01-02T03:04:05Z", "side": "sell",
            "legs": [{"symbol": "AAPL", "qty": 5}], "maybe": None}
    assert not list(validator.iter_errors(good))
    bad = {"text": "x", "count": 10, "legs": [{"symbol": "aapl", "qty": 0}], "extra": 1}
    paths = sorted(e.json_path for e in validator.iter_errors(bad))
    assert paths == ["$", "$.count", "$.legs[0].qty", "$.legs[0].symbol"]


def test_bounds_are_enforced_by_the_class_too() -> None:
    with pytest.raises(ValueError):
        Leg(symbol="AAPL", qty=0)
    with pytest.raises(ValueError):
        Leg(symbol="aapl", qty=1)


def test_unsupported_types_fail_loudly() -> None:
    @attrs.frozen
    class Bad:
        x: complex

    with pytest.raises(SchemaError, match="complex"):
        schema_for(Bad)

    @attrs.frozen
    class Keys:
        x: dict[int, int]

    with pytest.raises(SchemaError, match="dict"):
        schema_for(Keys)


def test_item_pattern_constrains_each_item_and_its_hint_sits_beside_it() -> None:
    @attrs.frozen(kw_only=True)
    class Many:
        codes: list[str] = param(item_pattern=r"^[A-Z]{2}$", pattern_hint="two capital letters", max_len=3)

    prop = schema_for(Many)["properties"]["codes"]
    assert prop["items"] == {"type": "string", "pattern": r"^[A-Z]{2}$", "x-pattern-hint": "two capital letters"}
    assert prop["maxItems"] == 3
    Many(codes=["AB", "CD"])
    with pytest.raises(ValueError):
        Many(codes=["AB", "c d"])


@pytest.mark.parametrize(("bounds", "good", "bad"), [
    ({"gt": 0}, ["1", "0.5", ".5", "10.00"], ["0", "0.0", "-1", "1e5"]),
    ({"ge": 0, "le": 1}, ["0", "1", "1.0", "0.25"], ["1.5", "-0.1", "2"]),
    ({"gt": 0, "le": 100}, ["100", "99.9", "0.1"], ["100.5", "0", "101"]),
    ({}, ["-5", "0", "1" * 30], ["1" * 31, "1e3"]),
])
def test_decimal_text_carries_its_bounds_in_the_pattern(bounds: dict[str, float], good: list[str],
                                                        bad: list[str]) -> None:
    """JSON Schema bounds ignore strings; the pattern says what a bound refuses, so the schema and
    the validator agree on text too."""
    import re

    @attrs.frozen(kw_only=True)
    class Amount:
        value: decimal.Decimal = param(**bounds)  # type: ignore[arg-type]

    pattern = re.compile(schema_for(Amount, inputs=True)["properties"]["value"]["pattern"])
    assert [g for g in good if not pattern.search(g)] == []
    assert [b for b in bad if pattern.search(b)] == []


def test_a_length_bound_on_a_mapping_bounds_its_properties() -> None:
    @attrs.frozen(kw_only=True)
    class Knobs:
        settings: dict[str, int] = param(factory=dict, min_len=1, max_len=2, description="at most two")

    prop = schema_for(Knobs)["properties"]["settings"]
    assert (prop["minProperties"], prop["maxProperties"]) == (1, 2)
    assert "maxLength" not in prop
    with pytest.raises(ValueError):
        Knobs(settings={"a": 1, "b": 2, "c": 3})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"settings": {"a": 1, "b": 2, "c": 3}}, schema_for(Knobs))
