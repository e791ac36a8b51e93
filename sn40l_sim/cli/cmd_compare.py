"""``sn40l-sim compare SCENARIO``: replay one request stream on several platforms."""

from __future__ import annotations

import argparse
from pathlib import Path

from sn40l_sim.cli.common import add_common, add_set


def _cmd_compare(args: argparse.Namespace) -> int:
    from sn40l_sim.config.overrides import parse_set
    from sn40l_sim.studies.compare import compare_platforms

    platforms = [p.strip() for p in args.platforms.split(",") if p.strip()]
    compare_platforms(Path(args.scenario), platforms, output=Path(args.output) if args.output else None,
                      data_dir=args.data_dir, plots=not args.no_plots, progress=not args.no_progress,
                      overrides=parse_set(args.set))
    return 0



def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmp_ = sub.add_parser("compare", help="replay one request stream on several platforms")
    cmp_.add_argument("scenario")
    cmp_.add_argument("--platforms", default="sn40l_node,dgx_a100,dgx_h100",
                      help="comma-separated profile names or YAML paths")
    add_common(cmp_)
    add_set(cmp_)
    cmp_.set_defaults(func=_cmd_compare)
