"""``sn40l-sim sweep``: run a grid or SLO search of scenarios, resuming where it stopped."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from sn40l_sim.cli.common import EXIT_INPUT, add_set


def _cmd_sweep(args: argparse.Namespace) -> int:
    from sn40l_sim.config.overrides import parse_set
    from sn40l_sim.studies.sweep.driver import SweepOptions, run_sweep
    from sn40l_sim.workload.data_dir import resolve_data_dir

    options = SweepOptions(backend=args.backend, workers=args.workers,
                           output=Path(args.output) if args.output else None,
                           data_dir=resolve_data_dir(args.data_dir), restart=args.restart,
                           progress=not args.no_progress, ray_address=args.ray_address,
                           overrides=parse_set(args.set))
    result = run_sweep(Path(args.sweep), options)
    console = Console()
    points = result.points
    n_error = int((points["status"] == "error").sum()) if len(points) else 0
    console.print(f"{len(points)} point(s): {result.n_ran} simulated now, {result.n_skipped} already "
                  f"done, {n_error} with an input error -> {result.out / 'points.parquet'}")
    if n_error:
        first = points.loc[points["status"] == "error", "error"].iloc[0]
        console.print(f"first input error: {first}", markup=False)
    if len(points) and n_error == len(points):
        console.print(f"[red]error:[/red] every point of the sweep failed ({n_error}); nothing was "
                      "simulated. The first point's error above says why.")
        return EXIT_INPUT
    if result.search is not None:
        from sn40l_sim.present.tables import capacity_rich, search_rich
        from sn40l_sim.studies.sweep.capacity import capacity_table_of

        capacity = result.out / "capacity.md"
        if args.markdown:
            console.print(capacity.read_text(), markup=False)
        else:
            console.print(search_rich(result.search))
            table = capacity_table_of(result.out)
            if table is not None:
                console.print(capacity_rich(table, str(result.search["slo"].iloc[0])))
        console.print(f"capacity table: {capacity} (CSV next to it)", markup=False)
    for failure in result.failures:
        console.print(f"[red]internal error[/red] {failure} (not recorded; a rerun retries it)")
    return 1 if result.failures else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    p.add_argument("--markdown", action="store_true", help="print the capacity table as Markdown")
    add_set(p)
    p.set_defaults(func=_cmd_sweep)
