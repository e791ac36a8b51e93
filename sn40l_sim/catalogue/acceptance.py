"""Acceptance rates of speculative decoding from public literature (``acceptance.yaml``).

A pair listed under ``pairs`` uses its rate; any other catalogue pair gets the size rule: the rate
interpolated in ``log10(draft params / target params)`` through a measured series of one model
family (Leviathan et al. 2023, Table 3), clamped at its ends. The basis travels with the rate so
that a table can show where a number came from.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from sn40l_sim.catalogue.models import ModelSpec


@dataclass(frozen=True, slots=True)
class Acceptance:
    """A per-token acceptance rate and where it comes from."""

    rate: float
    basis: str


@cache
def acceptance_table() -> dict[str, Any]:
    """The shipped acceptance data (measured rates, the size rule, explicit pairs)."""
    text = resources.files("sn40l_sim.catalogue").joinpath("acceptance.yaml").read_text()
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def size_rule_rate(log_ratio: float, points: list[tuple[float, float]]) -> float:
    """Linear interpolation of ``points`` (log10 size ratio, rate), clamped at the ends."""
    pts = sorted(points)
    if log_ratio <= pts[0][0]:
        return pts[0][1]
    if log_ratio >= pts[-1][0]:
        return pts[-1][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        if x0 <= log_ratio <= x1:
            return y0 + (y1 - y0) * (log_ratio - x0) / (x1 - x0)
    raise AssertionError("unreachable: the ratio lies between the ends")


def default_acceptance(target: ModelSpec, draft: ModelSpec) -> Acceptance:
    """The catalogue's rate for ``draft`` proposing to ``target`` (explicit pair, else the size rule)."""
    table = acceptance_table()
    pair = (table.get("pairs") or {}).get(target.name, {}).get(draft.name)
    if pair is not None:
        return Acceptance(float(pair["acceptance"]), str(pair.get("source", "catalogue pair")))
    rule = table["size_rule"]
    ratio = math.log10(draft.n_params / target.n_params)
    rate = size_rule_rate(ratio, [(float(x), float(y)) for x, y in rule["points"]])
    return Acceptance(round(rate, 3), f"size rule: draft/target params 10^{ratio:.2f} on the "
                      f"{rule['family']} series [LKM23 Table 3]")
