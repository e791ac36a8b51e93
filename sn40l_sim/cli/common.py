"""What the command modules share: exit statuses and the options of simulating commands."""

from __future__ import annotations

import argparse
import math

from sn40l_sim.errors import InputError

EXIT_INPUT = 2
EXIT_INTERNAL = 3  # a bug (an unexpected exception), reported as one line
EXIT_INTERRUPTED = 130
TRACEBACK_ENV = "SN40L_SIM_TRACEBACK"  # set: an unexpected exception shows its traceback


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="data directory for traces (default: $SN40L_SIM_DATA or "
                   "the user cache folder)")
    p.add_argument("--output", help="results folder (default: the scenario's 'output', 'results')")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")




def check_range(value: float, option: str, low: float, high: float) -> None:
    """An option's number within ``[low, high]`` (and finite), else a located InputError naming the
    limit (docs/limits.md)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"expected a finite number, got {value!r}", field=option)
    if not low <= value <= high:
        raise InputError(f"expected {low:g} to {high:g}, got {value:g} (the simulator's limit; see "
                         "docs/limits.md)", field=option)


def split_names(text: str, option: str) -> list[str]:
    """A comma-separated list of names, at least one."""
    names = [p.strip() for p in text.split(",") if p.strip()]
    if not names:
        raise InputError("expected at least one name (comma-separated)", field=option)
    return names


def add_set(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", metavar="PATH=VALUE", default=[],
                   help="override one scenario field by its dotted path, e.g. serving.max_batch=16 "
                   "or platform.interconnect.topology=ring (repeatable; docs/sweeps.md)")
