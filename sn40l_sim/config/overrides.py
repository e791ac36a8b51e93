"""Change a scenario or a hardware profile without copying it: dotted-path overrides and ``base:``.

Two ways in, one rule (a later, deeper setting wins over the file it refines):

* ``platform: {base: sn40l_node, interconnect: {topology: ring}}`` in a scenario: the named profile
  (or YAML path) deep-merged with the given fields, then validated like a profile file;
* ``--set serving.max_batch=16 --set platform.interconnect.topology=ring`` on ``run``, ``compare``
  and ``sweep``, and the same dotted paths as sweep axes. A path into ``platform.`` when the
  scenario names its platform by a string turns it into ``{base: <that name>}`` first, so every
  profile field can be changed (and swept) by its path.
"""

from __future__ import annotations

import copy
import types
import typing
from pathlib import Path
from typing import Any, Union

import yaml
from pydantic import BaseModel

from sn40l_sim.config.load import read_yaml, validate
from sn40l_sim.config.platform_config import PlatformConfig
from sn40l_sim.config.profiles import resolve_profile_path
from sn40l_sim.errors import CombinedInputError, InputError, combine

BASE_KEY = "base"  # ``platform: {base: <profile>, ...}``


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` laid on top: mappings merge key by key, anything else is replaced."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_set(items: list[str] | None) -> dict[str, Any]:
    """``["serving.max_batch=16", "platform.interconnect.topology=ring"]`` -> a dict of overrides.

    Values are read as YAML scalars or flow collections (``16`` is a number, ``64 GiB`` text,
    ``[1, 2]`` a list), so ``--set`` says what the file would say.
    """
    out: dict[str, Any] = {}
    for item in items or []:
        path, sep, text = item.partition("=")
        path = path.strip()
        if not sep or not path:
            raise InputError(f"--set {item!r}: expected PATH=VALUE, e.g. serving.max_batch=16",
                             field="--set")
        try:
            out[path] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as exc:
            raise InputError(f"--set {item!r}: the value is not valid YAML ({exc})",
                             field="--set") from None
    return out


def _depth(path: str) -> int:
    return path.count(".")


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``path`` in a scenario mapping in place, creating missing mappings on the way.

    A path into ``platform.`` of a scenario that names its platform by string starts from
    ``{base: <name>}``. Raises KeyError (with the part that failed) when the path cannot be set.
    """
    parts = path.split(".")
    if len(parts) > 1 and parts[0] == "platform" and isinstance(data.get("platform"), str):
        data["platform"] = {BASE_KEY: data["platform"]}
    node: Any = data
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


def apply_overrides(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of the scenario mapping with every override set, shallower paths first.

    Shallower first, so ``platform: dgx_h100`` from a sweep case and
    ``platform.interconnect.topology: ring`` from its grid give the H100 profile with a ring,
    whatever order the sweep file lists them in.
    """
    data = copy.deepcopy(base)
    for path in sorted(overrides, key=_depth):
        set_path(data, path, overrides[path])
    return data


def _prefixed(exc: InputError, source: str | None, via: str) -> InputError:
    """An error in the merged profile, told as a scenario field ``platform.<field>``."""
    problems = exc.problems if isinstance(exc, CombinedInputError) else [exc]
    return combine([InputError(f"{p.message} ({via})", file=source,
                               field=f"platform.{p.field}" if p.field else "platform")
                    for p in problems])


def platform_over_base(mapping: dict[str, Any], source: Path | None) -> PlatformConfig:
    """``{base: <profile>, <field>: ...}``: the profile's own file deep-merged with the fields."""
    where = str(source) if source else None
    name = mapping.get(BASE_KEY)
    if not isinstance(name, str) or not name:
        raise InputError("'base' must name a hardware profile (e.g. sn40l_node) or a YAML path",
                         file=where, field="platform.base")
    try:
        path = resolve_profile_path(name, source.parent if source is not None else None)
    except InputError as exc:
        raise InputError(exc.message, file=where, field="platform.base") from None
    raw, _ = read_yaml(path)
    if not isinstance(raw, dict):
        raise InputError("the profile is not a mapping", file=str(path))
    merged = deep_merge(raw, {k: v for k, v in mapping.items() if k != BASE_KEY})
    try:
        return validate(PlatformConfig, merged, None, where or "platform")
    except InputError as exc:
        raise _prefixed(exc, where, f"profile {path.name} with the scenario's overrides") from None


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types an annotation allows (Annotated, Optional and unions flattened)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def path_ok(annotation: Any, parts: list[str]) -> bool:
    """Whether ``parts`` walks from a schema type (``annotation``) to one of its fields."""
    if not parts:
        return True
    head, rest = parts[0], parts[1:]
    for kind in _unwrap(annotation):
        if kind is Any:
            return True
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            field = kind.model_fields.get(head)
            if field is not None and path_ok(field.annotation, rest):
                return True
            continue
        origin, args = typing.get_origin(kind), typing.get_args(kind)
        if origin is list and head.isdigit() and path_ok(args[0] if args else Any, rest):
            return True
        if origin is dict and path_ok(args[1] if len(args) > 1 else Any, rest):
            return True
    return False


def check_platform_path(parts: list[str]) -> str | None:
    """None when ``platform.<parts>`` names a profile field (or ``base``), else why not."""
    if parts == [BASE_KEY] or path_ok(PlatformConfig, parts):
        return None
    fields = ", ".join([BASE_KEY, *PlatformConfig.model_fields])
    return (f"'platform.{'.'.join(parts)}' is not a field of a hardware profile (its fields: "
            f"{fields}; e.g. platform.interconnect.topology)")
