"""``sn40l-sim validate``: paper reproductions and measured-data checks in one table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _cmd_validate(args: argparse.Namespace) -> int:
    from sn40l_sim.studies.validate import print_rows, validation_rows
    from sn40l_sim.workload.data_dir import resolve_data_dir

    data = resolve_data_dir(args.data_dir)
    if not data.is_dir():
        print(f"sn40l-sim: note: no data directory at {data}: the measured-data rows (M, R) are left "
              "out (set --data-dir or SN40L_SIM_DATA, or run `sn40l-sim data fetch NAME`)", file=sys.stderr)
    rows = validation_rows(data if data.is_dir() else None, only=args.only)
    if args.json:
        text = json.dumps([r.to_json() for r in rows], indent=2, default=lambda v: None)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    if args.markdown:
        from sn40l_sim.studies.validate import markdown_rows

        print(markdown_rows(rows))
    elif args.json != "-":
        print_rows(rows)
    if args.output and (args.only is None or "T7" in args.only):
        from sn40l_sim.present.run_plots import latency_vs_experts
        from sn40l_sim.studies.validate_coe import expert_sweep

        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        sweep = expert_sweep()
        sweep.to_parquet(out / "expert_sweep.parquet", index=False)
        latency_vs_experts(sweep, out / "latency_vs_experts.png")
        # A message, not data: stderr, so `validate --json | jq` reads only the JSON on stdout.
        print(f"expert-count sweep: {out / 'expert_sweep.parquet'}, {out / 'latency_vs_experts.png'}",
              file=sys.stderr)
    failed = [r for r in rows if r.passed is False]
    return 1 if (failed and args.strict) else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("validate", help="paper reproductions and measured-data checks, one table")
    p.add_argument("--data-dir", help="data directory with the measured data")
    p.add_argument("--json", nargs="?", const="-", help="write the rows as JSON (to stdout or a file)")
    p.add_argument("--only", help="comma-separated id prefixes, e.g. T1,T11")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown (for README)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a row is outside its band")
    p.add_argument("--output", default="results/validate",
                   help="folder for the expert-count sweep table and plot ('' to skip)")
    p.set_defaults(func=_cmd_validate)

