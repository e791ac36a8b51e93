"""Fuzzing the unit parser: any value either becomes a finite SI float or a ValueError.

``parse_quantity`` sits under every pydantic quantity field; an exception of any other type
would escape validation and reach the user as a traceback instead of exit status 2. Near-miss
units (known prefixes on wrong bases, binary prefixes where only decimal ones exist) must be
rejected, never guessed.
"""

from __future__ import annotations

import math
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sn40l_sim.units import Dimension, parse_quantity

DIMENSIONS: tuple[Dimension, ...] = get_args(Dimension)

# Every unit the parser documents, with its scale (the hand-written expectation).
DECIMAL = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}
KNOWN: dict[Dimension, dict[str, float]] = {
    "bytes": {**{p + "B": s for p, s in DECIMAL.items()},
              **{p + "B": s for p, s in BINARY.items()}},
    "bytes_per_s": {**{p + "B/s": s for p, s in {**DECIMAL, **BINARY}.items()},
                    **{p + "Bps": s for p, s in {**DECIMAL, **BINARY}.items()}},
    "flop": {p + "FLOP": s for p, s in DECIMAL.items()},
    "flop_per_s": {**{p + "FLOP/s": s for p, s in DECIMAL.items()},
                   **{p + "FLOPS": s for p, s in DECIMAL.items()}},
    "s": {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9, "min": 60.0, "h": 3600.0},
    "count": {p: s for p, s in DECIMAL.items() if p in ("", "k", "K", "M", "G", "T")},
    "watts": {p + "W": s for p, s in DECIMAL.items()},
}

UNIT_PARTS = st.sampled_from(["", "k", "K", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi",
                              "B", "b", "FLOP", "FLOPS", "flop", "/s", "ps", "s", "ms", "us", "µs",
                              "ns", "min", "h", "i", "/", "Bs", "parsec"])
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**400), 10**400).map(str),
    st.sampled_from(["1", "-1", "0", ".5", "5.", "1e3", "1E-3", "+2", "1e400", "-1e400", "nan",
                     "inf", "1_000", "0x10", "1,5", "", " ", "--1", "1e", "١"]),
)
ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**400), 10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30), st.binary(max_size=10),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                          max_size=2),
    st.builds(lambda n, sep, units: f"{n}{sep}{''.join(units)}", NUMBERS,
              st.sampled_from(["", " ", "  ", "\t", "\n"]), st.lists(UNIT_PARTS, max_size=3)),
)


def _parse_or_value_error(value: object, dimension: Dimension) -> float | None:
    try:
        result = parse_quantity(value, dimension)
    except ValueError:
        return None
    assert isinstance(result, float) and math.isfinite(result)
    return result


@settings(max_examples=300, deadline=None)
@given(value=ANY_VALUE, dimension=st.sampled_from(DIMENSIONS))
def test_any_value_is_a_finite_float_or_a_value_error(value, dimension):
    result = _parse_or_value_error(value, dimension)
    if result is not None and isinstance(value, str):
        # What was accepted is a number and one of the documented units, nothing else.
        unit = value.strip().lstrip("+-0123456789.eE").strip()
        assert unit in KNOWN[dimension], f"{value!r} accepted with unknown unit {unit!r}"


@settings(max_examples=150, deadline=None)
@given(dimension=st.sampled_from(DIMENSIONS), data=st.data(),
       x=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
       space=st.sampled_from(["", " ", "  "]), pad=st.sampled_from(["", " ", "\t"]))
def test_every_documented_unit_scales_exactly(dimension, data, x, space, pad):
    unit = data.draw(st.sampled_from(sorted(KNOWN[dimension])))
    text = f"{pad}{x!r}{space if unit else ''}{unit}{pad}"
    assert parse_quantity(text, dimension) == pytest.approx(x * KNOWN[dimension][unit],
                                                            rel=1e-12, abs=0.0)


@settings(max_examples=150, deadline=None)
@given(dimension=st.sampled_from(DIMENSIONS), parts=st.lists(UNIT_PARTS, min_size=1, max_size=3))
def test_near_miss_units_are_rejected(dimension, parts):
    unit = "".join(parts)
    result = _parse_or_value_error(f"3 {unit}", dimension)
    if unit in KNOWN[dimension]:
        assert result == pytest.approx(3 * KNOWN[dimension][unit])
    else:
        assert result is None, f"'3 {unit}' read as {dimension} = {result}"
