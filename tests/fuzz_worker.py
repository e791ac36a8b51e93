"""Runs fuzz cases through ``sn40l_sim.cli.main`` in one process (imports paid once).

Started by tests/test_fuzz_cli.py as a subprocess with a memory limit (RLIMIT_AS); each case gets
its own SIGALRM time limit. Reads a JSON list of ``{"dir", "scenario", "sweep"}`` from argv[1] and
writes one JSON line per case to argv[2] as it goes (a worker killed by the memory limit still
leaves the results of the cases before).
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

CASE_TIMEOUT_S = 20


class Hang(BaseException):
    """A case ran past CASE_TIMEOUT_S (BaseException: the CLI must not catch it)."""


def _expire(signum: int, frame: Any) -> None:
    raise Hang


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    from sn40l_sim.cli import main

    os.chdir(case["dir"])  # relative outputs (a scenario's 'output') land in the case folder
    command = "sweep" if case["sweep"] else "run"
    argv = [command, case["scenario"], "--output", "out", "--no-progress"]
    argv += ["--workers", "1"] if case["sweep"] else ["--no-plots"]
    out, err = io.StringIO(), io.StringIO()
    result: dict[str, Any] = {"code": None, "err": "", "crash": None}
    signal.signal(signal.SIGALRM, _expire)
    signal.alarm(CASE_TIMEOUT_S)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            result["code"] = main(argv)
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
    cases = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    with Path(sys.argv[2]).open("w", encoding="utf-8") as sink:
        for case in cases:
            sink.write(json.dumps(run_case(case)) + "\n")
            sink.flush()


if __name__ == "__main__":
    main()
