"""Fuzzing the scenario loader through the real command line (``sn40l_sim.cli.main``).

Random YAML documents and random mutations of ``scenarios/quickstart.yaml`` (deleted keys,
misspelt keys, wrong types, negative numbers, garbage unit strings, damaged text) must each end
with exit status 0 or 2. Exit 2 must come with one line on stderr per problem, each naming the
file and a line or field, never a traceback; any other exception escaping ``main`` fails the
test, and so does a run that does not end within a time limit. The quickstart's request count is
cut to a handful before other fields are fuzzed, so every case that is still valid simulates in
milliseconds.
Set SN40L_FUZZ_SCALE (e.g. 20) to run that many times more examples when hunting for bugs.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from conftest import REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sn40l_sim.cli import main

CASE_TIMEOUT_S = 20  # a case that runs longer than this counts as a hang
QUICKSTART = yaml.safe_load((REPO / "scenarios" / "quickstart.yaml").read_text())
QUICKSTART["workload"]["generator"]["requests"] = 12
FIELD_NAMES = ["name", "description", "platform", "nodes", "experts", "model", "count",
               "name_prefix", "router", "categories", "mapping", "zipf_s", "latency", "workload",
               "generator", "trace", "arrivals", "kind", "rate_per_s", "prompt_tokens",
               "output_tokens", "requests", "serving", "tensor_parallel", "max_batch",
               "scheduler", "eviction", "kv_reservation", "seed", "plots", "output"]
SCALE = int(os.environ.get("SN40L_FUZZ_SCALE", "1"))
SETTINGS = settings(max_examples=40 * SCALE, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


class Hang(Exception):  # noqa: N818 (a time-out signal, not an error of the code under test)
    """A fuzz case ran past CASE_TIMEOUT_S."""


@contextlib.contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise Hang(f"the case did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_cli(scenario: Path, out: Path) -> tuple[int, str]:
    """``sn40l-sim run`` in this process; any exception other than SystemExit propagates."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with _time_limit(CASE_TIMEOUT_S), contextlib.redirect_stdout(stdout), \
            contextlib.redirect_stderr(stderr):
        code = main(["run", str(scenario), "--no-plots", "--no-progress", "--output", str(out)])
    return code, stderr.getvalue()


_LOCATED = re.compile(r"^sn40l-sim: error: (?P<file>[^\n]*?\.ya?ml)(?P<line>:\d+)?: "
                      r"(?P<field>(?:[A-Za-z_][\w.\[\]-]*|\(top level\)): )?\S")


# Problems of the file as a whole, where no line or field could be named.
WHOLE_FILE_PROBLEMS = (": the file is empty", ": cannot read file: ", ": invalid YAML: collections nested")


def check_outcome(code: int, err: str, scenario: Path) -> None:
    """Exit 0, or exit 2 with one located line per problem (file, and a line or a field)."""
    assert code in (0, 2), f"exit status {code}: {err}"
    if code == 0:
        return
    assert "Traceback" not in err, err
    lines = err.splitlines(keepends=True)
    assert 1 <= len(lines) <= 20 and err.endswith("\n"), f"expected 1 to 20 lines, got:\n{err}"
    for line in lines:
        match = _LOCATED.match(line)
        assert match, f"the error names no YAML file: {line}"
        whole_file = any(problem in line for problem in WHOLE_FILE_PROBLEMS)
        assert match["line"] or match["field"] or whole_file, \
            f"the error names neither a line nor a field: {line}"
        named = Path(match["file"])
        assert named == scenario or named.is_file(), f"the error names a file that is not there: {line}"


# --- random documents ----------------------------------------------------------------------------

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(10**30), 10**30),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
KEYS = st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=8))
DOCUMENTS = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)), max_leaves=25)


@SETTINGS
@given(doc=DOCUMENTS)
def test_random_documents(tmp_path_factory, doc):
    folder = tmp_path_factory.mktemp("doc")
    scenario = folder / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(doc, allow_unicode=True))
    check_outcome(*run_cli(scenario, folder / "out"), scenario)


@settings(max_examples=30 * SCALE, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(st.text(max_size=200), st.binary(max_size=100),
                     st.integers(1, 5000).map(lambda n: "[" * n),
                     st.integers(1, 5000).map(lambda n: "a:\n" + "".join(
                         " " * i + f"k{i}:\n" for i in range(1, min(n, 300))))))
def test_random_text(tmp_path_factory, raw):
    folder = tmp_path_factory.mktemp("text")
    scenario = folder / "scenario.yaml"
    if isinstance(raw, bytes):
        scenario.write_bytes(raw)
    else:
        scenario.write_text(raw, encoding="utf-8", errors="surrogatepass")
    check_outcome(*run_cli(scenario, folder / "out"), scenario)


# --- mutations of the quickstart scenario --------------------------------------------------------


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key/index path in a document (the root excluded)."""
    out: list[tuple] = []
    children = (node.items() if isinstance(node, dict)
                else enumerate(node) if isinstance(node, list) else ())
    for key, child in children:
        out.append((*prefix, key))
        out.extend(_paths(child, (*prefix, key)))
    return out


def _parent(doc: Any, path: tuple) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


def _misspell(key: str, how: int, i: int) -> str:
    if not key:
        return "x"
    i %= len(key)
    return [key[:i] + key[i + 1:], key[:i] + key[i] + key[i:], key[:i] + "_" + key[i:],
            key.upper(), key + "s", key[:i] + key[i:][::-1]][how]


WRONG_TYPES = st.sampled_from([None, True, False, "abc", "", [], {}, [1, 2], {"x": 1}, 3.5, -7, 0,
                               "12 parsecs", [{"model": "llama-2-7b"}], 10**400])
GARBAGE_UNITS = st.sampled_from(["5 GiBs", "3 furlongs", "1e999 TB/s", "nan s", "-0 ms",
                                 "10 µs/s", "1.8 TB", "64 GIB", "1..5 s", "fast", "∞ s", "1e-400 s",
                                 "2 KiFLOP/s", "0x10 B", "-1.8 TB/s", " ", "1 2 s"])
MUTATION = st.tuples(st.sampled_from(["delete", "misspell", "wrong_type", "negative", "unit"]),
                     st.integers(0, 10**6), st.integers(0, 5), st.integers(0, 100), WRONG_TYPES,
                     GARBAGE_UNITS)


def mutate(doc: dict, mutation: tuple) -> None:
    """Apply one structural mutation at a path chosen by ``pick``."""
    kind, pick, how, i, wrong, garbage = mutation
    paths = _paths(doc)
    if not paths:
        return
    path = paths[pick % len(paths)]
    parent, key = _parent(doc, path), path[-1]
    if kind == "delete":
        del parent[key]
    elif kind == "misspell" and isinstance(parent, dict):
        parent[_misspell(str(key), how, i)] = parent.pop(key)
    elif kind == "wrong_type":
        parent[key] = copy.deepcopy(wrong)
    elif kind == "negative":
        value = parent[key]
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            parent[key] = -1
        elif isinstance(value, str):
            parent[key] = "-" + value
        else:
            parent[key] = -value if value else -1
    elif kind == "unit":
        parent[key] = garbage


def damage_text(text: str, edits: list[tuple[int, int, str]]) -> str:
    """Line-level damage: drop a line, duplicate it, re-indent it, or insert characters."""
    lines = text.splitlines(keepends=True)
    for op, where, chars in edits:
        if not lines:
            break
        n = where % len(lines)
        if op == 0:
            del lines[n]
        elif op == 1:
            lines.insert(n, lines[n])
        elif op == 2:
            lines[n] = " " + lines[n]
        else:
            col = where % (len(lines[n]) + 1)
            lines[n] = lines[n][:col] + chars + lines[n][col:]
    return "".join(lines)


@SETTINGS
@given(mutations=st.lists(MUTATION, min_size=1, max_size=3))
def test_mutated_quickstart(tmp_path_factory, mutations):
    doc = copy.deepcopy(QUICKSTART)
    for mutation in mutations:
        mutate(doc, mutation)
    folder = tmp_path_factory.mktemp("mut")
    scenario = folder / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    check_outcome(*run_cli(scenario, folder / "out"), scenario)


@settings(max_examples=30 * SCALE, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6),
                                st.sampled_from([":", "-", "{", "[", "'", '"', "#", "\t", "  ",
                                                 "&a", "*a", "!!python/object ", "\x00", "%"])),
                      min_size=1, max_size=3))
def test_damaged_quickstart_text(tmp_path_factory, edits):
    text = yaml.safe_dump(QUICKSTART, sort_keys=False)
    folder = tmp_path_factory.mktemp("txt")
    scenario = folder / "scenario.yaml"
    scenario.write_text(damage_text(text, edits))
    check_outcome(*run_cli(scenario, folder / "out"), scenario)


def test_quickstart_itself_runs(tmp_path):
    """The oracle's baseline: the capped quickstart is valid and exits 0."""
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(QUICKSTART, sort_keys=False))
    code, err = run_cli(scenario, tmp_path / "out")
    assert code == 0, err
