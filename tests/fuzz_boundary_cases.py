"""A generator of hostile uses of everything around the scenario file: output paths, damaged results
folders, command arguments, sweep and search files, and the Python API.

Each :class:`BoundaryCase` is a folder prepared by ``setup`` and one command line (``argv``) or one
API call (``api``), with the outcome it must have: ``error`` (exit 2, or InputError from the API),
``ok`` (exit 0) or ``fault`` (exit 1). ``allowed`` names the only top-level entries of the case folder
that may be new afterwards (nothing outside ``--output``). Cases are deterministic.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from fuzz_cases import base_scenario

Setup = Callable[[Path, Path], None]  # (case folder, shared template folder)


@dataclass
class BoundaryCase:
    category: str
    name: str
    setup: Setup
    argv: list[str] | None = None
    api: dict[str, Any] | None = None
    expect: str = "error"
    allowed: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.category}/{self.name}"


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def _files(**texts: str | bytes) -> Setup:
    def setup(case: Path, template: Path) -> None:
        for name, text in texts.items():
            path = case / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(text, bytes):
                path.write_bytes(text)
            else:
                path.write_text(text)

    return setup


def _both(*setups: Setup) -> Setup:
    def setup(case: Path, template: Path) -> None:
        for one in setups:
            one(case, template)

    return setup


SCENARIO = _dump(base_scenario())
SWEEP_BASE = {"name": "fz", "scenario": "base.yaml", "grid": {"serving.max_batch": [1, 2]}}


def _scenario(**overrides: Any) -> Setup:
    return _files(**{"s.yaml": _dump(base_scenario(**overrides))})


def _sweep(**overrides: Any) -> Setup:
    spec = {**SWEEP_BASE, **overrides}
    return _files(**{"sweep.yaml": _dump(spec), "base.yaml": SCENARIO})


# --- output paths --------------------------------------------------------------------------------


def _place(kind: str) -> Setup:
    """Make the thing an output path points at (or under)."""

    def setup(case: Path, template: Path) -> None:
        if kind == "file":
            (case / "taken").write_text("a file\n")
        elif kind == "loop":
            Path(case / "taken").symlink_to("loop2")
            Path(case / "loop2").symlink_to("taken")
        elif kind == "dangling":
            Path(case / "taken").symlink_to("nowhere/at/all")
        elif kind == "fifo":
            os.mkfifo(case / "taken")
        elif kind == "emptydir":
            (case / "taken").mkdir()
        elif kind == "null_device":  # a private /dev/null (root only; else a plain file)
            try:
                os.mknod(case / "taken", stat.S_IFCHR | 0o666, os.makedev(1, 3))
            except (PermissionError, OSError):
                (case / "taken").write_text("")
        elif kind == "link_to_dir":
            (case / "real").mkdir()
            Path(case / "taken").symlink_to("real")

    return setup


BAD_OUTPUTS: list[tuple[str, str, str]] = [  # (name, place kind, --output)
    ("a-file", "file", "taken"),
    ("under-a-file", "file", "taken/sub"),
    ("deep-under-a-file", "file", "taken/a/b"),
    ("symlink-loop", "loop", "taken"),
    ("under-symlink-loop", "loop", "taken/sub"),
    ("dangling-symlink", "dangling", "taken"),
    ("under-dangling", "dangling", "taken/x"),
    ("fifo", "fifo", "taken"),
    ("under-fifo", "fifo", "taken/x"),
    ("dev-null", "none", "/dev/null"),
    ("under-dev-null", "none", "/dev/null/x"),
    ("long-name", "none", "n" * 300),
    ("long-path", "none", "/".join(["p" * 100] * 45)),
    ("dev-zero", "none", "/dev/zero"),
    ("blank", "none", "   "),
]
GOOD_OUTPUTS: list[tuple[str, str, str, str]] = [  # (name, place kind, --output, top-level entry)
    ("new", "none", "out", "out"),
    ("nested", "none", "out/a/b/c", "out"),
    ("tilde", "none", "~", "~"),
    ("tilde-sub", "none", "~/res", "~"),
    ("dollar-home", "none", "$HOME", "$HOME"),
    ("dash", "none", "-", "-"),
    ("unicode", "none", "résultats-名前", "résultats-名前"),
    ("space", "none", "my out", "my out"),
    ("trailing-slash", "none", "out/", "out"),
    ("empty-dir", "emptydir", "taken", "taken"),
    ("link-to-dir", "link_to_dir", "taken", "real"),
    ("dot-dot-back", "none", "x/../out", "out"),
]


def output_paths() -> Iterator[BoundaryCase]:
    cmds = {
        "run": ["run", "s.yaml", "--no-plots", "--no-progress"],
        "compare": ["compare", "s.yaml", "--platforms", "sn40l_node,dgx_h100", "--no-plots", "--no-progress"],
    }
    for cmd, argv in cmds.items():
        for name, kind, target in BAD_OUTPUTS:
            yield BoundaryCase(
                "output_paths",
                f"{cmd}-{name}",
                _both(_files(**{"s.yaml": SCENARIO}), _place(kind)),
                [*argv, "--output", target],
            )
            # the same folder given as the scenario's own 'output'
            yield BoundaryCase(
                "output_paths", f"{cmd}-field-{name}", _both(_scenario(output=target), _place(kind)), argv
            )
        for name, kind, target, top in GOOD_OUTPUTS:
            yield BoundaryCase(
                "output_paths",
                f"{cmd}-ok-{name}",
                _both(_files(**{"s.yaml": SCENARIO}), _place(kind)),
                [*argv, "--output", target],
                expect="ok",
                allowed=[top],
            )
    sweep = ["sweep", "sweep.yaml", "--workers", "1", "--no-progress"]
    for name, kind, target in BAD_OUTPUTS:
        yield BoundaryCase(
            "output_paths", f"sweep-{name}", _both(_sweep(), _place(kind)), [*sweep, "--output", target]
        )
    foot = ["footprint", "--experts", "4", "--platforms", "sn40l_node"]
    for name, kind, target in BAD_OUTPUTS:
        if target.startswith("/dev/") or (kind == "file" and target == "taken"):
            continue  # a file (or a device) that --json may write to; never the machine's devices
        yield BoundaryCase("output_paths", f"footprint-json-{name}", _place(kind), [*foot, "--json", target])
    # (never the machine's /dev/null: a rename over it would replace the device for everyone)
    for name, kind, target in (
        ("json-new", "none", "rows.json"),
        ("json-null-device", "null_device", "taken"),
        ("json-over-file", "file", "taken"),
    ):
        yield BoundaryCase(
            "output_paths",
            f"footprint-{name}",
            _place(kind),
            [*foot, "--json", target],
            expect="ok",
            allowed=[target],
        )
    yield BoundaryCase("output_paths", "footprint-json-dir", _place("emptydir"), [*foot, "--json", "taken"])


# --- damaged results folders ----------------------------------------------------------------------


def _damaged(target: str, how: str) -> Setup:
    def setup(case: Path, template: Path) -> None:
        run = case / "run"
        shutil.copytree(template / "run", run)
        path = run / target
        if how == "delete":
            path.unlink()
        elif how == "zero":
            path.write_bytes(b"")
        elif how == "truncate":
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])
        elif how == "tail-cut":
            data = path.read_bytes()
            path.write_bytes(data[:-9])
        elif how == "garbage":
            path.write_bytes(bytes(range(256)) * 8)
        elif how == "directory":
            path.unlink()
            path.mkdir()
        elif how == "loop":
            path.unlink()
            Path(path).symlink_to(path.name)
        elif how == "dangling":
            path.unlink()
            Path(path).symlink_to("missing-file")
        elif how == "swap":  # the other table in its place: the wrong columns
            other = "events.parquet" if target == "requests.parquet" else "requests.parquet"
            shutil.copy(run / other, path)
        elif how == "parts":
            (run / "requests.parquet.parts").mkdir()
        elif how.startswith("text:"):
            path.write_text(how[5:])
        elif how.startswith("json:"):
            data = json.loads(path.read_text())
            key, value = how[5:].split("=", 1)
            data[key] = json.loads(value)
            path.write_text(json.dumps(data))
        elif how == "drop-memory":
            data = json.loads(path.read_text())
            del data["memory"]
            path.write_text(json.dumps(data))
        elif how == "big":
            path.write_bytes(b" " * (70 * 2**20))

    return setup


BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
    "name: [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n"
)
PARQUET_DAMAGE = [
    "delete",
    "zero",
    "truncate",
    "tail-cut",
    "garbage",
    "directory",
    "loop",
    "dangling",
    "swap",
]
JSON_DAMAGE = [
    "delete",
    "zero",
    "garbage",
    "directory",
    "loop",
    "dangling",
    "text:null",
    "text:[]",
    'text:"x"',
    "text:" + "[" * 50_000,
    'text:{"a": 1',
    'json:n_experts="4"',
    "json:memory=null",
    "json:memory=[]",
    'json:wall_s="slow"',
    "json:warnings=5",
    "drop-memory",
    "big",
    "json:n_experts=1e999",
]
YAML_DAMAGE = [
    "delete",
    "zero",
    "garbage",
    "directory",
    "loop",
    "text:" + BOMB,
    "text:name: [unclosed",
    "text:- a\n- b\n",
    "text:name: 5\n",
    "text:name: " + "n" * 200 + "\n",
    "text:other: x\n",
    "text:" + "[" * 20_000,
    "text:\t\x00\x01",
]


def damaged_results() -> Iterator[BoundaryCase]:
    cases: list[tuple[str, str]] = [
        (t, h) for t in ("requests.parquet", "events.parquet") for h in PARQUET_DAMAGE
    ]
    cases += [("run_info.json", h) for h in JSON_DAMAGE]
    cases += [("scenario.resolved.yaml", h) for h in YAML_DAMAGE]
    cases += [("requests.parquet", "parts")]
    for target, how in cases:
        label = f"{target.split('.')[0]}-{how[:18].strip(':')}-{abs(hash(how)) % 997}"
        yield BoundaryCase(
            "damaged_results", f"summarize-{label}", _damaged(target, how), ["summarize", "run"], allowed=[]
        )
        yield BoundaryCase(
            "damaged_results",
            f"summarize-json-{label}",
            _damaged(target, how),
            ["summarize", "run", "--json", "--no-write"],
        )
    for name, text in (("missing", None), ("a-file", "x"), ("dev-null", "/dev/null"), ("empty-dir", "")):

        def setup(case: Path, template: Path, text: str | None = text) -> None:
            if text == "x":
                (case / "run").write_text("x")
            elif text == "":
                (case / "run").mkdir()

        target = "/dev/null" if text == "/dev/null" else "run"
        yield BoundaryCase("damaged_results", f"summarize-dir-{name}", setup, ["summarize", target])
    yield BoundaryCase(
        "damaged_results",
        "summarize-intact",
        _damaged("summary.json", "delete"),
        ["summarize", "run", "--json"],
        expect="ok",
    )
    # a sweep folder resumed over damaged files: named before any point runs
    sweep_damage = [("sweep.json", "text:" + d) for d in ("null", "[]", "\x00\x01", "{", "[" * 50_000)]
    sweep_damage += [
        ("sweep.json", "directory"),
        ("points/abc.parquet", "garbage"),
        ("points/abc.parquet", "zero"),
        ("points/abc.parquet", "directory"),
        ("points/abc.parquet", "truncate"),
    ]
    for target, how in sweep_damage:

        def setup(case: Path, template: Path, target: str = target, how: str = how) -> None:
            _sweep()(case, template)
            folder = case / "out" / "fz"
            (folder / "points").mkdir(parents=True)
            path = folder / target
            if how == "directory":
                path.mkdir()
            elif how in ("garbage", "zero", "truncate"):
                data = (template / "run" / "events.parquet").read_bytes()
                path.write_bytes({"garbage": b"\x00PAR1" * 50, "zero": b"", "truncate": data[:40]}[how])
            else:
                path.write_text(how[5:])

        label = f"{target.split('/')[0].split('.')[0]}-{how[:10].strip(':')}-{abs(hash(how)) % 997}"
        yield BoundaryCase(
            "damaged_results",
            f"sweep-resume-{label}",
            setup,
            ["sweep", "sweep.yaml", "--workers", "1", "--no-progress", "--output", "out"],
            allowed=["out"],
        )


# --- command arguments ---------------------------------------------------------------------------


def commands() -> Iterator[BoundaryCase]:
    foot = ["footprint", "--platforms", "sn40l_node", "--experts", "4"]
    bad_footprint = [
        ["--tp", "0"],
        ["--tp", "-1"],
        ["--tp", "1000000"],
        ["--tensor-parallel", "0"],
        ["--tp", "16"],
        ["--experts", "0"],
        ["--experts", "-5"],
        ["--experts", "1000000000"],
        ["--experts", "1e9"],
        ["--max-batch", "0"],
        ["--max-batch", "-1"],
        ["--max-batch", "10000000"],
        ["--max-context", "0"],
        ["--max-context", "-7"],
        ["--prompt-tokens", "0"],
        ["--prompt-tokens", "-1"],
        ["--prompt-tokens", "1000000000000"],
        ["--output-tokens", "0"],
        ["--output-tokens", "-3"],
        ["--platforms", ""],
        ["--platforms", ",,"],
        ["--platforms", "bogus"],
        ["--platforms", "sn40l_node,bogus"],
        ["--model", "bogus"],
        ["--router", "bogus"],
        ["--tp", "x"],
        ["--experts", "nan"],
    ]
    for i, extra in enumerate(bad_footprint):
        yield BoundaryCase("commands", f"footprint-{i}-{extra[0][2:]}", _files(), [*foot, *extra])
    for i, extra in enumerate(
        [["--tp", "8"], ["--tp", "1"], ["--router", "none"], ["--tensor-parallel", "4"]]
    ):
        yield BoundaryCase("commands", f"footprint-ok-{i}", _files(), [*foot, *extra], expect="ok")
    compare = ["compare", "s.yaml", "--no-plots", "--no-progress", "--output", "out"]
    for i, platforms in enumerate(
        [
            "",
            ",",
            " , ",
            "bogus",
            "sn40l_node,bogus",
            "sn40l_node,sn40l_node",
            "missing.yaml",
            "/dev/null",
            "sn40l_node,../etc/passwd",
        ]
    ):
        yield BoundaryCase(
            "commands",
            f"compare-platforms-{i}",
            _files(**{"s.yaml": SCENARIO}),
            [*compare, "--platforms", platforms],
        )
    for name, scenario in (
        ("dir", "folder"),
        ("dev-null", "/dev/null"),
        ("dev-zero", "/dev/zero"),
        ("missing", "nope.yaml"),
        ("big", "big.yaml"),
        ("bomb", "bomb.yaml"),
        ("binary", "bin.yaml"),
        ("deep", "deep.yaml"),
        ("long-name", "l" * 300 + ".yaml"),
    ):
        setup = _files(
            **{
                "big.yaml": "# x\n" * 1_500_000,
                "bomb.yaml": BOMB,
                "bin.yaml": bytes(range(256)),
                "deep.yaml": "a: " + "[" * 30_000,
                "folder/x": "",
            }
        )
        for cmd in ("run", "compare"):
            yield BoundaryCase(
                "commands",
                f"{cmd}-scenario-{name}",
                setup,
                [cmd, scenario, "--no-plots", "--no-progress", "--output", "out"],
            )
        yield BoundaryCase(
            "commands", f"sweep-file-{name}", setup, ["sweep", scenario, "--no-progress", "--output", "out"]
        )
    plot_dir = _damaged("summary.json", "delete")
    for i, (setup, argv) in enumerate(
        [
            (_files(), ["plot", "missing"]),
            (_files(f="x"), ["plot", "f"]),
            (_files(**{"d/x": ""}), ["plot", "d"]),
            (_files(**{"d/points.parquet": b"garbage"}), ["plot", "d"]),
            (_files(**{"d/points.parquet": b""}), ["plot", "d"]),
            (_files(**{"d/points/x.parquet": b"PAR1"}), ["plot", "d"]),
            (plot_dir, ["plot", "run"]),
            (_files(), ["plot", "/dev/null"]),
            (_files(**{"d/x": ""}), ["plot", "d", "--slo", "nan"]),
            (_files(**{"d/x": ""}), ["plot", "d", "--kind", "bogus"]),
        ]
    ):
        yield BoundaryCase("commands", f"plot-{i}", setup, argv)
    for i, (setup, argv) in enumerate(
        [
            (_files(), ["validate", "--only", "bogus", "--output", ""]),
            (_files(), ["validate", "--only", ",", "--output", ""]),
            (_place("emptydir"), ["validate", "--json", "taken", "--output", ""]),
            (_place("file"), ["validate", "--json", "taken/x.json", "--output", ""]),
            (_place("file"), ["validate", "--output", "taken"]),
            (_place("fifo"), ["validate", "--json", "taken", "--output", ""]),
            (_place("file"), ["data", "fetch", "bogus", "--data-dir", "taken"]),
            (_place("file"), ["data", "fetch", "azure-llm-2023", "--data-dir", "taken"]),
            (_place("loop"), ["data", "fetch", "azure-llm-2023", "--data-dir", "taken"]),
            (_files(), ["data", "fetch", "bogus"]),
            (_files(), ["schema", "bogus"]),
            (_files(), ["summarize"]),
            (_files(), ["bogus-command"]),
            (_files(), ["summarize", "run", "--bogus"]),
        ]
    ):
        yield BoundaryCase("commands", f"misc-{i}-{argv[0]}", setup, argv)
    yield BoundaryCase("commands", "schema-ok", _files(), ["schema", "scenario"], expect="ok")


# --- sweep and search files ----------------------------------------------------------------------


def _search(**fields: Any) -> dict[str, Any]:
    search = {
        "field": "serving.max_batch",
        "low": 1,
        "high": 8,
        "goal": "min",
        "slo": {"metric": "ttft_p99_s", "max": 1.0},
    }
    search.update(fields)
    return search


def sweeps() -> Iterator[BoundaryCase]:
    argv = ["sweep", "sweep.yaml", "--workers", "1", "--no-progress", "--output", "out"]
    latency = {"field": "router.latency", "resolution": 1}
    bad_searches: list[tuple[str, dict[str, Any]]] = [
        ("low-inf", _search(low=float("inf"))),
        ("high-inf", _search(high=float("inf"))),
        ("low-nan", _search(low=float("nan"))),
        ("low-minus-inf", _search(low=float("-inf"))),
        ("values-nan", _search(low=None, high=None, values=[1, float("nan")])),
        ("values-inf", _search(low=None, high=None, values=[1, float("inf")])),
        ("resolution-denormal", _search(low=0.5, high=8.5, resolution=5e-324)),
        ("resolution-tiny", _search(low=0.5, high=8.5, resolution=1e-300)),
        ("resolution-zero", _search(low=0.5, high=8.5, resolution=0)),
        ("resolution-nan", _search(low=0.5, high=8.5, resolution=float("nan"))),
        ("huge-low", _search(low=-1e300, high=8)),
        ("metric-unknown", _search(slo={"metric": "latency", "max": 1})),
        ("metric-typo", _search(slo={"metric": "ttft_p99", "max": 1})),
        ("metric-number", _search(slo={"metric": 5, "max": 1})),
        ("metric-text-column", _search(slo={"metric": "platform_name", "max": 1})),
        ("metric-empty", _search(slo={"metric": "", "max": 1})),
        ("slo-nan", _search(slo={"metric": "ttft_p99_s", "max": float("nan")})),
        ("slo-inf", _search(slo={"metric": "ttft_p99_s", "min": float("inf")})),
        ("slo-text", _search(slo={"metric": "ttft_p99_s", "max": "fast"})),
        ("slo-both", _search(slo={"metric": "ttft_p99_s", "max": 1, "min": 0})),
        (
            "slo-share-nan",
            _search(slo={"metric": "ttft_p99_s", "max": 1, "max_rejected_share": float("nan")}),
        ),
        ("unit-on-count", _search(unit="ms")),
        ("unit-bogus", _search(unit="parsecs")),
        ("unit-wrong-dimension", _search(**latency, low=1, high=50, unit="GB")),
        ("unit-watts", _search(**latency, low=1, high=50, unit="W")),
        ("no-unit-on-duration", _search(**latency, low=1, high=50)),
        ("field-unknown", _search(field="serving.bogus")),
        ("field-empty", _search(field="")),
        ("low-above-high", _search(low=9, high=2)),
        ("values-unsorted", _search(low=None, high=None, values=[3, 1])),
        ("cheapest-stray", _search(cheapest_over=["nope"])),
        ("goal-bogus", _search(goal="best")),
        ("search-list", [1, 2]),  # type: ignore[list-item]
    ]
    for name, search in bad_searches:
        yield BoundaryCase("sweeps", f"search-{name}", _sweep(grid={}, search=search), argv)
    big_grid = {
        "serving.max_batch": list(range(1, 101)),
        "seed": list(range(100)),
        "serving.max_context_tokens": list(range(4096, 4196)),
    }
    bad_specs: list[tuple[str, dict[str, Any]]] = [
        ("grid-million", {"grid": big_grid}),
        ("grid-platform-bogus", {"grid": {"platform": ["sn40l_node", "bogus"]}}),
        ("cases-platform-bogus", {"cases": [{"platform": "nope"}]}),
        ("set-platform-bogus", {"set": {"platform": "x"}}),
        ("grid-empty-axis", {"grid": {"serving.max_batch": []}}),
        ("grid-bad-path", {"grid": {"serving..x": [1]}}),
        ("grid-not-list", {"grid": {"serving.max_batch": 5}}),
        ("name-path", {"name": "../x"}),
        ("name-long", {"name": "n" * 300}),
        ("scenario-missing", {"scenario": "nope.yaml"}),
        ("scenario-dir", {"scenario": "."}),
        ("scenario-dev-zero", {"scenario": "/dev/zero"}),
        ("output-file", {"output": "base.yaml"}),
        ("unknown-key", {"grd": {}}),
        ("keep-runs-text", {"keep_runs": "maybe"}),
    ]
    for name, overrides in bad_specs:
        yield BoundaryCase(
            "sweeps", f"spec-{name}", _sweep(**overrides), argv[:-2] if name == "output-file" else argv
        )
    trace_base = _dump(base_scenario(workload={"trace": "missing-trace.csv"}))
    yield BoundaryCase(
        "sweeps",
        "base-trace-missing",
        _files(**{"sweep.yaml": _dump(SWEEP_BASE), "base.yaml": trace_base}),
        argv,
    )
    for i, extra in enumerate(
        [
            ["--workers", "0"],
            ["--workers", "-1"],
            ["--workers", "257"],
            ["--workers", "two"],
            ["--backend", "ray", "--ray-address", "127.0.0.1:1"],
            ["--backend", "ray", "--ray-address", "no-port"],
            ["--backend", "ray", "--ray-address", "host:99999"],
            ["--backend", "bogus"],
        ]
    ):
        yield BoundaryCase("sweeps", f"option-{i}-{extra[-1]}", _sweep(), [*argv, *extra])


# --- the Python API ------------------------------------------------------------------------------


def api() -> Iterator[BoundaryCase]:
    calls: list[tuple[str, dict[str, Any], str]] = [
        ("run", {"args": ["s.yaml"], "kwargs": {"output": 1}}, "error"),
        ("run", {"args": ["s.yaml"], "kwargs": {"output": ""}}, "error"),
        ("run", {"args": ["s.yaml"], "kwargs": {"output": ["out"]}}, "error"),
        ("run", {"args": ["s.yaml"], "kwargs": {"output": "out", "plots": "no"}}, "error"),
        ("run", {"args": ["s.yaml"], "kwargs": {"output": "out", "plots": 1}}, "error"),
        ("run", {"args": ["s.yaml"], "kwargs": {"output": "out", "progress": "yes"}}, "error"),
        ("run", {"args": ["s.yaml"], "kwargs": {"output": "out", "data_dir": 5}}, "error"),
        ("run", {"args": [5], "kwargs": {"output": "out"}}, "error"),
        ("run", {"args": [None], "kwargs": {"output": "out"}}, "error"),
        ("run", {"args": [[1, 2]], "kwargs": {"output": "out"}}, "error"),
        ("run", {"args": [""], "kwargs": {"output": "out"}}, "error"),
        ("run", {"args": ["missing.yaml"], "kwargs": {"output": "out"}}, "error"),
        ("run", {"args": [{"name": 5}], "kwargs": {"output": "out"}}, "error"),
        ("run", {"args": [{}], "kwargs": {"output": "out"}}, "error"),
        ("run", {"args": ["s.yaml"], "kwargs": {"output": "taken"}}, "error"),
        ("run", {"args": ["s.yaml"], "kwargs": {"output": "out"}}, "ok"),
        ("compare", {"args": ["s.yaml"], "kwargs": {"platforms": None, "output": "out"}}, "error"),
        ("compare", {"args": ["s.yaml"], "kwargs": {"platforms": 5, "output": "out"}}, "error"),
        ("compare", {"args": ["s.yaml"], "kwargs": {"platforms": [], "output": "out"}}, "error"),
        ("compare", {"args": ["s.yaml"], "kwargs": {"platforms": [1], "output": "out"}}, "error"),
        ("compare", {"args": ["s.yaml"], "kwargs": {"platforms": [""], "output": "out"}}, "error"),
        ("compare", {"args": ["s.yaml"], "kwargs": {"platforms": "bogus", "output": "out"}}, "error"),
        (
            "compare",
            {"args": ["s.yaml"], "kwargs": {"platforms": ["sn40l_node"], "plots": "no", "output": "out"}},
            "error",
        ),
        ("compare", {"args": ["s.yaml"], "kwargs": {"platforms": ["sn40l_node"], "output": 3.5}}, "error"),
        (
            "compare",
            {"args": ["s.yaml"], "kwargs": {"platforms": "sn40l_node,dgx_h100", "output": "out"}},
            "ok",
        ),
        ("sweep", {"args": ["sweep.yaml"], "kwargs": {"workers": "2", "output": "out"}}, "error"),
        ("sweep", {"args": ["sweep.yaml"], "kwargs": {"workers": 0, "output": "out"}}, "error"),
        ("sweep", {"args": ["sweep.yaml"], "kwargs": {"workers": True, "output": "out"}}, "error"),
        ("sweep", {"args": ["sweep.yaml"], "kwargs": {"workers": 1.5, "output": "out"}}, "error"),
        ("sweep", {"args": ["sweep.yaml"], "kwargs": {"backend": 1, "output": "out"}}, "error"),
        ("sweep", {"args": ["sweep.yaml"], "kwargs": {"backend": "bogus", "output": "out"}}, "error"),
        ("sweep", {"args": ["sweep.yaml"], "kwargs": {"restart": "no", "output": "out"}}, "error"),
        ("sweep", {"args": [None], "kwargs": {"output": "out"}}, "error"),
        ("sweep", {"args": [7], "kwargs": {"output": "out"}}, "error"),
        ("sweep", {"args": ["sweep.yaml"], "kwargs": {"ray_address": 5, "backend": "ray"}}, "error"),
        ("sweep", {"args": ["sweep.yaml"], "kwargs": {"output": 1}}, "error"),
        ("from_run_dir", {"args": [5]}, "error"),
        ("from_run_dir", {"args": [None]}, "error"),
        ("from_run_dir", {"args": ["missing"]}, "error"),
        ("from_run_dir", {"args": ["s.yaml"]}, "error"),
        ("from_run_dir", {"args": ["run"]}, "ok"),
        ("load", {"args": [5]}, "error"),
        ("load", {"args": [{"name": "x"}]}, "error"),
        ("load", {"args": ["s.yaml"]}, "ok"),
    ]
    setup = _both(_files(**{"s.yaml": SCENARIO, "taken": "x"}), _sweep(), _damaged("summary.json", "delete"))
    for i, (function, call, expect) in enumerate(calls):
        yield BoundaryCase(
            "api",
            f"{i:02d}-{function}",
            setup,
            api={"function": function, **call},
            expect=expect,
            allowed=["out"] if expect == "ok" else [],
        )


def all_boundary_cases() -> list[BoundaryCase]:
    return [*output_paths(), *damaged_results(), *commands(), *sweeps(), *api()]


def sample(cases: list[BoundaryCase], every: int = 6) -> list[BoundaryCase]:
    """A deterministic sample for CI: every ``every``-th case of each category."""
    by: dict[str, int] = {}
    out = []
    for case in cases:
        n = by.get(case.category, 0)
        by[case.category] = n + 1
        if n % every == 0:
            out.append(case)
    return out
