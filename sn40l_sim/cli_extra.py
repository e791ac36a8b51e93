"""Sub-commands beyond run/compare: footprint, validate (each in its own module)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sn40l_sim.errors import InputError
from sn40l_sim.units import format_seconds


def _cmd_footprint(args: argparse.Namespace) -> int:
    from sn40l_sim.footprint import RequestShape, footprint
    from sn40l_sim.hardware.profiles import load_platform
    from sn40l_sim.workload.models import get_model

    if args.experts < 1:
        raise InputError("--experts must be >= 1", field="--experts")
    expert = get_model(args.model)
    router = get_model(args.router) if args.router and args.router != "none" else None
    kv = args.max_batch * args.max_context * expert.kv_bytes_per_token()
    shape = RequestShape(args.prompt_tokens, args.output_tokens)
    rows = []
    for name in [p.strip() for p in args.platforms.split(",") if p.strip()]:
        platform = load_platform(name)
        rows.extend(footprint(platform, [expert] * args.experts, tp=args.tp, router=router,
                              kv_reservation_bytes=kv, shape=shape))
    table = Table(title=f"Footprint: {args.experts} x {args.model} experts, TP{args.tp}, router "
                        f"{args.router}, batch-1 latency for {args.prompt_tokens}+"
                        f"{args.output_tokens} tokens")
    for col in ("platform", "strategy", "nodes", "devices", "experts/node", "latency", "switch", "note"):
        table.add_column(col, no_wrap=col != "note")
    for r in rows:
        table.add_row(r.platform, r.strategy, str(r.n_nodes or "-"), str(r.n_devices or "-"),
                      f"{r.experts_per_node:.1f}" if r.experts_per_node else "-",
                      format_seconds(r.latency_s) if r.latency_s is not None else "-",
                      format_seconds(r.switch_s) if r.switch_s else "-", r.note)
    Console().print(table)
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ if hasattr(r, "__dict__") else
                                               {f: getattr(r, f) for f in r.__slots__} for r in rows],
                                              indent=2))
    return 0


def _add_footprint(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("footprint", help="fewest nodes that host N experts, all in HBM or backed")
    p.add_argument("--model", default="llama-2-7b", help="expert model (catalogue name)")
    p.add_argument("--experts", type=int, default=850, help="number of experts")
    p.add_argument("--platforms", default="sn40l_node,dgx_a100,dgx_h100")
    p.add_argument("--tp", type=int, default=8, help="tensor-parallel degree of a serving group")
    p.add_argument("--router", default="llama-2-7b", help="router model, or 'none'")
    p.add_argument("--max-batch", type=int, default=1, help="batch the KV reservation is sized for")
    p.add_argument("--max-context", type=int, default=4096, help="context the KV reservation is sized for")
    p.add_argument("--prompt-tokens", type=int, default=256)
    p.add_argument("--output-tokens", type=int, default=20)
    p.add_argument("--json", help="also write the rows as JSON to this file")
    p.set_defaults(func=_cmd_footprint)


def _cmd_validate(args: argparse.Namespace) -> int:
    from sn40l_sim.report.validate import print_rows, validation_rows
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
        from sn40l_sim.report.validate import markdown_rows

        print(markdown_rows(rows))
    elif args.json != "-":
        print_rows(rows)
    if args.output and (args.only is None or "T7" in args.only):
        from sn40l_sim.report.plots import latency_vs_experts
        from sn40l_sim.report.validate_coe import expert_sweep

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


def _add_validate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="paper reproductions and measured-data checks, one table")
    p.add_argument("--data-dir", help="data directory with the measured data")
    p.add_argument("--json", nargs="?", const="-", help="write the rows as JSON (to stdout or a file)")
    p.add_argument("--only", help="comma-separated id prefixes, e.g. T1,T11")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown (for README)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a row is outside its band")
    p.add_argument("--output", default="results/validate",
                   help="folder for the expert-count sweep table and plot ('' to skip)")
    p.set_defaults(func=_cmd_validate)


EXTRA_COMMANDS = [_add_footprint, _add_validate]
