"""Dotted-path overrides of a scenario mapping, and the grid of points they span.

A path such as ``serving.max_batch``, ``workload.generator.arrivals.rate_per_s`` or
``experts.0.count`` names one field of the scenario file; list items are addressed by their
index. Paths are checked against the Scenario schema before anything runs, so a misspelt axis
fails at once instead of as 50 error rows.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import types
import typing
from typing import Any, Union

from pydantic import BaseModel

from sn40l_sim.config.scenario import Scenario

Overrides = dict[str, Any]


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types an annotation allows (Annotated, Optional and unions flattened)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def _path_ok(annotation: Any, parts: list[str]) -> bool:
    if not parts:
        return True
    head, rest = parts[0], parts[1:]
    for kind in _unwrap(annotation):
        if kind is Any:
            return True
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            field = kind.model_fields.get(head)
            if field is not None and _path_ok(field.annotation, rest):
                return True
            continue
        origin, args = typing.get_origin(kind), typing.get_args(kind)
        if origin is list and head.isdigit() and _path_ok(args[0] if args else Any, rest):
            return True
        if origin is dict and _path_ok(args[1] if len(args) > 1 else Any, rest):
            return True
    return False


def check_path(path: str) -> str | None:
    """None when ``path`` names a field of the Scenario schema, else why not."""
    parts = path.split(".")
    if any(not p for p in parts):
        return f"{path!r} is not a dotted path (an empty part)"
    if not _path_ok(Scenario, parts):
        fields = ", ".join(Scenario.model_fields)
        return (f"{path!r} is not a field of the scenario schema (top-level fields: {fields}; "
                "list items by index, e.g. experts.0.count)")
    return None


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``path`` in a scenario mapping in place, creating missing mappings on the way."""
    node: Any = data
    parts = path.split(".")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise KeyError(f"{where}: the scenario's list has {len(node)} item(s)")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                if not isinstance(node.get(part), dict | list):
                    if part in node and node[part] is not None:
                        raise KeyError(f"{where}: is {node[part]!r} in the scenario, not a mapping")
                    node[part] = {}
                node = node[part]
        else:
            raise KeyError(f"{where}: cannot set a field inside {node!r}")


def apply_overrides(base: dict[str, Any], overrides: Overrides) -> dict[str, Any]:
    """A copy of the scenario mapping with every override set, in order."""
    data = copy.deepcopy(base)
    for path, value in overrides.items():
        set_path(data, path, value)
    return data


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
