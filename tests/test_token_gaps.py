"""The time-between-tokens SLO judges each request's p99 gap, derived from its group's iterations."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
from conftest import small_scenario

from sn40l_sim.cli import main
from sn40l_sim.metrics.economics import RequestColumns, Slo, n_good
from sn40l_sim.metrics.token_gaps import gap_percentile_s

# Group 0's iterations end at 1, 2 and 3 s (10 decode steps each), then at 10 s (1 step, after a
# 7 s stall); group 1 has one iteration.
EV_GROUP = np.array([0, 0, 0, 0, 1])
EV_END = np.array([1.0, 2.0, 3.0, 10.0, 5.0])
EV_STEPS = np.array([10, 10, 10, 1, 5])


def test_gaps_against_a_hand_calculation():
    # request 0: first token 0.5 s, ends 3 s: 10 gaps of 0.05 s, 20 of 0.1 s -> p99 0.1, p50 0.1
    # request 1: first token 2.5 s, ends 10 s: 10 gaps of 0.05 s and one of 7 s -> p99 (rank 11) 7,
    #            p50 (rank 6) 0.05
    # request 2: not decoding (a one-token answer): NaN
    group, first, end = np.array([0, 0, 1]), np.array([0.5, 2.5, 0.0]), np.array([3.0, 10.0, 5.0])
    decoding = np.array([True, True, False])
    p99 = gap_percentile_s(group, first, end, decoding, EV_GROUP, EV_END, EV_STEPS)
    assert p99[:2].tolist() == [0.1, 7.0] and math.isnan(p99[2])
    p50 = gap_percentile_s(group, first, end, decoding, EV_GROUP, EV_END, EV_STEPS, q=50)
    assert p50[:2].tolist() == [0.1, 0.05]


def test_goodput_judges_the_p99_gap_not_the_mean():
    # request 1's mean gap is (10 - 2.5) / 11 = 0.68 s; make a request whose mean passes, p99 fails
    columns = RequestColumns(arrival_s=np.zeros(2), end_s=np.array([3.0, 10.0]),
                             completed=np.array([True, True]), output_tokens=np.array([31.0, 12.0]),
                             ttft_s=np.array([0.5, 0.5]), tpot_s=np.array([0.08, 0.09]),
                             gap_s=np.array([0.1, 7.0]))
    assert n_good(columns, Slo(ttft_s=1.0, tbt_s=0.1)) == 1  # the mean would pass both
    without = RequestColumns(**{**columns.__dict__, "gap_s": None})
    assert n_good(without, Slo(ttft_s=1.0, tbt_s=0.1)) == 2


def test_summary_reports_mean_gap_and_p99_gap(tmp_path, write_scenario):
    out = tmp_path / "out"
    assert main(["run", str(write_scenario(small_scenario())), "--output", str(out), "--no-plots",
                 "--no-progress"]) == 0
    summary = json.loads(next(out.rglob("summary.json")).read_text())
    assert summary["tpot_mean_s"] > 0 and summary["token_gap_p99_mean_s"] > 0
    assert summary["token_gap_p99_p99_s"] >= summary["token_gap_p99_p50_s"]
    # The derived gaps of each request span its first token to its end in output - 1 steps, so
    # their largest is at least their mean, the request's tpot_s.
    run = next(out.rglob("summary.json")).parent
    requests, events = pd.read_parquet(run / "requests.parquet"), pd.read_parquet(run / "events.parquet")
    events = events[(events["kind"] == "batch") & (events["phase"] == "iteration")]
    done = (requests["outcome"] == "completed") & (requests["output_tokens"] > 1)
    largest = gap_percentile_s(requests["group"].to_numpy(), (requests["arrival_s"] + requests["ttft_s"])
                               .to_numpy(), requests["end_s"].to_numpy(), done.to_numpy(),
                               events["group"].to_numpy(), events["end_s"].to_numpy(),
                               events["n_steps"].to_numpy(), q=100)
    tpot = requests["tpot_s"].to_numpy()
    assert done.sum() > 10
    assert np.all(largest[done] >= tpot[done] * (1 - 1e-9))
