"""Read YAML, validate it with pydantic, and turn every failure into located CombinedInputError.

YAML is parsed twice in effect: once to plain data for pydantic, and once as a node tree that
remembers line numbers, so an error on ``serving.max_batch`` can say ``scenario.yaml:14``. Every
problem of a file is reported at once, one located line each (see :class:`CombinedInputError`); an
unknown key gets the closest known key of its section as a "did you mean". A key given twice in
one mapping is an error naming both lines (YAML would silently keep the last).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from sn40l_sim.errors import CombinedInputError, InputError, combine, did_you_mean

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """Return (data, node tree) of a YAML file; a missing file or bad syntax is an InputError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read file: {exc}", file=str(path)) from None
    return parse_yaml_text(text, str(path))


def parse_yaml_text(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """Parse YAML text; syntax errors carry the line where the parser stopped."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise InputError(f"invalid YAML: {exc.problem}", file=source, line=line) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow; no mark
        line = text.count("\n", 0, exc.position) + 1
        raise InputError(f"invalid YAML: {exc.reason} (character #x{exc.character:04x})",
                         file=source, line=line) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", file=source) from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise InputError("invalid YAML: collections nested too deeply", file=source) from None
    duplicates = duplicate_keys(node, source)
    if duplicates:
        raise combine(duplicates)
    return data, node


def duplicate_keys(node: yaml.Node | None, source: str) -> list[InputError]:
    """Every key that appears twice in one mapping, located at its second appearance.

    Walks the node tree with an explicit stack (a 5,000-deep document must not recurse).
    """
    problems: list[InputError] = []
    stack: list[tuple[yaml.Node, list[str | int]]] = [(node, [])] if node is not None else []
    seen_nodes: set[int] = set()  # an alias may point back up the tree (``&a [*a]``)
    while stack:
        current, loc = stack.pop()
        if id(current) in seen_nodes:
            continue
        seen_nodes.add(id(current))
        if isinstance(current, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in current.value:
                key = str(key_node.value)
                line = key_node.start_mark.line + 1
                if key in seen and key != "<<":  # '<<' is YAML's merge key, not a field
                    problems.append(InputError(
                        f"duplicate key {key!r}: given at line {seen[key]} and again at line {line} "
                        "(YAML would silently keep the last)",
                        file=source, line=line, field=_field_path([*loc, key])))
                seen.setdefault(key, line)
                stack.append((value_node, [*loc, key]))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((child, [*loc, i]) for i, child in enumerate(current.value))
    return sorted(problems, key=lambda p: p.line or 0)


def line_of(node: yaml.Node | None, loc: Sequence[str | int]) -> int | None:
    """1-based line of the deepest node along ``loc`` that exists in the YAML tree."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for key in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if str(key_node.value) == str(key):
                    child = value_node
                    line = key_node.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
            child = node.value[key]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def _field_path(loc: Sequence[str | int]) -> str:
    """``('serving', 'max_batch')`` -> ``serving.max_batch``; list indices as ``[i]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            if not text or not text.isprintable() or text != text.strip():
                text = repr(text)  # a key such as "\t" or " " shown unambiguously
            out += ("." if out else "") + text
    return out or "(top level)"


def _describe(error: ErrorDetails, model: type[BaseModel], data: Any,
              loc: list[str | int]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        known = _known_keys(model, data, loc[:-1])
        hint = did_you_mean(loc[-1], sorted(known)) if loc else ""
        return f"unknown field{hint or '; check its spelling'}"
    if kind == "missing":
        return "required field is missing"
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    bound = (error.get("ctx") or {}).get("ge")
    if kind in ("less_than_equal", "less_than", "too_long", "int_parsing_size") or (
            kind == "greater_than_equal" and bound not in (None, 0, 1, 2)):
        message += " (the simulator's limit; see docs/limits.md)"
    return message


def _clean_loc(loc: Sequence[Any], data: Any) -> list[str | int]:
    """The error's path as keys of the document: pydantic's union-branch tags (``poisson``,
    ``function-after[...]``, ``str``) are dropped by following the data along the path."""
    out: list[str | int] = []
    current = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(part, int) and isinstance(current, list):
            out.append(part)
            current = current[part] if 0 <= part < len(current) else None
        elif isinstance(current, dict) and (part in current or (last and "[" not in str(part))):
            out.append(part)
            current = current.get(part)
    return out


def _members(annotation: Any) -> list[Any]:
    """The concrete types of an annotation: Annotated, Optional and unions unwrapped."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def _models_at(model: type[BaseModel], data: Any, path: Sequence[str | int]) -> list[type[BaseModel]]:
    """The pydantic models that may describe the mapping at ``path`` (a union's member chosen by
    the data's ``kind`` where it has one)."""
    candidates: list[Any] = [model]
    current = data
    for part in path:
        following: list[Any] = []
        for member in (m for c in candidates for m in _members(c)):
            origin, args = typing.get_origin(member), typing.get_args(member)
            if isinstance(member, type) and issubclass(member, BaseModel) and isinstance(part, str):
                if part in member.model_fields:
                    following.append(member.model_fields[part].annotation)
            elif origin is list and isinstance(part, int) and args:
                following.append(args[0])
            elif origin is dict and len(args) == 2:
                following.append(args[1])
        candidates = following
        current = current.get(part) if isinstance(current, dict) else (
            current[part] if isinstance(current, list) and isinstance(part, int)
            and 0 <= part < len(current) else None)
    models = [m for c in candidates for m in _members(c)
              if isinstance(m, type) and issubclass(m, BaseModel)]
    kind = current.get("kind") if isinstance(current, dict) else None
    if kind is not None:
        chosen = [m for m in models if "kind" in m.model_fields
                  and kind in typing.get_args(m.model_fields["kind"].annotation)]
        models = chosen or models
    return models


def _known_keys(model: type[BaseModel], data: Any, path: Sequence[str | int]) -> set[str]:
    return {name for m in _models_at(model, data, path) for name in m.model_fields}


def validate(model: type[M], data: Any, node: yaml.Node | None, source: str) -> M:
    """Validate ``data`` against ``model``; every error becomes a located line (in file order)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        by_field: dict[str, tuple[int | None, list[str]]] = {}
        for error in exc.errors():
            loc = _clean_loc(error["loc"], data)
            field = _field_path(loc)
            _, messages = by_field.setdefault(field, (line_of(node, loc), []))
            message = _describe(error, model, data, loc)
            if message not in messages:  # a union reports each branch; keep distinct messages
                messages.append(message)
        problems = [InputError("; or ".join(messages), file=source, line=line, field=field)
                    for field, (line, messages) in by_field.items()]
        problems.sort(key=lambda p: p.line or 0)
        raise combine(problems) from None


def _parse_field_path(field: str) -> list[str | int]:
    """``experts[0].model`` -> ``['experts', 0, 'model']`` (the inverse of _field_path)."""
    loc: list[str | int] = []
    for part in field.replace("[", ".[").split("."):
        if part.startswith("[") and part.endswith("]") and part[1:-1].isdigit():
            loc.append(int(part[1:-1]))
        elif part:
            loc.append(part)
    return loc


def with_lines(exc: InputError, node: yaml.Node | None, source: str) -> InputError:
    """Give problems found after validation (unknown names, sizes) the line of their field."""
    problems = exc.problems if isinstance(exc, CombinedInputError) else [exc]
    out = []
    for p in problems:
        if p.file == source and p.line is None and p.field:
            p = InputError(p.message, file=p.file, line=line_of(node, _parse_field_path(p.field)),
                           field=p.field)
        out.append(p)
    return combine(sorted(out, key=lambda p: (p.file != source, p.line or 0)))


def load_model(model: type[M], path: Path) -> M:
    """Read and validate one YAML file."""
    data, node = read_yaml(path)
    if data is None:
        raise InputError("the file is empty", file=str(path))
    return validate(model, data, node, str(path))
