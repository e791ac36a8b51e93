"""Pydantic field types that read human units and hold SI floats.

``Bytes``, ``BytesPerS``, ``FlopPerS``, ``Seconds``, ``Watts`` accept ``"64 GiB"``-style strings
only: a bare number is an error naming the expected unit (see
:func:`sn40l_sim.units.parse_quantity`). Each type also bounds its value
(:mod:`sn40l_sim.config.limits`), so no product the cost model forms can overflow. Positive
variants reject zero and negatives at the field, so an error names the field's path. Dumped to
JSON/YAML (``scenario.resolved.yaml``), a quantity keeps its SI unit, so the dump reads back as
valid input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema

from sn40l_sim.config.limits import (
    MAX_BYTES,
    MAX_BYTES_PER_S,
    MAX_FLOP_PER_S,
    MAX_TIME_S,
    MAX_WATTS,
    MIN_BYTES_PER_S,
    MIN_FLOP_PER_S,
)
from sn40l_sim.units import Dimension, parse_quantity

STRICT = ConfigDict(extra="forbid", frozen=True)  # field docs: config/schema_docs.py


def _parser(dimension: Dimension) -> Callable[[object], float]:
    def parse(value: object) -> float:
        return parse_quantity(value, dimension)

    return parse


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError(f"expected a positive quantity, got {value}")
    return value


def _non_negative(value: float) -> float:
    if value < 0:
        raise ValueError(f"expected a quantity >= 0, got {value}")
    return value


def _fraction(value: float) -> float:
    if not 0 < value <= 1:
        raise ValueError(f"expected a fraction in (0, 1], got {value}")
    return value


def _within(low: float, high: float, unit: str) -> Callable[[float], float]:
    """A bound check that prints the limit in the field's SI unit."""

    def check(value: float) -> float:
        if not low <= value <= high:
            raise ValueError(f"{value:g} {unit} is outside the simulator's limits "
                             f"[{low:g} {unit}, {high:g} {unit}] (see docs/limits.md)")
        return value

    return check


def _unit(unit: str, example: str) -> tuple[PlainSerializer, WithJsonSchema]:
    """Dump with the SI unit; tell editors (JSON Schema) that the value is a string with a unit."""
    return (PlainSerializer(lambda value: f"{value!r} {unit}", return_type=str, when_used="json"),
            WithJsonSchema({"type": "string", "description": f"a quantity with its unit, e.g. "
                                                            f"{example!r}"}))


Bytes = Annotated[float, BeforeValidator(_parser("bytes")), AfterValidator(_positive),
                  AfterValidator(_within(0.0, MAX_BYTES, "B")), *_unit("B", "64 GiB")]
BytesPerS = Annotated[float, BeforeValidator(_parser("bytes_per_s")), AfterValidator(_positive),
                      AfterValidator(_within(MIN_BYTES_PER_S, MAX_BYTES_PER_S, "B/s")),
                      *_unit("B/s", "1.8 TB/s")]
FlopPerS = Annotated[float, BeforeValidator(_parser("flop_per_s")), AfterValidator(_positive),
                     AfterValidator(_within(MIN_FLOP_PER_S, MAX_FLOP_PER_S, "FLOP/s")),
                     *_unit("FLOP/s", "638 TFLOP/s")]
Seconds = Annotated[float, BeforeValidator(_parser("s")), AfterValidator(_non_negative),
                    AfterValidator(_within(0.0, MAX_TIME_S, "s")), *_unit("s", "10 us")]
PositiveSeconds = Annotated[float, BeforeValidator(_parser("s")), AfterValidator(_positive),
                            AfterValidator(_within(0.0, MAX_TIME_S, "s")), *_unit("s", "10 us")]
Watts = Annotated[float, BeforeValidator(_parser("watts")), AfterValidator(_non_negative),
                  AfterValidator(_within(0.0, MAX_WATTS, "W")), *_unit("W", "700 W")]
Fraction = Annotated[float, AfterValidator(_fraction)]


def _not_a_bool(value: object) -> object:
    """pydantic reads ``true`` as 1 for an int; for a count (``count: yes``) that is a mistake."""
    if isinstance(value, bool):
        raise ValueError(f"expected a whole number, got {str(value).lower()}")
    return value


Count = Annotated[int, BeforeValidator(_not_a_bool)]  # a whole number, never a boolean
