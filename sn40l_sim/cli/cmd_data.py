"""``sn40l-sim data list`` and ``sn40l-sim data fetch NAME``: the data directory's datasets."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from sn40l_sim.workload.data_dir import ENV_VAR, resolve_data_dir

if TYPE_CHECKING:
    from sn40l_sim.workload.datasets import DatasetFile, ProgressFn

EXIT_FETCH_FAILED = 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``data list`` and ``data fetch`` to the top-level parser's sub-commands."""
    data = subparsers.add_parser("data", help="list or fetch the public datasets traces come from")
    sub = data.add_subparsers(dest="data_command", metavar="{list,fetch}", required=True)

    listing = sub.add_parser("list", help="known datasets and which files the data directory has")
    _add_data_dir(listing)
    listing.set_defaults(func=cmd_data_list)

    fetch = sub.add_parser("fetch", help="download datasets into the data directory, checksummed")
    fetch.add_argument("names", nargs="+", metavar="NAME", help="dataset name(s), or 'all'")
    fetch.add_argument("--base-url", help="fetch from <URL>/<dataset>/<file> (a mirror of a data "
                       "directory, e.g. file:///mnt/mirror) instead of the upstream repositories")
    fetch.add_argument("--force", action="store_true", help="download even files already valid")
    _add_data_dir(fetch)
    fetch.set_defaults(func=cmd_data_fetch)


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help=f"data directory (default: ${ENV_VAR} or the user cache)")


def cmd_data_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from sn40l_sim.workload.datasets import file_status, known_datasets

    data_dir = resolve_data_dir(args.data_dir)
    table = Table(title=f"datasets in {data_dir}")
    table.add_column("dataset")
    table.add_column("file", overflow="fold")
    table.add_column("size", justify="right")
    table.add_column("status", no_wrap=True)
    styles = {"ok": "green", "missing": "yellow", "bad checksum": "red"}
    incomplete: list[str] = []
    for dataset in known_datasets().values():
        for i, entry in enumerate(dataset.files):
            status = file_status(data_dir, dataset, entry)
            if status != "ok" and dataset.name not in incomplete:
                incomplete.append(dataset.name)
            table.add_row(dataset.name if i == 0 else "", entry.file, _size(entry.size_bytes),
                          f"[{styles[status]}]{status}[/]")
    console = Console()
    console.print(table)
    if incomplete:
        console.print(f"fetch with: sn40l-sim data fetch {' '.join(incomplete)}", markup=False)
    return 0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    from sn40l_sim.workload.datasets import FetchError, fetch_dataset, get_dataset, known_datasets

    data_dir = resolve_data_dir(args.data_dir)
    names = list(known_datasets()) if args.names == ["all"] else args.names
    for name in names:
        get_dataset(name)  # unknown names fail (exit 2) before anything is downloaded
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn())
    with Progress(*columns, transient=True) as bar:
        def start(entry: DatasetFile) -> ProgressFn:
            task = bar.add_task(entry.file, total=entry.size_bytes)

            def update(done: int, total: int | None) -> None:
                bar.update(task, completed=done, total=total)

            return update

        for name in names:
            try:
                report = fetch_dataset(name, data_dir, base_url=args.base_url, progress=start,
                                       force=args.force)
            except FetchError as exc:
                bar.stop()
                print(f"sn40l-sim: error: {exc}", file=sys.stderr)
                return EXIT_FETCH_FAILED
            for entry, outcome in report:
                bar.console.print(f"{name}/{entry.file}: {outcome} (sha256 ok)")
    print(f"data directory: {data_dir}")
    return 0


def _size(n_bytes: int) -> str:
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes} B"
