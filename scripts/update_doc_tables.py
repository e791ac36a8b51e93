"""Regenerate the tables README.md and docs/validation.md quote, from the commands that produce them.

    SN40L_SIM_DATA=../shared/data python scripts/update_doc_tables.py [--check]

Each sits between ``<!-- generated: NAME -->`` and ``<!-- /generated -->``:

* ``compare`` (README.md): ``sn40l-sim compare scenarios/samba_coe_150.yaml --platforms
  sn40l_node,dgx_a100,dgx_h100,dgx_b200``, the rows a reader compares platforms on.
* ``validate`` (docs/validation.md): ``sn40l-sim validate --markdown``, whole.
* ``validation_summary`` (README.md): from ``sn40l-sim validate --json``, how many judged rows are in
  band, fitted or predicted, and each row that is not.

``--check`` rewrites nothing and exits 1 when a table differs from what the commands print now, so
a quoted figure cannot drift from the code without a test noticing.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import sn40l_sim  # noqa: E402

PLATFORMS = ("sn40l_node", "dgx_a100", "dgx_h100", "dgx_b200")
SCENARIO = REPO / "scenarios" / "samba_coe_150.yaml"
MARKED = re.compile(r"(<!-- generated: (?P<name>[a-z_]+) -->\n)(?P<body>.*?)(<!-- /generated -->)",
                    re.DOTALL)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def compare_table() -> str:
    """SN40L node against each DGX on P1's Samba-CoE set-up (150 experts, batch 1, TP8)."""
    with tempfile.TemporaryDirectory() as out:
        comparison = sn40l_sim.compare(str(SCENARIO), PLATFORMS, output=out)
    results = list(comparison.results.values())
    names = list(comparison.results)
    s = [r.summary for r in results]
    ratios = comparison.ratios.set_index(["other", "key"])

    def advantage(other: str, key: str) -> str:
        if other == names[0]:
            return "-"
        row = ratios.loc[(other, key)]
        low, high = sorted((row["advantage_program_load_2x"], row["advantage_program_load_0.5x"]))
        return f"{row['advantage']:.2f}x ({low:.2f}-{high:.2f}x)"

    rows = [
        ("experts servable / 150", [f"{x.n_servable_experts}" for x in s]),
        ("mean model switch", [_ms(x.switch_time_mean_s) for x in s]),
        ("mean / p99 latency", [f"{_ms(x.e2e_latency_mean_s)} / {_ms(x.e2e_latency_p99_s)}" for x in s]),
        ("p50 time to first token", [_ms(x.ttft_p50_s) for x in s]),
        ("p50 time per output token", [_ms(x.tpot_p50_s) for x in s]),
        ("SN40L advantage, mean latency", [advantage(n, "e2e_latency_mean_s") for n in names]),
        ("tokens per joule", [f"{x.tokens_per_j:.3g}" for x in s]),
        ("price per node-hour", [f"${x.price_usd_per_hour:.2f}" for x in s]),
        ("$ per million output tokens", [f"{x.cost_per_million_output_tokens_usd:.0f}" for x in s]),
    ]
    head = "| | " + " | ".join(r.summary.platform for r in results) + " |"
    lines = [head, "|---" * (len(results) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in rows]
    return "\n".join(lines) + "\n"


@functools.cache
def _validate() -> tuple[str, list[dict[str, Any]]]:
    """What one ``sn40l-sim validate --markdown --json FILE`` prints and writes: the table and the rows."""
    with tempfile.TemporaryDirectory() as tmp:
        rows_file = Path(tmp) / "validate.json"
        command = [sys.executable, "-c", "import sys; from sn40l_sim.cli import main; sys.exit(main())",
                   "validate", "--markdown", "--json", str(rows_file)]
        table = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True).stdout
        rows: list[dict[str, Any]] = json.loads(rows_file.read_text())
    return table if table.endswith("\n") else table + "\n", rows


def validate_table() -> str:
    """The whole ``sn40l-sim validate --markdown`` table."""
    return _validate()[0]


def _simulated(row: dict[str, Any]) -> str:
    """A row's simulated value as its table reads: a MAPE in per cent, a time in ms, else its unit."""
    value, unit = float(row["simulated"]), str(row.get("unit") or "")
    if "MAPE" in str(row["reference"]):
        return f"MAPE {value:.1%}"
    if unit == "s":
        return f"{value * 1e3:.3g} ms"
    return f"{value:.3g}{unit if unit == 'x' else ' ' + unit}".rstrip()


def validation_summary() -> str:
    """Judged rows in band, fitted and predicted, and every row out of band with its ratio."""
    rows = [r for r in _validate()[1] if r.get("passed") is not None]
    fitted = [r for r in rows if str(r.get("usage", "")).startswith(("fit", "partly fit"))]
    missed = [r for r in rows if not r["passed"]]
    lines = [f"Of {len(rows)} judged rows, {len(rows) - len(missed)} are in band; {len(fitted)} had a "
             f"parameter fitted on them, the other {len(rows) - len(fitted)} are predictions. "
             + ("Out of band:" if missed else "None is out of band."), ""]
    lines += [f"* {r['id']}, {r['quantity']}: {_simulated(r)} against {r['reference']}" for r in missed]
    return "\n".join(lines) + "\n"


TABLES: dict[str, tuple[Path, Callable[[], str]]] = {
    "compare": (REPO / "README.md", compare_table),
    "validation_summary": (REPO / "README.md", validation_summary),
    "validate": (REPO / "docs" / "validation.md", validate_table),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a table is not current")
    parser.add_argument("--only", choices=sorted(TABLES), help="one table")
    args = parser.parse_args()
    stale = []
    for name, (path, make) in TABLES.items():
        if args.only and name != args.only:
            continue
        text = path.read_text()  # read again: two blocks may share a file
        found = [m for m in MARKED.finditer(text) if m.group("name") == name]
        if len(found) != 1:
            print(f"{path.name}: expected one '<!-- generated: {name} -->' block, found {len(found)}")
            return 2
        body = make()
        if found[0].group("body") == body:
            continue
        stale.append(f"{path.relative_to(REPO)} ({name})")
        if not args.check:
            m = found[0]
            path.write_text(text[:m.start("body")] + body + text[m.end("body"):])
    if stale:
        print(("not current: " if args.check else "updated: ") + ", ".join(stale))
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
