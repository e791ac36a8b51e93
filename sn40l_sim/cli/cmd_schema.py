"""``sn40l-sim schema scenario|platform``: the JSON Schema an editor validates input files with."""

from __future__ import annotations

import argparse
import json


def _cmd_schema(args: argparse.Namespace) -> int:
    from sn40l_sim.config.platform_config import PlatformConfig
    from sn40l_sim.config.scenario import Scenario

    model = Scenario if args.what == "scenario" else PlatformConfig
    print(json.dumps(model.model_json_schema(), indent=2))
    return 0



def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    schema = sub.add_parser("schema", help="print the JSON Schema of scenario or profile files")
    schema.add_argument("what", choices=["scenario", "platform"])
    schema.set_defaults(func=_cmd_schema)
