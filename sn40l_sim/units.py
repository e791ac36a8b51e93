"""Human units at the edge, SI floats inside.

One place parses ``"64 GiB"``, ``"1.8 TB/s"``, ``"638 TFLOP/s"``, ``"10 us"``. Decimal prefixes are
powers of 10 (GB = 1e9 bytes), binary prefixes powers of 2 (GiB = 2**30 bytes), exactly; an unknown
unit is an error, never a guess (gem5's lesson: GB silently read as GiB corrupts every result).
A bare number is an error too, except for a count: it names no unit, so it is a guess as well.
"""

from __future__ import annotations

import math
import re
from typing import Literal

Dimension = Literal["bytes", "bytes_per_s", "flop", "flop_per_s", "s", "count", "watts"]

_DECIMAL = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}
_TIME = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9, "min": 60.0, "h": 3600.0}

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-zµ/]*)\s*$", re.ASCII)  # \d: 0-9 only


def _prefixed(unit: str, base: str, *, allow_binary: bool) -> float | None:
    """Scale of ``unit`` if it is ``<prefix><base>``, else None."""
    if not unit.endswith(base):
        return None
    prefix = unit[: -len(base)]
    if prefix in _DECIMAL:
        return _DECIMAL[prefix]
    if allow_binary and prefix in _BINARY:
        return _BINARY[prefix]
    return None


def _scale(unit: str, dimension: Dimension) -> float | None:
    if dimension == "bytes":
        return _prefixed(unit, "B", allow_binary=True)
    if dimension == "bytes_per_s":
        for suffix in ("/s", "ps"):
            if unit.endswith(suffix):
                return _prefixed(unit[: -len(suffix)], "B", allow_binary=True)
        return None
    if dimension == "flop":
        return _prefixed(unit, "FLOP", allow_binary=False)
    if dimension == "flop_per_s":
        if unit.endswith("FLOPS"):
            return _prefixed(unit[:-1], "FLOP", allow_binary=False)
        if unit.endswith("/s"):
            return _prefixed(unit[:-2], "FLOP", allow_binary=False)
        return None
    if dimension == "s":
        return _TIME.get(unit)
    if dimension == "watts":
        return _prefixed(unit, "W", allow_binary=False)
    if dimension == "count":
        return _DECIMAL.get(unit) if unit in ("", "k", "K", "M", "G", "T") else None
    raise ValueError(f"unknown dimension {dimension!r}")


_EXAMPLES: dict[str, str] = {
    "bytes": "'64 GiB' or '13.48 GB'",
    "bytes_per_s": "'1.8 TB/s' or '32 GB/s'",
    "flop": "'2 TFLOP'",
    "flop_per_s": "'638 TFLOP/s'",
    "s": "'10 us', '5 ms' or '1.5 s'",
    "count": "'150' or '1.5k'",
    "watts": "'700 W' or '10.2 kW'",
}


_UNIT_NAMES: dict[str, str] = {
    "bytes": "bytes", "bytes_per_s": "bytes per second", "flop": "FLOP",
    "flop_per_s": "FLOP per second", "s": "seconds", "count": "a count", "watts": "watts",
}


def _bare_number(value: object, dimension: Dimension) -> ValueError:
    """A number without its unit: 1.8 could be B/s or TB/s, 5 could be s or ms, so it is refused."""
    shown = value if isinstance(value, str) else repr(value)
    return ValueError(f"missing unit: {shown} has no unit; write the {_UNIT_NAMES[dimension]} "
                      f"with one, e.g. {_EXAMPLES[dimension]}")


def parse_quantity(value: object, dimension: Dimension) -> float:
    """Parse a number with its unit into an SI float (a ``count`` may be a bare number).

    A bare number for a quantity with a dimension is an error that names the expected unit:
    ``bandwidth: 1.8`` silently read as 1.8 B/s, or ``latency: 5`` as 5 s, gave answers off by
    10^12. Raises ``ValueError`` with the accepted forms; pydantic turns that into a field error
    with the field's path.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a quantity such as {_EXAMPLES[dimension]}, got {value!r}")
    if isinstance(value, (int, float)):
        if dimension != "count":
            raise _bare_number(value, dimension)
        try:
            number = float(value)
        except OverflowError:  # an integer beyond the float range
            raise ValueError("expected a finite quantity, got a too large integer") from None
    elif isinstance(value, str):
        match = _QUANTITY.match(value)
        if not match:
            raise ValueError(f"expected a quantity such as {_EXAMPLES[dimension]}, got {value!r}")
        if not match.group(2) and dimension != "count":
            raise _bare_number(value.strip(), dimension)
        scale = _scale(match.group(2), dimension)
        if scale is None:
            raise ValueError(
                f"unknown unit {match.group(2)!r} in {value!r}; expected e.g. {_EXAMPLES[dimension]}"
            )
        number = float(match.group(1)) * scale
    else:
        raise ValueError(f"expected a quantity such as {_EXAMPLES[dimension]}, got {value!r}")
    if not math.isfinite(number):
        raise ValueError(f"expected a finite quantity, got {value!r}")
    return number


def format_bytes(n_bytes: float) -> str:
    """Short human form with binary prefixes, for tables and plots."""
    for unit, scale in (("TiB", 2.0**40), ("GiB", 2.0**30), ("MiB", 2.0**20), ("KiB", 2.0**10)):
        if abs(n_bytes) >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{n_bytes:.0f} B"


def format_seconds(seconds: float) -> str:
    """Short human form (s, ms, us) for tables."""
    if abs(seconds) >= 1.0 or seconds == 0.0:
        return f"{seconds:.3g} s"
    if abs(seconds) >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"
