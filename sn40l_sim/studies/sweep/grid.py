"""Dotted-path overrides of a scenario mapping, and the grid of points they span.

A path such as ``serving.max_batch``, ``workload.generator.arrivals.rate_per_s`` or
``experts.0.count`` names one field of the scenario file; list items are addressed by their
index; ``platform.<field>`` reaches into the hardware profile (see
:mod:`sn40l_sim.config.overrides`). Paths are checked against the Scenario schema before anything
runs, so a misspelt axis fails at once instead of as 50 error rows.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

from sn40l_sim.config.overrides import apply_overrides, check_platform_path, path_ok, set_path
from sn40l_sim.config.scenario import Scenario

__all__ = ["apply_overrides", "check_path", "expand", "point_id", "set_path"]

Overrides = dict[str, Any]


def check_path(path: str) -> str | None:
    """None when ``path`` names a field of the Scenario schema, else why not."""
    parts = path.split(".")
    if any(not p for p in parts):
        return f"{path!r} is not a dotted path (an empty part)"
    if len(parts) > 1 and parts[0] == "platform":
        return check_platform_path(parts[1:])
    if not path_ok(Scenario, parts):
        fields = ", ".join(Scenario.model_fields)
        return (f"{path!r} is not a field of the scenario schema (top-level fields: {fields}; "
                "list items by index, e.g. experts.0.count)")
    return None


def canonical(overrides: Overrides) -> str:
    """A stable text of overrides: same settings, same text, whatever their order."""
    return json.dumps(overrides, sort_keys=True, separators=(",", ":"), default=str)


def point_id(overrides: Overrides) -> str:
    """A point's identity: 16 hex digits of the SHA-256 of its canonical overrides."""
    return hashlib.sha256(canonical(overrides).encode()).hexdigest()[:16]


def expand(fixed: Overrides, cases: list[Overrides], grid: dict[str, list[Any]]) -> list[Overrides]:
    """Every case crossed with every grid combination, in file order (the last axis fastest)."""
    axes = list(grid)
    return [{**fixed, **case, **dict(zip(axes, values, strict=True))}
            for case in cases or [{}] for values in itertools.product(*(grid[a] for a in axes))]
