"""``sn40l-sim`` command line: run, compare, validate, footprint, sweep, plot, data, schema.

Every user error ends as one message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from sn40l_sim.errors import InputError

EXIT_INPUT = 2
EXIT_INTERRUPTED = 130


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="data directory for traces (default: $SN40L_SIM_DATA or "
                   "the user cache folder)")
    p.add_argument("--output", help="results folder (default: the scenario's 'output', 'results')")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _cmd_run(args: argparse.Namespace) -> int:
    from sn40l_sim.config.resolve import load_scenario
    from sn40l_sim.report.console import print_summary
    from sn40l_sim.runner import run_scenario
    from sn40l_sim.workload.data_dir import resolve_data_dir

    resolved = load_scenario(Path(args.scenario))
    result = run_scenario(resolved, output=Path(args.output) if args.output else None,
                          data_dir=resolve_data_dir(args.data_dir), plots=not args.no_plots,
                          progress=not args.no_progress)
    print_summary(result.summary, result.run_dir)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from sn40l_sim.report.compare import compare_platforms

    platforms = [p.strip() for p in args.platforms.split(",") if p.strip()]
    compare_platforms(Path(args.scenario), platforms, output=Path(args.output) if args.output else None,
                      data_dir=args.data_dir, plots=not args.no_plots, progress=not args.no_progress)
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from sn40l_sim.config.platform import PlatformConfig
    from sn40l_sim.config.scenario import Scenario

    model = Scenario if args.what == "scenario" else PlatformConfig
    print(json.dumps(model.model_json_schema(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sn40l-sim", description=(
        "Simulate serving a Composition of Experts on SambaNova SN40L vs DGX A100/H100."))
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="simulate one scenario and write results")
    run.add_argument("scenario", help="scenario YAML file")
    _add_common(run)
    run.set_defaults(func=_cmd_run)

    cmp_ = sub.add_parser("compare", help="replay one request stream on several platforms")
    cmp_.add_argument("scenario")
    cmp_.add_argument("--platforms", default="sn40l_node,dgx_a100,dgx_h100",
                      help="comma-separated profile names or YAML paths")
    _add_common(cmp_)
    cmp_.set_defaults(func=_cmd_compare)

    schema = sub.add_parser("schema", help="print the JSON Schema of scenario or profile files")
    schema.add_argument("what", choices=["scenario", "platform"])
    schema.set_defaults(func=_cmd_schema)

    for register in _optional_commands():
        register(sub)
    return parser


def _optional_commands() -> list:
    """Sub-commands that live in their own modules (each adds its parsers)."""
    from sn40l_sim.cli_data import add_data_subcommands
    from sn40l_sim.cli_sweep import add_sweep_subcommands

    registrars = [add_data_subcommands, add_sweep_subcommands]
    try:
        from sn40l_sim.cli_extra import EXTRA_COMMANDS

        registrars.extend(EXTRA_COMMANDS)
    except ImportError:
        pass
    return registrars


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"sn40l-sim: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt as exc:
        message = str(exc) or "interrupted"
        print(f"sn40l-sim: {message}", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
