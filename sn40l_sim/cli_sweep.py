"""``sn40l-sim sweep`` and ``sn40l-sim plot``: run a sweep file, draw curves from its tables."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table


def _cmd_sweep(args: argparse.Namespace) -> int:
    from sn40l_sim.sweep.driver import SweepOptions, run_sweep
    from sn40l_sim.workload.data_dir import resolve_data_dir

    options = SweepOptions(backend=args.backend, workers=args.workers,
                           output=Path(args.output) if args.output else None,
                           data_dir=resolve_data_dir(args.data_dir), restart=args.restart,
                           progress=not args.no_progress, ray_address=args.ray_address)
    result = run_sweep(Path(args.sweep), options)
    console = Console()
    points = result.points
    n_error = int((points["status"] == "error").sum()) if len(points) else 0
    console.print(f"{len(points)} point(s): {result.n_ran} simulated now, {result.n_skipped} already "
                  f"done, {n_error} with an input error -> {result.out / 'points.parquet'}")
    if n_error:
        first = points.loc[points["status"] == "error", "error"].iloc[0]
        console.print(f"first input error: {first}", markup=False)
    if result.search is not None:
        _print_search(result.search, console)
    for failure in result.failures:
        console.print(f"[red]internal error[/red] {failure} (not recorded; a rerun retries it)")
    return 1 if result.failures else 0


def _print_search(search, console: Console) -> None:
    skip = {"order", "search_field", "goal", "slo", "probes", "answer_platform_name"}
    columns = [c for c in search.columns if c not in skip
               and (search[c].astype(str).nunique() > 1 or c in ("answer", "status"))]
    field, slo = search["search_field"].iloc[0], search["slo"].iloc[0]
    goal = "fewest" if search["goal"].iloc[0] == "min" else "most"
    table = Table(title=f"SLO search: {goal} {field} with {slo}")
    for column in columns:
        table.add_column(column.rsplit(".", 1)[-1], justify="right")
    for _, row in search.iterrows():
        table.add_row(*["-" if row[c] is None or row[c] != row[c] else f"{row[c]:.4g}"
                        if isinstance(row[c], float) else str(row[c]) for c in columns])
    console.print(table)


def _cmd_plot(args: argparse.Namespace) -> int:
    from sn40l_sim.sweep.plots import plot_sweep

    hue = [h.strip() for h in args.hue.split(",") if h.strip()] if args.hue is not None else None
    written = plot_sweep(Path(args.sweep_dir), x=args.x, y=args.y, hue=hue, kind=args.kind,
                         baseline=args.baseline, slo=args.slo)
    for path in written:
        print(path)
    return 0


def add_sweep_subcommands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="run a grid / SLO search of scenarios; resumes where it stopped")
    p.add_argument("sweep", help="sweep YAML file")
    p.add_argument("--workers", type=int, default=2, help="local processes (default 2)")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="local process pool (default) or Ray (needs sn40l-sim[ray])")
    p.add_argument("--ray-address", help="Ray cluster address (default: RAY_ADDRESS or a local Ray)")
    p.add_argument("--output", help="parent folder of the sweep folder (default: the file's 'output')")
    p.add_argument("--data-dir", help="data directory for traces")
    p.add_argument("--restart", action="store_true", help="delete finished points and start over")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_sweep)

    q = sub.add_parser("plot", help="speedup, metric and capacity curves of a sweep folder (PNG + SVG)")
    q.add_argument("sweep_dir", help="a sweep output folder (holds points.parquet)")
    q.add_argument("--kind", choices=["auto", "metric", "speedup", "capacity"], default="auto")
    q.add_argument("--x", help="swept axis along x (default: the first numeric swept axis)")
    q.add_argument("--y", help="metric on y (default: ttft_p99_s; capacity: answer_n_devices)")
    q.add_argument("--hue", help="comma-separated axes, one line per combination (default: the others)")
    q.add_argument("--baseline", help="platform the speedup is relative to (default: the first)")
    q.add_argument("--slo", type=float, help="draw this target as a dashed line on metric curves")
    q.set_defaults(func=_cmd_plot)
