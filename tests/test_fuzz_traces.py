"""Fuzzing the trace readers through the command line: random garbage lines in CSV and JSONL.

A small valid trace (Azure CSV or Mooncake JSONL) gets random lines inserted after its header:
arbitrary text, quotes, separators, invalid UTF-8. With ``on_bad_row: stop`` every case must end
with exit 0 or exit 2 and one message naming the trace file and a line inside it; with
``on_bad_row: skip`` the good rows are all kept and the rest are skipped and counted in
summary.json (or, for a garbage line that happens to read as a valid row out of time order, exit
2 with the file and line). No other exception may escape ``main``, and no case may hang.
The structured cases (each kind of bad value at an exact line) are in test_workload_traces.py.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz_scenario import run_cli

SCALE = int(os.environ.get("SN40L_FUZZ_SCALE", "1"))
SETTINGS = settings(max_examples=25 * SCALE, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

# Any text, with the characters that make CSV and JSON interesting over-represented.
WILD = st.text(alphabet=st.one_of(st.characters(), st.sampled_from(',"\'{}[]:\\ \t\r\n0123456789.-eE')),
               max_size=40)
# One physical line that cannot merge with its neighbours (no quotes, no line breaks).
TAME = st.text(alphabet=st.one_of(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters='"'),
    st.sampled_from(",{}[]:.-eE0123456789 ")), min_size=1, max_size=40).filter(
    lambda s: s.replace(",", "").strip() != "")  # a line of empty fields reads as blank
GARBAGE = st.one_of(WILD.map(lambda s: s.encode("utf-8", "surrogatepass")), st.binary(max_size=20))


def _azure_lines(n: int) -> list[bytes]:
    return [f"2023-11-16 18:15:{i:02d}.5000000,{100 + i},{10 + i}\n".encode() for i in range(n)]


def _mooncake_lines(n: int) -> list[bytes]:
    return [(json.dumps({"timestamp": 1000 * i, "input_length": 100 + i, "output_length": 5})
             + "\n").encode() for i in range(n)]


# Problems reported with the file but without a line (see docs/benchmark.md, "Fuzzing"): bytes
# that are not UTF-8 text, and a quote left open up to the end of the file (pandas' tokenizer
# gives no line for it).
UNLOCATED = ("codec can't decode", "EOF inside string")

TRACES = {
    "csv": (b"TIMESTAMP,ContextTokens,GeneratedTokens\n", _azure_lines),
    "jsonl": (b"", _mooncake_lines),
}


def _scenario(trace: str, on_bad_row: str) -> dict:
    """A tiny CoE on the trace: a few experts, a fixed router latency (no router model)."""
    return {"name": "fuzz-trace", "platform": "sn40l_node",
            "experts": [{"model": "llama-2-7b", "count": 4, "name_prefix": "expert"}],
            "router": {"latency": "1 ms", "mapping": "round_robin"},
            "workload": {"trace": trace, "on_bad_row": on_bad_row},
            "serving": {"tensor_parallel": 8, "max_batch": 4}, "seed": 1, "plots": "none"}


def _write_case(folder: Path, kind: str, n_good: int, inserts: list[tuple[int, bytes]],
                on_bad_row: str) -> tuple[Path, Path, bytes]:
    header, make = TRACES[kind]
    rows = make(n_good)
    for position, line in inserts:
        rows.insert(position % (len(rows) + 1), line if line.endswith(b"\n") else line + b"\n")
    trace = folder / f"trace.{kind}"
    data = header + b"".join(rows)
    trace.write_bytes(data)
    scenario = folder / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(_scenario(trace.name, on_bad_row), sort_keys=False))
    return scenario, trace, data


def _check_located(err: str, trace: Path, data: bytes) -> None:
    """One line on stderr naming the trace file and a line that exists in it."""
    assert "Traceback" not in err, err
    assert err.count("\n") == 1, f"expected one line on stderr, got:\n{err}"
    if any(problem in err for problem in UNLOCATED):
        assert str(trace) in err, err
        return
    match = re.search(re.escape(str(trace)) + r":(\d+): ", err)
    assert match, f"the error does not name {trace.name} and a line: {err}"
    n_lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    assert 1 <= int(match.group(1)) <= n_lines, err


@SETTINGS
@given(kind=st.sampled_from(sorted(TRACES)), n_good=st.integers(2, 12),
       inserts=st.lists(st.tuples(st.integers(0, 100), GARBAGE), min_size=1, max_size=4))
def test_garbage_lines_stop_with_file_and_line(tmp_path_factory, kind, n_good, inserts):
    folder = tmp_path_factory.mktemp("stop")
    scenario, trace, data = _write_case(folder, kind, n_good, inserts, "stop")
    code, err = run_cli(scenario, folder / "out")
    assert code in (0, 2), f"exit status {code}: {err}"
    if code == 2:
        _check_located(err, trace, data)


def _summary(out: Path) -> dict:
    (path,) = out.glob("*/*/summary.json")
    return json.loads(path.read_text())


@SETTINGS
@given(kind=st.sampled_from(sorted(TRACES)), n_good=st.integers(2, 12),
       inserts=st.lists(st.tuples(st.integers(0, 100), TAME.map(str.encode)), min_size=1,
                        max_size=4))
def test_garbage_lines_skipped_and_counted(tmp_path_factory, kind, n_good, inserts):
    folder = tmp_path_factory.mktemp("skip")
    scenario, trace, data = _write_case(folder, kind, n_good, inserts, "skip")
    code, err = run_cli(scenario, folder / "out")
    assert code in (0, 2), f"exit status {code}: {err}"
    if code == 2:
        _check_located(err, trace, data)
        assert "must not decrease" in err, f"only time order may stop a skipping run: {err}"
        return
    stats = _summary(folder / "out")["workload"]
    n_garbage = len(inserts)
    # Every good row is kept; each garbage line is kept (if it reads as a valid row) or counted.
    assert stats["n_requests"] >= n_good
    assert stats["n_requests"] + stats["n_bad_rows_skipped"] == n_good + n_garbage
    assert 1 <= len(stats["skipped_examples"]) <= 5 or stats["n_bad_rows_skipped"] == 0


@pytest.mark.parametrize("kind", sorted(TRACES))
def test_known_bad_line_is_named(tmp_path, kind):
    """The oracle's baseline: one bad line at line 3 is reported there, and skipped when asked."""
    bad = b"2023-11-16 18:15:59.5,many,3" if kind == "csv" else b'{"timestamp": "soon"}'
    position = 1 if kind == "csv" else 2  # line 3 either way (the CSV has a header)
    scenario, trace, data = _write_case(tmp_path, kind, 4, [(position, bad)], "stop")
    code, err = run_cli(scenario, tmp_path / "out")
    assert code == 2
    _check_located(err, trace, data)
    assert f"{trace}:3: " in err
    scenario, trace, data = _write_case(tmp_path, kind, 4, [(position, bad)], "skip")
    code, err = run_cli(scenario, tmp_path / "out2")
    assert code == 0, err
    stats = _summary(tmp_path / "out2")["workload"]
    assert stats["n_requests"] == 4 and stats["n_bad_rows_skipped"] == 1
