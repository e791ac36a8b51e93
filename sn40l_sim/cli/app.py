"""``sn40l-sim`` command line: the parser and the one place user errors become exit status 2.

Every user error ends as one message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sn40l_sim.cli import (
    cmd_check,
    cmd_compare,
    cmd_data,
    cmd_footprint,
    cmd_plot,
    cmd_reprice,
    cmd_run,
    cmd_schema,
    cmd_summarize,
    cmd_sweep,
    cmd_validate,
)
from sn40l_sim.cli.common import EXIT_INPUT, EXIT_INTERRUPTED
from sn40l_sim.errors import InputError, Interrupted

# Every command, in the order ``--help`` lists them. A command module imports only argparse and what
# its parser needs at import time; the heavy work is imported inside its command function.
COMMANDS = (cmd_run, cmd_summarize, cmd_compare, cmd_validate, cmd_check, cmd_footprint, cmd_sweep,
            cmd_reprice, cmd_plot, cmd_data, cmd_schema)


def build_parser() -> argparse.ArgumentParser:
    """The ``sn40l-sim`` parser: each command module in :data:`COMMANDS` adds its sub-command."""
    parser = argparse.ArgumentParser(prog="sn40l-sim", description=(
        "Simulate serving a Composition of Experts on SambaNova SN40L vs DGX A100/H100."))
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; each input problem is one line on stderr and exit 2; Ctrl-C exit 130,
    SIGTERM exit 143."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:  # one line per problem (CombinedInputError holds several)
        for line in str(exc).splitlines() or ["invalid input"]:
            print(f"sn40l-sim: error: {line}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt as exc:  # Ctrl-C (130) or SIGTERM (143), after the files are complete
        message = str(exc) or "interrupted"
        print(f"sn40l-sim: {message}", file=sys.stderr)
        return exc.exit_status if isinstance(exc, Interrupted) else EXIT_INTERRUPTED

