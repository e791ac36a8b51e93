"""``sn40l-sim`` command line: the parser and the one place user errors become exit status 2.

Every user error ends as one message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from sn40l_sim.cli import (
    cmd_compare,
    cmd_data,
    cmd_footprint,
    cmd_plot,
    cmd_run,
    cmd_schema,
    cmd_summarize,
    cmd_sweep,
    cmd_validate,
)
from sn40l_sim.cli.common import EXIT_INTERNAL, EXIT_INTERRUPTED, TRACEBACK_ENV
from sn40l_sim.errors import InputError, Interrupted
from sn40l_sim.present.fs_boundary import os_error

# Every command, in the order ``--help`` lists them. A command module imports only argparse and what
# its parser needs at import time; the heavy work is imported inside its command function.
COMMANDS = (cmd_run, cmd_summarize, cmd_compare, cmd_validate, cmd_footprint, cmd_sweep, cmd_plot, cmd_data,
            cmd_schema)


def build_parser() -> argparse.ArgumentParser:
    """The ``sn40l-sim`` parser: each command module in :data:`COMMANDS` adds its sub-command."""
    parser = argparse.ArgumentParser(prog="sn40l-sim", description=(
        "Simulate serving a Composition of Experts on SambaNova SN40L vs DGX A100/H100."))
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; each input problem is one line on stderr and exit 2 (1 for a fault of the
    machine, such as a full disk); Ctrl-C exit 130, SIGTERM exit 143; a closed stdout pipe ends
    quietly."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # here, not at exit: a full or closed stdout is reported like the rest
        return code
    except BrokenPipeError:  # `sn40l-sim schema scenario | head`: the reader has what it wanted
        _silence_stdout()
        return 0
    except InputError as exc:  # one line per problem (CombinedInputError holds several)
        return _report(exc)
    except OSError as exc:  # a write that failed past the checks (a full disk, stdout on /dev/full)
        if exc.filename is None and exc.errno is not None and _is_stdout_error():
            _silence_stdout()
            print(f"sn40l-sim: error: cannot write to standard output: {exc.strerror}", file=sys.stderr)
            return 1
        return _report(os_error(exc))
    except MemoryError:
        print("sn40l-sim: error: out of memory (a smaller input, or a machine with more memory)",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:  # Ctrl-C (130) or SIGTERM (143), after the files are complete
        message = str(exc) or "interrupted"
        print(f"sn40l-sim: {message}", file=sys.stderr)
        return exc.exit_status if isinstance(exc, Interrupted) else EXIT_INTERRUPTED
    except Exception as exc:  # a bug: one line that says where, the traceback only when asked for
        if os.environ.get(TRACEBACK_ENV):
            raise
        frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        where = f" at {Path(frame.filename).name}:{frame.lineno}" if frame else ""
        text = " ".join(str(exc).split())[:300]
        print(f"sn40l-sim: internal error: {type(exc).__name__}: {text}{where} (a bug: please report "
              f"it; {TRACEBACK_ENV}=1 shows the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


def _report(exc: InputError) -> int:
    for line in str(exc).splitlines() or ["invalid input"]:
        print(f"sn40l-sim: error: {line}", file=sys.stderr)
    return exc.exit_status


def _is_stdout_error() -> bool:
    """Whether stdout is what failed: flushing it again fails too."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        return True
    return False


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush does not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass  # stdout is not a file (tests capture it): nothing is flushed at exit
