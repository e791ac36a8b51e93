"""``sn40l-sim footprint``: the fewest nodes that host N experts, all in HBM or backed by DDR/DRAM."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from sn40l_sim.errors import InputError
from sn40l_sim.units import format_seconds


def _cmd_footprint(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from sn40l_sim.catalogue.models import get_model
    from sn40l_sim.config.profiles import load_platform
    from sn40l_sim.plan.planner import router_plan
    from sn40l_sim.studies.footprint import RequestShape, footprint

    if args.experts < 1:
        raise InputError("--experts must be >= 1", field="--experts")
    if args.router_output_tokens < 1:
        raise InputError("--router-output-tokens must be >= 1", field="--router-output-tokens")
    expert = get_model(args.model)
    router_model = get_model(args.router) if args.router and args.router != "none" else None
    router = router_plan(router_model, output_tokens=args.router_output_tokens,
                         max_batch=args.max_batch, max_context_tokens=args.max_context)
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
        Path(args.json).write_text(json.dumps([dataclasses.asdict(r) for r in rows], indent=2))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("footprint", help="fewest nodes that host N experts, all in HBM or backed")
    p.add_argument("--model", default="llama-2-7b", help="expert model (catalogue name)")
    p.add_argument("--experts", type=int, default=850, help="number of experts")
    p.add_argument("--platforms", default="sn40l_node,dgx_a100,dgx_h100")
    p.add_argument("--tp", type=int, default=8, help="tensor-parallel degree of a serving group")
    p.add_argument("--router", default="llama-2-7b", help="router model, or 'none'")
    p.add_argument("--router-output-tokens", type=int, default=1,
                   help="tokens the router model generates per prompt (1: a classifier)")
    p.add_argument("--max-batch", type=int, default=1, help="batch the KV reservation is sized for")
    p.add_argument("--max-context", type=int, default=4096, help="context the KV reservation is sized for")
    p.add_argument("--prompt-tokens", type=int, default=256)
    p.add_argument("--output-tokens", type=int, default=20)
    p.add_argument("--json", help="also write the rows as JSON to this file")
    p.set_defaults(func=_cmd_footprint)
