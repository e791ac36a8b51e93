"""Read YAML, validate it with pydantic, and turn every failure into one located InputError.

YAML is parsed twice in effect: once to plain data for pydantic, and once as a node tree that
remembers line numbers, so an error on ``serving.max_batch`` can say ``scenario.yaml:14``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from sn40l_sim.errors import InputError

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
    return data, node


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
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _describe(error: ErrorDetails) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field (check its spelling)"
    if kind == "missing":
        return "required field is missing"
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


def _clean_loc(loc: Sequence[Any]) -> list[str | int]:
    """Drop pydantic's union-branch tags (e.g. ``function-after[...]``) from an error path."""
    return [p for p in loc if isinstance(p, int) or "[" not in str(p)]


def validate(model: type[M], data: Any, node: yaml.Node | None, source: str) -> M:
    """Validate ``data`` against ``model``; the first error becomes a located InputError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        loc = _clean_loc(first["loc"])
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise InputError(
            _describe(first) + more,
            file=source,
            line=line_of(node, loc),
            field=_field_path(loc),
        ) from None


def load_model(model: type[M], path: Path) -> M:
    """Read and validate one YAML file."""
    data, node = read_yaml(path)
    if data is None:
        raise InputError("the file is empty", file=str(path))
    return validate(model, data, node, str(path))
