"""The ``sn40l-sim`` command line, one module per command (``cmd_*.py``); :func:`main` is the entry."""

from sn40l_sim.cli.app import main

__all__ = ["main"]
