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
from sn40l_sim.cli.common import EXIT_INTERNAL, EXIT_INTERRUPTED, TRACEBACK_ENV
from sn40l_sim.errors import InputError, Interrupted
from sn40l_sim.present.fs_boundary import os_error

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
    """Run one command; each input problem is one line on stderr and exit 2 (1 for a fault of the
    machine, such as a full disk); Ctrl-C exit 130, SIGTERM exit 143; a closed stdout pipe ends
    quietly."""
    parser = build_parser()
    args = parser.parse_args(argv)
    real_stdout = sys.stdout
    sys.stdout = _GuardedStdout(real_stdout)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # here, not at exit: a full or closed stdout is reported like the rest
        return code
    except StdoutError as exc:
        _silence_stdout(real_stdout)
        if isinstance(exc.cause, BrokenPipeError):  # `... | head`: the reader has what it wanted
            return 0
        print(f"sn40l-sim: error: cannot write to standard output: {exc.cause.strerror or exc.cause}",
              file=sys.stderr)
        return 1
    except BrokenPipeError:  # a pipe the command opened itself
        return 0
    except InputError as exc:  # one line per problem (CombinedInputError holds several)
        return _report(exc)
    except OSError as exc:  # a write that failed past the checks (a full disk, a removed folder)
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
    finally:
        if isinstance(sys.stdout, _GuardedStdout):
            sys.stdout = real_stdout


class StdoutError(Exception):
    """Writing to standard output failed (a closed pipe, stdout on a full device)."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _GuardedStdout:
    """Standard output that tells its own failures apart from those of files being written."""

    def __init__(self, stream: object) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))  # type: ignore[attr-defined]
        except OSError as exc:
            raise StdoutError(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()  # type: ignore[attr-defined]
        except OSError as exc:
            raise StdoutError(exc) from None

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def _report(exc: InputError) -> int:
    for line in str(exc).splitlines() or ["invalid input"]:
        print(f"sn40l-sim: error: {line}", file=sys.stderr)
    return exc.exit_status


def _silence_stdout(stream: object) -> None:
    """Point stdout at /dev/null, so the interpreter's final flush does not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())  # type: ignore[attr-defined]
        os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass  # stdout is not a file (tests capture it): nothing is flushed at exit
