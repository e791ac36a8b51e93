"""``sn40l-sim check SCENARIO`` and ``sn40l-sim models``: the resolved plan without simulating, and
the model catalogue."""

from __future__ import annotations

import argparse
from pathlib import Path

from sn40l_sim.cli.common import add_set


def _cmd_check(args: argparse.Namespace) -> int:
    from rich.console import Console

    from sn40l_sim.config.overrides import parse_set
    from sn40l_sim.config.resolve import load_scenario
    from sn40l_sim.plan.planner import plan_run
    from sn40l_sim.studies.check import plan_view, will_not_fit

    plan = plan_run(load_scenario(Path(args.scenario), parse_set(args.set)))
    Console().print(plan_view(plan))
    return 1 if will_not_fit(plan) else 0


def _cmd_models(args: argparse.Namespace) -> int:
    from rich.console import Console

    from sn40l_sim.studies.check import models_table

    if args.scenario:
        from sn40l_sim.config.resolve import load_scenario

        resolved = load_scenario(Path(args.scenario))
        Console().print(models_table(resolved.models, resolved.scenario.models_file or ""))
        return 0
    Console().print(models_table())
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check", help="print a scenario's resolved plan (groups, TP, placement, memory, "
                       "what will not fit) without simulating; exit 1 when something will not fit")
    p.add_argument("scenario", help="scenario YAML file")
    add_set(p)
    p.set_defaults(func=_cmd_check)
    m = sub.add_parser("models", help="list the model catalogue (and a scenario's own models file)")
    m.add_argument("--scenario", help="also list the models of this scenario's models_file")
    m.set_defaults(func=_cmd_models)
