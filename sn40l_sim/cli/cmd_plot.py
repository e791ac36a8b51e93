"""``sn40l-sim plot``: speedup, metric and capacity curves drawn from a sweep folder's tables."""

from __future__ import annotations

import argparse

from sn40l_sim.cli.common import check_range
from sn40l_sim.errors import InputError, unknown_name_error


def _cmd_plot(args: argparse.Namespace) -> int:
    import pandas as pd

    from sn40l_sim.present.fs_boundary import check_readable_dir, check_writable_dir
    from sn40l_sim.studies.sweep.store import read_points
    from sn40l_sim.studies.sweep.sweep_plots import plot_sweep

    sweep_dir = check_readable_dir(args.sweep_dir, "SWEEP_DIR")
    check_writable_dir(sweep_dir / "plots", "SWEEP_DIR")
    if args.slo is not None:
        check_range(args.slo, "--slo", -1e300, 1e300)
    hue = [h.strip() for h in args.hue.split(",") if h.strip()] if args.hue is not None else None
    points = read_points(sweep_dir)  # a damaged points file is named here, before any drawing
    for option, column in (("--x", args.x), ("--y", args.y)):
        searched = (sweep_dir / "search.parquet").exists()  # its own columns: checked when drawn
        if column is not None and column not in points.columns and not searched:
            known = unknown_name_error("column", column, [str(c) for c in points.columns])
            raise InputError(known.message, field=option)
        if (option == "--y" and column is not None and column in points.columns
                and not pd.api.types.is_numeric_dtype(points[column])):
            raise InputError(f"column {column!r} holds {points[column].dtype} values, not numbers; "
                             "--y needs a numeric metric", field=option)
    written = plot_sweep(sweep_dir, x=args.x, y=args.y, hue=hue, kind=args.kind,
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
