"""The engine against queueing theory: with the cost model taken out it is a FIFO single server.

One expert, preloaded (no switch), no router cost, batch 1, and :class:`FixedStepCost`: a prefill
and every decode step take ``STEP_S``, so a request's service time is ``output_tokens x STEP_S``.
That is a single-server FIFO queue, whose mean wait Pollaczek-Khinchine gives for Poisson arrivals:
``Wq = lambda E[S^2] / (2 (1 - rho))`` (M/D/1 for a fixed length; M/M/1 up to the geometric law's
``E[S^2] = (2 - p) E[S]^2``, 0.5 % below exponential at a mean of 100 tokens). Each check averages
five seeds after a warm-up cut and states its tolerance; a further check replays the Lindley
recursion on the simulated arrivals and service times, request by request, to float precision.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sn40l_sim.config.load import validate
from sn40l_sim.config.resolve import resolve
from sn40l_sim.config.scenario import Scenario
from sn40l_sim.cost.cache import FixedStepCost
from sn40l_sim.runner import run_scenario

SEEDS = (1, 2, 3, 4, 5)
WARM_UP = 0.1  # share of each run's first requests left out of the mean (the queue starts empty)


def _queue(tmp_path: Path, arrivals: dict[str, Any], output_tokens: Any, n_requests: int, seed: int,
           step_s: float) -> pd.DataFrame:
    """The requests of one run of a single FIFO server whose every step costs ``step_s``."""
    data = {"name": f"queue-{seed}", "platform": "sn40l_node", "experts": [{"model": "llama-2-7b"}],
            "workload": {"generator": {"arrivals": arrivals, "prompt_tokens": 16,
                                       "output_tokens": output_tokens, "requests": n_requests}},
            "serving": {"tensor_parallel": 8, "max_batch": 1}, "seed": seed, "plots": "none"}
    resolved = resolve(validate(Scenario, data, None, "theory"))
    result = run_scenario(resolved, plots=False, run_dir=tmp_path / f"run-{seed}",
                          step_costs=functools.partial(FixedStepCost, prefill_s=step_s,
                                                       decode_step_s=step_s))
    requests = result.requests
    assert (requests["outcome"] == "completed").all()
    assert result.summary.n_switches == 0 and (requests["switch_wait_s"] == 0).all()
    assert (requests["router_s"] == 0).all()
    return requests


def _mean_wait(frames: list[pd.DataFrame]) -> float:
    """The mean queue wait over seeds, each run's warm-up left out."""
    waits = [f["queue_wait_s"].to_numpy()[int(WARM_UP * len(f)):].mean() for f in frames]
    return float(np.mean(waits))


def pollaczek_khinchine_wait_s(rate_per_s: float, mean_s: float, second_moment_s2: float) -> float:
    """Mean wait in queue of an M/G/1 FIFO queue."""
    rho = rate_per_s * mean_s
    assert rho < 1
    return rate_per_s * second_moment_s2 / (2 * (1 - rho))


def test_pollaczek_khinchine_by_hand():
    # M/M/1 at rho 0.5, mean service 0.1 s: Wq = rho / (mu - lambda) = 0.5 / (10 - 5) = 0.1 s
    assert pollaczek_khinchine_wait_s(5.0, 0.1, 2 * 0.1**2) == pytest.approx(0.1)
    # M/D/1 waits half as long as M/M/1 at the same load
    assert pollaczek_khinchine_wait_s(5.0, 0.1, 0.1**2) == pytest.approx(0.05)


@pytest.mark.slow
def test_md1_mean_wait(tmp_path):
    """M/D/1 at rho 0.7: Wq = 0.7 x 10 ms / (2 x 0.3) = 11.67 ms; within 4 % over 5 seeds x 20,000
    requests (the seeds' spread is 1.8 %, so the mean's standard error is about 0.8 %)."""
    step_s, rate = 0.010, 70.0
    frames = [_queue(tmp_path, {"kind": "poisson", "rate_per_s": rate}, 1, 20_000, seed, step_s)
              for seed in SEEDS]
    expected = pollaczek_khinchine_wait_s(rate, step_s, step_s**2)
    assert expected == pytest.approx(0.011667, rel=1e-3)
    assert _mean_wait(frames) == pytest.approx(expected, rel=0.04)


@pytest.mark.slow
def test_mm1_mean_wait(tmp_path):
    """M/M/1 at rho 0.5: geometric output lengths (mean 100 tokens) at 1 ms a step give a mean
    service of 0.1 s; Wq = 0.0995 s by Pollaczek-Khinchine (M/M/1's 0.1 s less 0.5 %); within 5 %
    over 5 seeds x 40,000 requests (the seeds' spread is 2.7 %, standard error 1.2 %)."""
    step_s, mean_tokens, rate = 0.001, 100.0, 5.0
    p = 1 / mean_tokens
    frames = [_queue(tmp_path, {"kind": "poisson", "rate_per_s": rate},
                     {"kind": "geometric", "mean": mean_tokens}, 40_000, seed, step_s)
              for seed in SEEDS]
    mean_s, second_s2 = step_s * mean_tokens, step_s**2 * (2 - p) / p**2
    expected = pollaczek_khinchine_wait_s(rate, mean_s, second_s2)
    mm1 = rate * mean_s / (1 / mean_s - rate)
    assert expected == pytest.approx(mm1, rel=0.006)
    assert _mean_wait(frames) == pytest.approx(expected, rel=0.05)
    # a request's time in the system is its wait plus its own service
    sojourn = np.mean([f["e2e_latency_s"].mean() - f["queue_wait_s"].mean() for f in frames])
    assert sojourn == pytest.approx(mean_s, rel=0.02)


def test_dd1_never_waits(tmp_path):
    """D/D/1 below saturation (rho 0.95): nobody ever waits."""
    step_s = 0.010
    for seed in SEEDS[:2]:
        frame = _queue(tmp_path, {"kind": "constant", "rate_per_s": 95.0}, 1, 2_000, seed, step_s)
        assert frame["queue_wait_s"].abs().max() < 1e-9
        assert frame["e2e_latency_s"].to_numpy() == pytest.approx(step_s, rel=1e-9)


def test_each_wait_follows_lindley(tmp_path):
    """Request by request, W[n+1] = max(0, W[n] + S[n] - (A[n+1] - A[n])): the engine serves one
    request at a time, in arrival order, never idles with work waiting and never overlaps two."""
    step_s = 0.002
    frame = _queue(tmp_path, {"kind": "gamma", "rate_per_s": 9.0, "cv": 2.0},
                   {"kind": "geometric", "mean": 50}, 3_000, 11, step_s)
    arrival = frame["arrival_s"].to_numpy()
    service = frame["output_tokens"].to_numpy() * step_s
    expected = np.zeros(len(frame))
    for n in range(1, len(frame)):
        expected[n] = max(0.0, expected[n - 1] + service[n - 1] - (arrival[n] - arrival[n - 1]))
    assert expected.max() > 1.0  # a bursty load that queues
    np.testing.assert_allclose(frame["queue_wait_s"].to_numpy(), expected, rtol=0, atol=1e-7)
