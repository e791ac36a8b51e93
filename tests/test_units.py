"""Unit parsing: decimal vs binary prefixes exactly, unknown units rejected."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sn40l_sim.units import format_bytes, parse_quantity


@pytest.mark.parametrize(
    ("text", "dimension", "expected"),
    [
        ("64 GiB", "bytes", 64 * 2**30),
        ("13.48 GB", "bytes", 13.48e9),
        ("520 MiB", "bytes", 520 * 2**20),
        ("1.5 TiB", "bytes", 1.5 * 2**40),
        ("1.8 TB/s", "bytes_per_s", 1.8e12),
        ("32 GB/s", "bytes_per_s", 32e9),
        ("638 TFLOP/s", "flop_per_s", 638e12),
        ("989 TFLOPS", "flop_per_s", 989e12),
        ("10 us", "s", 10e-6),
        ("5 ms", "s", 5e-3),
        ("2 s", "s", 2.0),
        (3, "count", 3.0),
        ("1.5k", "count", 1500.0),
    ],
)
def test_parse_known_units(text, dimension, expected):
    assert parse_quantity(text, dimension) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "dimension"),
    [("64 GiBs", "bytes"), ("10 parsecs", "s"), ("1.8 TB", "bytes_per_s"), ("fast", "s"),
     ("nan", "s"), (True, "s"), (None, "bytes"), ("64 GiB/s", "bytes"), ("1 KiFLOP", "flop")],
)
def test_parse_rejects_bad_input(text, dimension):
    with pytest.raises(ValueError):
        parse_quantity(text, dimension)


@pytest.mark.parametrize("dimension", ["bytes", "bytes_per_s", "flop", "flop_per_s", "s"])
@pytest.mark.parametrize("value", [5, 1.8, 0, "5", " 1.8 ", "1e3"])
def test_bare_number_is_an_error_naming_the_unit(value, dimension):
    """Issue 13: ``bandwidth: 1.8`` was 1.8 B/s and ``latency: 5`` five seconds, silently."""
    with pytest.raises(ValueError, match="missing unit") as caught:
        parse_quantity(value, dimension)
    assert "e.g." in str(caught.value)  # the message shows the accepted form


@given(st.floats(min_value=1e-3, max_value=1e6, allow_nan=False))
def test_gib_is_binary_gb_is_decimal(x):
    assert parse_quantity(f"{x!r} GiB", "bytes") == pytest.approx(x * 2**30)
    assert parse_quantity(f"{x!r} GB", "bytes") == pytest.approx(x * 1e9)


@given(st.text(max_size=20))
def test_parse_never_crashes_unexpectedly(text):
    try:
        value = parse_quantity(text, "bytes")
    except ValueError:
        return
    assert math.isfinite(value)


def test_format_bytes():
    assert format_bytes(64 * 2**30) == "64 GiB"
    assert format_bytes(512) == "512 B"


def test_only_ascii_digits_are_numbers():
    """Python's \\d and float() accept other scripts' digits ("٠" is Arabic-Indic zero); a profile
    number must be written in 0-9 (found by the unit fuzzer)."""
    with pytest.raises(ValueError, match="expected a quantity"):
        parse_quantity("٠ GiB", "bytes")
    with pytest.raises(ValueError, match="expected a quantity"):
        parse_quantity("1٠ GB", "bytes")
