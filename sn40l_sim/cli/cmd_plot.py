"""``sn40l-sim plot``: speedup, metric and capacity curves drawn from a sweep folder's tables."""

from __future__ import annotations

import argparse
from pathlib import Path


def _cmd_plot(args: argparse.Namespace) -> int:
    from sn40l_sim.studies.sweep.sweep_plots import plot_sweep

    hue = [h.strip() for h in args.hue.split(",") if h.strip()] if args.hue is not None else None
    written = plot_sweep(Path(args.sweep_dir), x=args.x, y=args.y, hue=hue, kind=args.kind,
                         baseline=args.baseline, slo=args.slo)
    for path in written:
        print(path)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    q = sub.add_parser("plot", help="speedup, metric and capacity curves of a sweep folder (PNG + SVG)")
    q.add_argument("sweep_dir", help="a sweep output folder (holds points.parquet)")
    q.add_argument("--kind", choices=["auto", "metric", "speedup", "capacity"], default="auto")
    q.add_argument("--x", help="swept axis along x (default: the first numeric swept axis)")
    q.add_argument("--y", help="metric on y (default: ttft_p99_s; capacity: answer_n_devices)")
    q.add_argument("--hue", help="comma-separated axes, one line per combination (default: the others)")
    q.add_argument("--baseline", help="platform the speedup is relative to (default: the first)")
    q.add_argument("--slo", type=float, help="draw this target as a dashed line on metric curves")
    q.set_defaults(func=_cmd_plot)
