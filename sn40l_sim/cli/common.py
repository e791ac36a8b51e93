"""What the command modules share: exit statuses and the options of simulating commands."""

from __future__ import annotations

import argparse

EXIT_INPUT = 2
EXIT_INTERRUPTED = 130


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="data directory for traces (default: $SN40L_SIM_DATA or "
                   "the user cache folder)")
    p.add_argument("--output", help="results folder (default: the scenario's 'output', 'results')")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")




def add_set(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", metavar="PATH=VALUE", default=[],
                   help="override one scenario field by its dotted path, e.g. serving.max_batch=16 "
                   "or platform.interconnect.topology=ring (repeatable; docs/sweeps.md)")
