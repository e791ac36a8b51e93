"""``sn40l-sim run SCENARIO``: simulate one scenario and write its results folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from sn40l_sim.cli.common import add_common, add_set


def _cmd_run(args: argparse.Namespace) -> int:
    from sn40l_sim.config.overrides import parse_set
    from sn40l_sim.config.resolve import load_scenario
    from sn40l_sim.present.console import print_summary
    from sn40l_sim.runner import run_scenario
    from sn40l_sim.workload.data_dir import resolve_data_dir

    resolved = load_scenario(Path(args.scenario), parse_set(args.set))
    result = run_scenario(resolved, output=Path(args.output) if args.output else None,
                          data_dir=resolve_data_dir(args.data_dir), plots=not args.no_plots,
                          progress=not args.no_progress)
    print_summary(result.summary.to_dict(), result.run_dir)
    return 0



def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="simulate one scenario and write results")
    run.add_argument("scenario", help="scenario YAML file")
    add_common(run)
    add_set(run)
    run.set_defaults(func=_cmd_run)
