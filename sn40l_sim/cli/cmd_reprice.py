"""``sn40l-sim reprice SWEEP_DIR``: other prices and power per platform on a finished sweep, no new
simulation (see :mod:`sn40l_sim.studies.sweep.reprice`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def _cmd_reprice(args: argparse.Namespace) -> int:
    from rich.console import Console

    from sn40l_sim.present.tables import capacity_rich
    from sn40l_sim.studies.sweep.reprice import parse_changes, reprice_sweep

    changes = parse_changes(args.price, args.power)
    result = reprice_sweep(Path(args.sweep_dir), changes, args.name)
    console = Console()
    for key, change in changes.items():
        console.print(f"{key}: {change.describe()} ({result.matched[key]} point(s))", markup=False)
    if result.capacity is not None:
        if args.markdown:
            console.print((result.out / "capacity.md").read_text(), markup=False)
        else:
            slo = result.search["slo"].iloc[0] if result.search is not None else ""
            console.print(capacity_rich(result.capacity, str(slo)))
    console.print(f"written to {result.out} (the sweep's own tables are unchanged)", markup=False)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("reprice", help="other prices / power per platform on a finished sweep "
                       "(recomputes cost, energy and the cheapest plans; no new simulation)")
    p.add_argument("sweep_dir", help="a sweep output folder (holds sweep.json and points/)")
    p.add_argument("--price", action="append", default=[], metavar="PLATFORM=VALUE",
                   help="a factor on the simulated price (sn40l_node=1.5x) or $/node-hour "
                   "(dgx_h100=98); repeatable")
    p.add_argument("--power", action="append", default=[], metavar="PLATFORM[.FIELD]=VALUE",
                   help="a factor on every power figure (sn40l_node=0.8x) or one figure in watts "
                   "(sn40l_node.device_busy=450 W); repeatable")
    p.add_argument("--name", help="folder inside the sweep's to write to (default 'reprice'; "
                   "never overwritten: -2, -3 ... are added)")
    p.add_argument("--markdown", action="store_true", help="print the capacity table as Markdown")
    p.set_defaults(func=_cmd_reprice)
