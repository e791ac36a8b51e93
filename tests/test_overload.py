"""An overloaded run says so: on the console and in summary.json."""

from __future__ import annotations

import json

import numpy as np
from conftest import small_scenario

from sn40l_sim.cli import main
from sn40l_sim.metrics.overload import backlog


def test_backlog_against_a_hand_count():
    arrival = np.arange(0.0, 100.0, 1.0)  # one request a second for 100 s
    # served one every 4 s from t=0: at t=24.75 (a quarter) 25 arrived, 7 ended (0, 4, ..., 24)
    end = np.arange(len(arrival)) * 4.0
    grew = backlog(arrival, end)
    assert grew.at_quarters == (25 - 7, 50 - 13, 75 - 19, 100 - 25)
    assert grew.overloaded
    drained = backlog(arrival, arrival + 0.5)  # each served in half a second
    assert drained.at_quarters[3] <= 1 and not drained.overloaded
    unfinished = backlog(arrival, np.full(len(arrival), np.nan))  # nothing ever ends
    assert unfinished.at_quarters == (25, 50, 75, 100) and unfinished.overloaded


def _run(tmp_path, capsys, write_scenario, rate: float):
    data = small_scenario()
    data["workload"] = {"generator": {"arrivals": {"kind": "poisson", "rate_per_s": rate},
                                      "prompt_tokens": 512, "output_tokens": 200, "requests": 300}}
    out = tmp_path / f"r{rate}"
    code = main(["run", str(write_scenario(data)), "--output", str(out), "--no-plots", "--no-progress"])
    assert code == 0
    summary = json.loads(next(out.rglob("summary.json")).read_text())
    return summary, capsys.readouterr().out


def test_an_overloaded_run_warns(tmp_path, capsys, write_scenario):
    summary, console = _run(tmp_path, capsys, write_scenario, rate=200.0)
    assert summary["overloaded"] is True
    assert any(w.startswith("overloaded") for w in summary["warnings"])
    assert "warning: overloaded" in console
    calm, console = _run(tmp_path, capsys, write_scenario, rate=0.2)
    assert calm["overloaded"] is False and "warning: overloaded" not in console
