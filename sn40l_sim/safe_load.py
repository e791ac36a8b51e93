"""Reading files the tool did not just write as untrusted input: bounded in size, depth and
alias expansion, every failure one located :class:`~sn40l_sim.errors.InputError`.

Scenario, sweep and profile files, and a results folder's ``run_info.json``,
``scenario.resolved.yaml`` and ``sweep.json`` are read through here. A file is read only up to its
limit (``/dev/zero`` or a 50 MB file stops at the limit, not at the end of memory), and a YAML
document whose aliases would expand past :data:`MAX_YAML_NODES` nodes (a "billion laughs" bomb:
a few hundred bytes that expand to 10^9 items) is refused before anything walks it.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from sn40l_sim.errors import InputError

MAX_INPUT_BYTES = 4 * 2**20  # a scenario, sweep or profile file: the largest example is ~10 kB
MAX_RESULTS_JSON_BYTES = 64 * 2**20  # run_info.json, sweep.json of a results folder
MAX_NESTING = 64  # mappings and lists inside each other
MAX_YAML_NODES = 1_000_000  # nodes of a YAML document with every alias expanded


def read_text_bounded(path: Path, max_bytes: int = MAX_INPUT_BYTES) -> str:
    """The text of ``path``, read no further than ``max_bytes`` (+1, to know it is longer)."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise InputError("is a folder, not a file", file=str(path))
        if stat.S_ISREG(info.st_mode) and info.st_size > max_bytes:
            raise InputError(f"the file has {info.st_size:,} bytes; the limit is {max_bytes:,} "
                             "(see docs/limits.md)", file=str(path))
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", file=str(path)) from None
    if len(raw) > max_bytes:
        raise InputError(f"more than {max_bytes:,} bytes (not a regular file of a sensible size; "
                         "see docs/limits.md)", file=str(path))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(f"not UTF-8 text ('utf-8' codec can't decode byte #{exc.start})",
                         file=str(path), line=line) from None


def check_yaml_size(node: yaml.Node | None, source: str) -> None:
    """Refuse a document whose aliases expand past :data:`MAX_YAML_NODES` nodes, or refer to
    themselves, counting each distinct node once (linear in the file, however large the expansion)."""
    if node is None:
        return
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        current, children_done = stack.pop()
        key = id(current)
        if key in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(current, yaml.MappingNode):
            children = [n for pair in current.value for n in pair]
        elif isinstance(current, yaml.SequenceNode):
            children = list(current.value)
        if children_done:
            open_nodes.discard(key)
            total = 1 + sum(sizes[id(c)] for c in children)
            if total > MAX_YAML_NODES:
                raise InputError(f"invalid YAML: aliases expand the document past {MAX_YAML_NODES:,} "
                                 "values (a 'billion laughs' document?)", file=source,
                                 line=current.start_mark.line + 1)
            sizes[key] = total
            continue
        if key in open_nodes:
            raise InputError("invalid YAML: an alias refers to a collection that holds it",
                             file=source, line=current.start_mark.line + 1)
        open_nodes.add(key)
        stack.append((current, True))
        for child in children:
            if id(child) in open_nodes:
                raise InputError("invalid YAML: an alias refers to a collection that holds it",
                                 file=source, line=child.start_mark.line + 1)
            if id(child) not in sizes:
                stack.append((child, False))


def check_depth(data: Any, source: str, max_depth: int = MAX_NESTING) -> None:
    """Refuse data nested deeper than ``max_depth`` (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > max_depth:
            raise InputError(f"nested more than {max_depth} levels deep", file=source)
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def read_json(path: Path, max_bytes: int = MAX_RESULTS_JSON_BYTES) -> Any:
    """A JSON file of a results folder: bounded, parsed, nesting checked; errors located."""
    text = read_text_bounded(path, max_bytes)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", file=str(path), line=exc.lineno) from None
    except RecursionError:
        raise InputError(f"not valid JSON here: nested more than {MAX_NESTING} levels deep",
                         file=str(path)) from None
    check_depth(data, str(path))
    return data


def read_yaml_data(path: Path, max_bytes: int = MAX_INPUT_BYTES) -> Any:
    """The data of a YAML file of a results folder (``scenario.resolved.yaml``), safely: bounded
    size, no alias bombs, bounded nesting."""
    text = read_text_bounded(path, max_bytes)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        check_yaml_size(node, str(path))
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise InputError(f"invalid YAML: {exc.problem}", file=str(path),
                         line=mark.line + 1 if mark is not None else None) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {' '.join(str(exc).split())[:200]}", file=str(path)) from None
    except RecursionError:
        raise InputError("invalid YAML: collections nested too deeply", file=str(path)) from None
    check_depth(data, str(path))
    return data


def is_readable_file(path: Path) -> bool:
    """Whether ``path`` is a regular file this user can read (not a folder, device or pipe)."""
    try:
        return stat.S_ISREG(path.stat().st_mode) and os.access(path, os.R_OK)
    except OSError:
        return False
