"""A generator of bad inputs for ``sn40l-sim run``: scenarios, traces and profiles, by category.

Each :class:`Case` is a small folder of files (a scenario, and maybe a profile or a trace) and the
number of problems it holds, so the test can ask for exactly one located stderr line per problem.
The cases are deterministic (no randomness: a failure names a case that reproduces), built from
the categories of issue 13 and the mistakes a new user makes.

``python tests/fuzz_cases.py`` runs them all through the CLI and prints the counts by category and
outcome (the table in docs/benchmark.md).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
PROFILE_TEXT = (REPO / "hw_profiles" / "sn40l_node.yaml").read_text()
PROFILE = yaml.safe_load(PROFILE_TEXT)


@dataclass
class Case:
    """One bad input: ``files`` (relative name -> text or bytes), the scenario file to run, and how
    many problems it holds (None: at least one, when one mistake may read as several)."""

    category: str
    name: str
    files: dict[str, str | bytes]
    n_problems: int | None = 1
    scenario: str = "scenario.yaml"
    tags: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.category}/{self.name}"


def base_scenario(**overrides: Any) -> dict[str, Any]:
    """A valid scenario that simulates 12 requests in milliseconds (the fuzz cases break it)."""
    scenario: dict[str, Any] = {
        "name": "fuzz",
        "platform": "sn40l_node",
        "experts": [{"model": "llama-2-7b", "count": 4, "name_prefix": "expert"}],
        "router": {"latency": "1 ms", "mapping": "round_robin"},
        "workload": {"generator": {"arrivals": {"kind": "poisson", "rate_per_s": 5.0},
                                   "prompt_tokens": 64, "output_tokens": 4, "requests": 12}},
        "serving": {"tensor_parallel": 8, "max_batch": 4, "max_context_tokens": 4096},
        "seed": 1,
        "plots": "none",
    }
    scenario.update(overrides)
    return scenario


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``doc`` with the dotted ``path`` set (``experts.0.count``)."""
    doc = copy.deepcopy(doc)
    node: Any = doc
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return doc


def _scenario_case(category: str, name: str, doc: dict[str, Any], n: int | None = 1,
                   **files: str | bytes) -> Case:
    return Case(category, name, {"scenario.yaml": _dump(doc), **files}, n)


# --- categories ---------------------------------------------------------------------------------

HOSTILE_NAMES = ["../../..", "..", ".", "/etc/passwd", "a/b", "../escape", "/", "a" * 256, "b" * 101,
                 "x" * 1000, "", " ", "a b", "a\\b", "~", "$HOME", "name\x00", "tab\tname", "名前",
                 "émoji😀", "new\nline", "a:b", "*", "?", "con|nul", "../" * 50, "./x", "x/..",
                 ".." + "/x" * 10, "%2e%2e"]


def names() -> Iterator[Case]:
    """Scenario names that are paths, too long, empty or not slugs."""
    for i, value in enumerate(HOSTILE_NAMES):
        yield _scenario_case("names", f"scenario-{i}", base_scenario(name=value))
    for i, value in enumerate(HOSTILE_NAMES[:12]):  # sweep names: the sweep file names the problem
        sweep = {"name": value, "scenario": "base.yaml", "grid": {"serving.max_batch": [1, 2]}}
        yield Case("names", f"sweep-{i}", {"sweep.yaml": _dump(sweep),
                                           "base.yaml": _dump(base_scenario())},
                   scenario="sweep.yaml", tags=["sweep"])


SCENARIO_QUANTITIES = {"router.latency": "5 ms", "serving.affinity_max_wait": "2 s",
                       "serving.kv_reservation": "4 GiB"}
PROFILE_QUANTITIES = ["device.peak_bf16", "device.sram.capacity", "device.sram.bandwidth",
                      "device.hbm.capacity", "device.hbm.bandwidth", "device.ddr.capacity",
                      "device.ddr.bandwidth", "host.dram", "weight_load.bandwidth",
                      "weight_load.latency", "interconnect.bandwidth", "interconnect.latency",
                      "execution.kernel_launch", "execution.hw_launch",
                      "execution.vector_kernel_launch", "execution.attention_kernel_launch",
                      "execution.pipeline_stage_latency", "interconnect.latency_per_doubling",
                      "serving_stack.stacks.samba.program_load", "serving_stack.stacks.samba.request",
                      "serving_stack.stacks.samba.host_layer", "power.device_idle", "power.node_busy"]
BARE = [5, 1.8, "5", "1.8", 0.001, "1e3"]


def _profile_case(category: str, name: str, profile: dict[str, Any] | str,
                  n: int | None = 1) -> Case:
    text = profile if isinstance(profile, str) else _dump(profile)
    return Case(category, name, {"scenario.yaml": _dump(base_scenario(platform="box.yaml")),
                                 "box.yaml": text}, n, tags=["profile"])


def units() -> Iterator[Case]:
    """Bare numbers where a unit is required, in scenarios and in profiles."""
    on_off = {"kind": "on_off", "rate_per_s": 5.0, "on_duration": "1 s", "off_duration": "1 s"}
    for field_, good in {**SCENARIO_QUANTITIES,
                         "workload.generator.arrivals.on_duration": "1 s",
                         "workload.generator.arrivals.off_duration": "1 s"}.items():
        for i, bare in enumerate(BARE):
            doc = base_scenario()
            if "on_duration" in field_ or "off_duration" in field_:
                doc = _set(doc, "workload.generator.arrivals", dict(on_off))
            yield _scenario_case("units", f"{field_}-{i}", _set(doc, field_, bare))
        del good
    for field_ in PROFILE_QUANTITIES:
        for i, bare in enumerate(BARE[:3]):
            yield _profile_case("units", f"profile-{field_}-{i}", _set(PROFILE, field_, bare))
    bad_units = ["1.8 TB", "5 parsec", "64 GIB", "10 uS", "3 FLOPs", "1.8 Tb/s"]
    for i, text in enumerate(bad_units):
        yield _profile_case("units", f"profile-wrong-unit-{i}",
                            _set(PROFILE, "device.hbm.bandwidth", text))


LIMITS: list[tuple[str, Any]] = [
    ("nodes", 10**12), ("nodes", 1025), ("nodes", 10**400), ("nodes", 1e30), ("nodes", 0),
    ("experts.0.count", 10**9), ("experts.0.count", 20_001), ("experts.0.count", 1e30),
    ("workload.generator.requests", 1e30), ("workload.generator.requests", 10**30),
    ("workload.generator.requests", 10_000_001), ("workload.generator.requests", 0),
    ("workload.generator.prompt_tokens", 1e30), ("workload.generator.prompt_tokens", 10**30),
    ("workload.generator.prompt_tokens", 9223372036854775807),
    ("workload.generator.prompt_tokens", 10_000_001), ("workload.generator.output_tokens", 2**63),
    ("workload.generator.output_tokens", -5), ("serving.max_context_tokens", 2**63 - 1),
    ("serving.max_context_tokens", 10**8), ("serving.max_batch", 10**9),
    ("serving.tensor_parallel", 10**9), ("serving.max_steps_per_iteration", 10**12),
    ("serving.replicas", 10**6), ("seed", 2**64), ("seed", -1),
    ("workload.generator.arrivals.rate_per_s", 1e-308),
    ("workload.generator.arrivals.rate_per_s", 5e-324),
    ("workload.generator.arrivals.rate_per_s", 1e-7),
    ("workload.generator.arrivals.rate_per_s", 1e300), ("workload.generator.arrivals.rate_per_s", 0),
    ("workload.generator.arrivals.rate_per_s", -1), ("workload.generator.arrivals.rate_per_s", ".inf"),
    ("workload.generator.arrivals.rate_per_s", ".nan"),
    ("router.latency", "1e9 s"), ("router.latency", "1e30 h"), ("router.latency", "-1 ms"),
    ("serving.affinity_max_wait", "1e300 s"), ("serving.kv_reservation", "1e30 B"),
    ("serving.kv_reservation", "2000 ZiB"),
]


def limits() -> Iterator[Case]:
    """Numbers beyond what the simulator can hold: sizes, counts, tokens, times, rates."""
    for i, (path, value) in enumerate(LIMITS):
        doc = base_scenario()
        if value in (".inf", ".nan"):
            text = _dump(_set(doc, path, 12345.678)).replace("12345.678", value)
            yield Case("limits", f"{path}-{i}", {"scenario.yaml": text})
            continue
        yield _scenario_case("limits", f"{path}-{i}", _set(doc, path, value))
    # Spans: few requests at a slow rate, or many at a rate that is each within limits.
    for i, (requests, rate) in enumerate([(1000, 1e-6), (10_000_000, 0.01), (200, 1e-6),
                                          (5_000_000, 0.001)]):
        doc = _set(_set(base_scenario(), "workload.generator.requests", requests),
                   "workload.generator.arrivals.rate_per_s", rate)
        yield _scenario_case("limits", f"span-{i}", doc)
    for i, (on, off) in enumerate([("1 us", "1e8 s"), ("1 ms", "9e7 s")]):
        doc = _set(base_scenario(), "workload.generator.arrivals",
                   {"kind": "on_off", "rate_per_s": 1.0, "on_duration": on, "off_duration": off})
        yield _scenario_case("limits", f"on-off-span-{i}", doc)
    profile_limits = [("devices_per_node", 10**9), ("devices_per_node", 65), ("nodes", 10**12),
                      ("device.hbm.bandwidth", "1.8 B/s"), ("device.hbm.bandwidth", "1e30 TB/s"),
                      ("device.peak_bf16", "1 FLOP/s"), ("device.hbm.capacity", "1e30 TiB"),
                      ("execution.gemm_half_dim", 1e300), ("execution.max_layers_per_graph", 10**9),
                      ("power.device_busy", "1e30 W"), ("price.node_usd_per_hour", 1e300),
                      ("execution.kernel_launch", "1e12 s")]
    for i, (path, value) in enumerate(profile_limits):
        yield _profile_case("limits", f"profile-{path}-{i}", _set(PROFILE, path, value))
    # nodes x devices_per_node: each within its own limit, the product beyond MAX_DEVICES.
    yield _scenario_case("limits", "devices-product", base_scenario(nodes=1024))


SCENARIO_TEXT = _dump(base_scenario())


def duplicates() -> Iterator[Case]:
    """A key given twice, at every line of the scenario and of the profile that holds a key."""
    lines = SCENARIO_TEXT.splitlines(keepends=True)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if ":" not in stripped or stripped.startswith("-") or stripped.endswith(":"):
            continue
        text = "".join([*lines[:i + 1], line, *lines[i + 1:]])
        yield Case("duplicates", f"scenario-line-{i + 1}", {"scenario.yaml": text})
    plines = PROFILE_TEXT.splitlines(keepends=True)
    for i, line in enumerate(plines):
        stripped = line.split("#")[0].strip()
        if ":" not in stripped or stripped.endswith(":") or i % 2:
            continue
        text = "".join([*plines[:i + 1], line, *plines[i + 1:]])
        yield _profile_case("duplicates", f"profile-line-{i + 1}", text)
    yield Case("duplicates", "three-times", {"scenario.yaml": SCENARIO_TEXT + "seed: 2\nseed: 3\n"},
               n_problems=2)


def _misspell(key: str, how: int) -> str:
    return [key[:-1], key + "s", key[0] + key[2:] if len(key) > 2 else key + "x",
            key.replace("_", "-") if "_" in key else key.upper()][how % 4]


def _key_paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, child in node.items():
            yield (*prefix, key)
            yield from _key_paths(child, (*prefix, key))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _key_paths(child, (*prefix, i))


def _rename(doc: Any, path: tuple[Any, ...], new: str) -> Any:
    doc = copy.deepcopy(doc)
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    items = list(parent.items())
    parent.clear()
    for key, value in items:
        parent[new if key == path[-1] else key] = value
    return doc


def unknown_keys() -> Iterator[Case]:
    """Misspelt keys everywhere: an unknown field with a "did you mean", plus the field it was
    meant to be, when that one is required."""
    doc = base_scenario()
    for i, path in enumerate(_key_paths(doc)):
        key = str(path[-1])
        for how in range(2):
            new = _misspell(key, how + i)
            if new == key:
                continue
            required = key in {"name", "platform", "experts", "workload", "model", "kind",
                               "rate_per_s", "prompt_tokens", "output_tokens", "requests",
                               "generator", "arrivals"}
            yield _scenario_case("unknown_keys", f"{'.'.join(map(str, path))}-{how}",
                                 _rename(doc, path, new), None if required else 1)
    for i, path in enumerate(p for p in _key_paths(PROFILE) if len(p) <= 2):
        if i % 2:
            continue
        new = _misspell(str(path[-1]), i)
        yield _profile_case("unknown_keys", f"profile-{'.'.join(map(str, path))}",
                            _rename(PROFILE, path, new), None)


WRONG_VALUES: list[Any] = [None, True, "abc", [], {}, [1, 2], {"x": 1}, -7, 3.5]
TYPED_FIELDS = ["nodes", "seed", "plots", "experts", "experts.0.model", "experts.0.count",
                "router.mapping", "router.latency", "workload.generator.requests",
                "workload.generator.arrivals", "workload.generator.arrivals.kind",
                "serving.max_batch", "serving.tensor_parallel", "serving.prefetch",
                "serving.replicas", "serving.kv_growth", "name", "platform"]


# "abc" is a valid name, so not a mistake for ``name``.
def wrong_types() -> Iterator[Case]:
    """Values of the wrong type in every kind of field (some are unions, hence ``None``: at least
    one line)."""
    for i, path in enumerate(TYPED_FIELDS):
        for j, value in enumerate(WRONG_VALUES):
            if (i + j) % 3 or (path == "name" and isinstance(value, str)):
                continue
            doc = _set(base_scenario(), path, copy.deepcopy(value))
            yield _scenario_case("wrong_types", f"{path}-{j}", doc, None)


MULTI_SOURCES: list[tuple[str, Any]] = [
    ("nodes", 10**12), ("seed", -1), ("router.latency", 5), ("serving.max_batch", 0),
    ("serving.affinity_max_wait", 2), ("workload.generator.requests", 1e30),
    ("workload.generator.arrivals.rate_per_s", 1e-308), ("serving.tensor_parallel", 0),
    ("serving.max_context_tokens", 1), ("experts.0.count", 0), ("plots", "sometimes"),
    ("serving.kv_reservation", 1024), ("namex", "x"), ("serving.schedulr", "fcfs"),
    ("router.zipf_s", -1), ("serving.max_steps_per_iteration", 0), ("serving.prefetch", "always"),
    ("description", 5), ("serving.kv_growth", "maybe"), ("workload.generator.output_tokens", 0),
    ("output", 7), ("router.accuracy", 2), ("serving.pinned", "all"), ("serving.preload", "x"),
]


def many_problems() -> Iterator[Case]:
    """Several independent problems in one file: all reported, one line each, at most 20."""
    for n in [2, 3, 4, 5, 7, 10, 15, 19, 20, 21, 24]:
        for shift in range(3):
            doc = base_scenario()
            chosen = [MULTI_SOURCES[(k + shift * 5) % len(MULTI_SOURCES)] for k in range(n)]
            for path, value in chosen:
                doc = _set(doc, path, value)
            yield _scenario_case("many_problems", f"{n}-problems-{shift}", doc, min(n, 20))


CSV_HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
OUT_OF_ORDER = "2023-11-16 18:15:00.5,100,10"  # earlier than the first good row: bad unless first
BAD_CSV_ROWS = ["9999-11-16 18:15:02.5,100,10", "0001-11-16 18:15:02.5,100,10",
                "2262-05-01 00:00:00,100,10", "1677-01-01 00:00:00,100,10",
                "2023-11-16 18:15:02.5,9223372036854775807,10",
                "2023-11-16 18:15:02.5,18446744073709551615,10",
                "2023-11-16 18:15:02.5,100,99999999999999999999999",
                "2023-11-16 18:15:02.5,1e30,10", "2023-11-16 18:15:02.5,-3,10",
                "2023-11-16 18:15:02.5,10000001,10", "2023-11-16 18:15:02.5,1.5,10",
                "2023-11-16 18:15:02.5,inf,10", "2023-11-16 18:15:02.5,nan,10",
                "not a date,100,10", "2023-13-45 99:99:99,100,10", OUT_OF_ORDER,
                "2023-11-16 18:15:02.5,,10", "2023-11-16 18:15:02.5,100", "NaN", "null,null,null",
                "2023-11-16 18:15:02.5,100,10,extra"]
MOONCAKE_GOOD = '{"timestamp": 1000, "input_length": 100, "output_length": 5}\n'
BAD_JSONL_ROWS = ['{"a":' * 5000 + "1" + "}" * 5000, "[" * 100_000, '{"timestamp": 1e30, '
                  '"input_length": 100, "output_length": 5}',
                  '{"timestamp": 2000, "input_length": 9223372036854775807, "output_length": 5}',
                  '{"timestamp": 2000, "input_length": 1e400, "output_length": 5}',
                  '{"timestamp": 2000, "input_length": -1, "output_length": 5}',
                  '{"timestamp": 2000, "input_length": "many", "output_length": 5}',
                  '{"timestamp": 500, "input_length": 100, "output_length": 5}',
                  '{"timestamp": NaN, "input_length": 100, "output_length": 5}',
                  '{"timestamp": Infinity, "input_length": 100, "output_length": 5}',
                  '{"timestamp": 2000, "input_length": 100}', "[1, 2, 3]", '"just a string"',
                  "{", "\x00\x01\x02", '{"timestamp": 2000, "input_length": true, "output_length": 5}',
                  '{"timestamp": 1e17, "input_length": 100, "output_length": 5}']


def _trace_scenario(trace: str, **workload: Any) -> str:
    return _dump(base_scenario(workload={"trace": trace, **workload}))


def traces() -> Iterator[Case]:
    """Bad rows in Azure CSV and Mooncake JSONL traces, at the start, middle and end."""
    good = [f"2023-11-16 18:15:{i:02d}.5000000,{100 + i},{10 + i}\n" for i in range(1, 6)]
    for i, row in enumerate(BAD_CSV_ROWS):
        for where in (0, 2, 5):
            if row == OUT_OF_ORDER and where == 0:
                continue
            rows = [*good[:where], row + "\n", *good[where:]]
            yield Case("traces", f"csv-{i}-at-{where}", {
                "scenario.yaml": _trace_scenario("trace.csv"),
                "trace.csv": CSV_HEADER + "".join(rows)}, tags=["trace"])
    for i, row in enumerate(BAD_JSONL_ROWS):
        for where in (0, 3):
            if row.startswith('{"timestamp": 500,') and where == 0:
                continue  # earlier than the others is fine as the first row
            rows = [MOONCAKE_GOOD.replace("1000", str(1000 * (k + 1))) for k in range(4)]
            rows.insert(where, row + "\n")
            yield Case("traces", f"jsonl-{i}-at-{where}", {
                "scenario.yaml": _trace_scenario("trace.jsonl"),
                "trace.jsonl": "".join(rows)}, tags=["trace"])
    for i, workload in enumerate([{"trace": "missing.csv"}, {"trace": "trace.txt"},
                                  {"trace": "trace.csv", "format": "generic",
                                   "columns": {"prompt_tokens": "nope", "output_tokens": "x"}}]):
        yield Case("traces", f"file-{i}", {"scenario.yaml": _dump(base_scenario(workload=workload)),
                                           "trace.csv": CSV_HEADER + "".join(good),
                                           "trace.txt": "x"}, tags=["trace"])
    # Arrivals pushed past the time limit by the scenario, not by a row.
    rows = CSV_HEADER + "".join(f"2023-11-16 {18 + i}:15:01.5,100,10\n" for i in range(3))  # 2 h
    for i, workload in enumerate([{"rate_multiplier": 1e-6}, {"rate_multiplier": 1e-9},
                                  {"loop": True, "max_requests": 10_000_000, "rate_multiplier": 1e-6}]):
        yield Case("traces", f"time-limit-{i}", {"scenario.yaml": _trace_scenario("trace.csv", **workload),
                                                 "trace.csv": rows}, tags=["trace"])


BAD_TEXTS: list[str | bytes] = [
    "", "   \n", "name: [unclosed", "{{{", "- a\n- list\n", "just a string", "123", "[" * 5000,
    "a:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 300)), "\t name: x", "name: x\n\tseed: 1",
    "name: 'unterminated", "!!python/object:os.system ls", "&a [*a]", "x: *undefined",
    b"\xff\xfe\x00n\x00a", b"name: \x80\x81", "name: x\x00", "%YAML 9.9\n---\nname: x",
    "---\nname: a\n---\nname: b\n", "? [complex, key]\n: value", "name: x\nname: y\nname: z",
    "{" * 3000 + "}" * 3000, "1: 2\n3: 4", "null", "~",
]


def syntax() -> Iterator[Case]:
    """Files that are not a scenario at all: empty, broken YAML, binary, deep nesting."""
    for i, text in enumerate(BAD_TEXTS):
        n = 2 if text == "name: x\nname: y\nname: z" else None
        yield Case("syntax", f"text-{i}", {"scenario.yaml": text}, n)


CATEGORIES = {"names": names, "units": units, "limits": limits, "duplicates": duplicates,
              "unknown_keys": unknown_keys, "wrong_types": wrong_types,
              "many_problems": many_problems, "traces": traces, "syntax": syntax}


def all_cases() -> list[Case]:
    cases = [case for make in CATEGORIES.values() for case in make()]
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return cases


def fast_subset(cases: list[Case]) -> list[Case]:
    """About a third of every category (every third case), for the default test run."""
    out: list[Case] = []
    for category in CATEGORIES:
        out.extend([c for c in cases if c.category == category][::3])
    return out


def write_case(case: Case, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in case.files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", errors="surrogatepass")
    return folder / case.scenario


def outcome(problems: list[str]) -> str:
    """The first thing wrong with a case, as a category of the report (or "ok")."""
    labels = [("crash: hang", "hang"), ("crash: worker died", "out of memory"),
              ("crash", "traceback"), ("exit 0 ", "accepted (exit 0)"), ("(expected 2)", "other exit status"),
              ("traceback", "traceback"), ("line(s) for", "wrong number of lines"),
              ("not a located", "not located"), ("neither", "not located"),
              ("names a file", "names another file"), ("lines (expected", "wrong number of lines"),
              ("wrote", "left files behind")]
    if not problems:
        return "ok: exit 2, one located line per problem, nothing written"
    return next((label for key, label in labels if key in problems[0]), problems[0][:40])


if __name__ == "__main__":
    import collections
    import sys
    import tempfile

    sys.path.insert(0, str(Path(__file__).parent))
    from test_fuzz_cli import judge, run_batch

    cases = all_cases()
    with tempfile.TemporaryDirectory() as tmp:
        results = run_batch(cases, Path(tmp))
        table: collections.Counter[tuple[str, str]] = collections.Counter()
        for case, result in zip(cases, results, strict=True):
            problems = judge(case, result, Path(tmp))
            table[(case.category, outcome(problems))] += 1
    print(json.dumps({f"{c} | {o}": n for (c, o), n in sorted(table.items())}, indent=1))
    print(f"{len(cases)} cases")
