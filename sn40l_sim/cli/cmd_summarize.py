"""``sn40l-sim summarize RUN_DIR``: recompute a run's summary from its results folder alone."""

from __future__ import annotations

import argparse
import json

from sn40l_sim.errors import InputError


def _cmd_summarize(args: argparse.Namespace) -> int:
    from sn40l_sim.metrics.run_summary import RunSummary
    from sn40l_sim.present.console import print_summary
    from sn40l_sim.present.fs_boundary import check_output_file, check_readable_dir
    from sn40l_sim.present.results_dir import jsonable, write_json

    run_dir = check_readable_dir(args.run_dir, "RUN_DIR")
    if not args.no_write:  # checked before the work: a read-only folder is a one-line error
        try:
            check_output_file(run_dir / "summary.json", "RUN_DIR")
        except InputError as exc:
            raise InputError(f"{exc.message} (pass --no-write to only print the summary)",
                             field="RUN_DIR") from None
    summary = RunSummary.from_run_dir(run_dir).to_dict()
    if args.json:
        print(json.dumps(jsonable(summary), indent=2))
    else:
        print_summary(summary, run_dir)
    if not args.no_write:
        write_json(run_dir / "summary.json", summary)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("summarize", help="recompute a run's summary.json from its results folder")
    p.add_argument("run_dir", help="a run's results folder (requests.parquet, events.parquet, ...)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON, not a table")
    p.add_argument("--no-write", action="store_true", help="print only; leave summary.json as it is")
    p.set_defaults(func=_cmd_summarize)
