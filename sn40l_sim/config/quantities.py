"""Pydantic field types that read human units and hold SI floats.

``Bytes``, ``BytesPerS``, ``FlopPerS``, ``Seconds``, ``Watts`` accept ``"64 GiB"``-style strings or bare
numbers (already SI). Positive variants reject zero and negatives at the field, so an error names
the field's path.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, ConfigDict

from sn40l_sim.units import Dimension, parse_quantity

STRICT = ConfigDict(extra="forbid", frozen=True)  # field docs: config/schema_docs.py


def _parser(dimension: Dimension):
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


Bytes = Annotated[float, BeforeValidator(_parser("bytes")), AfterValidator(_positive)]
BytesPerS = Annotated[float, BeforeValidator(_parser("bytes_per_s")), AfterValidator(_positive)]
FlopPerS = Annotated[float, BeforeValidator(_parser("flop_per_s")), AfterValidator(_positive)]
Seconds = Annotated[float, BeforeValidator(_parser("s")), AfterValidator(_non_negative)]
PositiveSeconds = Annotated[float, BeforeValidator(_parser("s")), AfterValidator(_positive)]
Watts = Annotated[float, BeforeValidator(_parser("watts")), AfterValidator(_non_negative)]
Fraction = Annotated[float, AfterValidator(_fraction)]
