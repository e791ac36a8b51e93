"""``sn40l-sim footprint``: the fewest nodes that host N experts, all in HBM or backed by DDR/DRAM."""

from __future__ import annotations

import argparse
import dataclasses
import json

from sn40l_sim.cli.common import add_set, check_range, split_names
from sn40l_sim.errors import InputError
from sn40l_sim.units import format_seconds

DEFAULT_PLATFORMS = "sn40l_node,dgx_a100,dgx_h100"


def _cmd_footprint_scenario(args: argparse.Namespace) -> int:
    """A scenario's catalogue, each expert group at its own TP degree, on its platform (or on
    ``--platforms``): nodes all in HBM and backed, per group and in total."""
    from pathlib import Path

    from rich import box
    from rich.console import Console
    from rich.table import Table

    from sn40l_sim.config.overrides import parse_set
    from sn40l_sim.config.profiles import load_platform
    from sn40l_sim.config.resolve import load_scenario
    from sn40l_sim.plan.planner import kv_reservation_bytes, plan_run
    from sn40l_sim.present.fs_boundary import check_output_file, write_user_file
    from sn40l_sim.studies.footprint import RequestShape, catalogue_footprint

    json_path = check_output_file(args.json, "--json") if args.json else None
    resolved = load_scenario(Path(args.scenario), parse_set(args.set))
    plan = plan_run(resolved)
    names = split_names(args.platforms, "--platforms") if args.platforms else []
    platforms = [load_platform(name) for name in names] or [resolved.platform]
    groups = [(g.model, len(g.experts), g.tensor_parallel) for g in plan.expert_groups]
    for platform in platforms:
        for i, (_, _, tp) in enumerate(groups):
            if platform.n_devices_per_node % tp:
                raise InputError(f"expert group {i}'s TP{tp} does not divide the "
                                 f"{platform.n_devices_per_node} devices per node of {platform.name}",
                                 field="--platforms")
    shape = RequestShape(args.prompt_tokens, args.output_tokens)
    rows = [r for platform in platforms
            for r in catalogue_footprint(platform, groups, router=plan.router,
                                         kv_reservation_bytes=kv_reservation_bytes(resolved),
                                         shape=shape)]
    def cell(value: object) -> str:
        return "-" if value is None else str(value)

    console = Console()
    for platform in platforms:
        table = Table(title=f"{resolved.name} on {platform.name}: all in HBM, each expert group at "
                      f"its TP; batch-1 latency for {args.prompt_tokens}+{args.output_tokens} tokens",
                      box=box.SIMPLE_HEAD, title_justify="left")
        for col in ("group", "TP", "HBM groups", "devices", "nodes", "backed nodes", "latency"):
            table.add_column(col, no_wrap=col == "group", justify="left" if col == "group" else "right")
        for r in (r for r in rows if r.platform == platform.name):
            table.add_row(f"{r.count} x {r.model}" if r.group is not None else "total",
                          cell(r.tensor_parallel), cell(r.hbm_groups), cell(r.hbm_devices),
                          cell(r.hbm_nodes), cell(r.backed_nodes),
                          format_seconds(r.latency_s) if r.latency_s is not None else "-")
        console.print(table)
    if json_path is not None:
        write_user_file(json_path, json.dumps([dataclasses.asdict(r) for r in rows], indent=2) + "\n")
    return 0


def _cmd_footprint(args: argparse.Namespace) -> int:
    if args.scenario:
        return _cmd_footprint_scenario(args)
    from rich.console import Console
    from rich.table import Table

    from sn40l_sim.catalogue.models import get_model
    from sn40l_sim.config.limits import MAX_BATCH, MAX_DEVICES_PER_NODE, MAX_EXPERTS, MAX_TOKENS
    from sn40l_sim.config.profiles import load_platform
    from sn40l_sim.plan.planner import router_plan
    from sn40l_sim.present.fs_boundary import check_output_file, write_user_file
    from sn40l_sim.studies.footprint import RequestShape, footprint

    check_range(args.experts, "--experts", 1, MAX_EXPERTS)
    check_range(args.tp, "--tp", 1, MAX_DEVICES_PER_NODE)
    check_range(args.max_batch, "--max-batch", 1, MAX_BATCH)
    check_range(args.router_output_tokens, "--router-output-tokens", 1, MAX_TOKENS)
    for option, value in (("--max-context", args.max_context), ("--prompt-tokens", args.prompt_tokens),
                          ("--output-tokens", args.output_tokens)):
        check_range(value, option, 1, MAX_TOKENS)
    names = split_names(args.platforms or DEFAULT_PLATFORMS, "--platforms")
    json_path = check_output_file(args.json, "--json") if args.json else None
    platforms = [load_platform(name) for name in names]  # every name checked before any work
    for platform in platforms:
        if args.tp > platform.n_devices_per_node:
            raise InputError(f"a serving group of {args.tp} devices does not fit one node of "
                             f"{platform.name} ({platform.n_devices_per_node} devices)", field="--tp")
    expert = get_model(args.model)
    router_model = get_model(args.router) if args.router and args.router != "none" else None
    router = router_plan(router_model, output_tokens=args.router_output_tokens,
                         max_batch=args.max_batch, max_context_tokens=args.max_context)
    kv = args.max_batch * args.max_context * expert.kv_bytes_per_token()
    shape = RequestShape(args.prompt_tokens, args.output_tokens)
    rows = []
    for platform in platforms:
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
    if json_path is not None:
        write_user_file(json_path, json.dumps([dataclasses.asdict(r) for r in rows], indent=2) + "\n")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("footprint", help="fewest nodes that host N experts, all in HBM or backed")
    p.add_argument("--model", default="llama-2-7b", help="expert model (catalogue name)")
    p.add_argument("--experts", type=int, default=850, help="number of experts")
    p.add_argument("--platforms", default=None,
                   help=f"comma-separated profiles (default {DEFAULT_PLATFORMS}; with --scenario, "
                   "the scenario's own platform)")
    p.add_argument("--scenario", help="a scenario file: its expert groups, each at its own "
                   "tensor_parallel, its router and KV floor (--model, --experts, --tp, --router, "
                   "--max-batch and --max-context are then ignored)")
    add_set(p)
    p.add_argument("--tp", "--tensor-parallel", dest="tp", type=int, default=8,
                   help="tensor-parallel degree of a serving group")
    p.add_argument("--router", default="llama-2-7b", help="router model, or 'none'")
    p.add_argument("--router-output-tokens", type=int, default=1,
                   help="tokens the router model generates per prompt (1: a classifier)")
    p.add_argument("--max-batch", type=int, default=1, help="batch the KV reservation is sized for")
    p.add_argument("--max-context", type=int, default=4096, help="context the KV reservation is sized for")
    p.add_argument("--prompt-tokens", type=int, default=256)
    p.add_argument("--output-tokens", type=int, default=20)
    p.add_argument("--json", help="also write the rows as JSON to this file")
    p.set_defaults(func=_cmd_footprint)
