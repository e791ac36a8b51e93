"""Runs boundary fuzz cases (tests/fuzz_boundary_cases.py) in one process: a command line through
``sn40l_sim.cli.main``, or one Python API call. Started by tests/test_fuzz_boundary.py with a memory
limit; each case has a SIGALRM time limit; one JSON line per case goes to argv[2] as it finishes.
``$HOME`` is the case's ``home/`` folder, so a path expanded with ``~`` would show there.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

CASE_TIMEOUT_S = 60


class Hang(BaseException):
    """A case ran past CASE_TIMEOUT_S."""


def _expire(signum: int, frame: Any) -> None:
    raise Hang


def _call(job: dict[str, Any]) -> int:
    import sn40l_sim
    from sn40l_sim.errors import InputError

    function = job["function"]
    target = sn40l_sim.RunSummary.from_run_dir if function == "from_run_dir" else getattr(sn40l_sim, function)
    kwargs = dict(job.get("kwargs") or {})
    if function == "sweep":
        kwargs.setdefault("workers", 1)
    try:
        target(*job.get("args", []), **kwargs)
    except InputError as exc:
        for line in str(exc).splitlines():
            print(f"sn40l-sim: error: {line}", file=sys.stderr)
        return exc.exit_status
    return 0


def run_case(job: dict[str, Any]) -> dict[str, Any]:
    from sn40l_sim.cli import main

    os.chdir(job["dir"])
    os.environ["HOME"] = str(Path(job["dir"]) / "home")
    out, err = io.StringIO(), io.StringIO()
    result: dict[str, Any] = {"code": None, "err": "", "crash": None}
    signal.signal(signal.SIGALRM, _expire)
    signal.alarm(CASE_TIMEOUT_S)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            result["code"] = main(job["argv"]) if job.get("argv") is not None else _call(job["api"])
    except Hang:
        result["crash"] = f"hang: no exit within {CASE_TIMEOUT_S} s"
    except SystemExit as exc:
        result["code"] = exc.code
    except BaseException as exc:  # noqa: BLE001 - any escape is the finding
        result["crash"] = "".join(traceback.format_exception(exc))[-2000:]
    finally:
        signal.alarm(0)
    result["err"] = err.getvalue()
    return result


def main() -> None:
    jobs = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    with Path(sys.argv[2]).open("w", encoding="utf-8") as sink:
        for job in jobs:
            sink.write(json.dumps(run_case(job)) + "\n")
            sink.flush()


if __name__ == "__main__":
    main()
