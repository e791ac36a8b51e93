"""Amortised time of one step-cost look-up as the engine makes them (target: <= 10 us).

    python benchmarks/step_cost_lookup.py [--lookups 200000]

Replays a synthetic engine access pattern against ``StepCostTable``: batches of 1-8 sequences, prompt
lengths from a log-normal (as in chat traces), decode contexts that grow token by token, and
multi-step decode runs. Reports cold (first) and amortised microseconds per look-up, and the time of a
cache miss (one operator-level step evaluation). A script, not a timed test.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sn40l_sim.catalogue.models import get_model
from sn40l_sim.config.profiles import load_platform
from sn40l_sim.cost.cache import StepCostTable
from sn40l_sim.cost.step import decode_cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lookups", type=int, default=200_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    model = get_model("llama-2-7b")
    for profile in ("sn40l_node", "dgx_a100"):
        platform = load_platform(profile)
        start = time.perf_counter()
        for i in range(200):
            decode_cost(platform, model, n_batch=1 + i % 8, n_context_tokens=100 + 16 * i, tp=8)
        miss_us = (time.perf_counter() - start) / 200 * 1e6
        table = StepCostTable(platform, model, 8)
        batches = rng.integers(1, 9, args.lookups)
        prompts = np.clip(rng.lognormal(6.0, 1.0, args.lookups), 1, 8192).astype(int)
        steps = rng.integers(1, 200, args.lookups)
        start = time.perf_counter()
        for b, p, s in zip(batches.tolist(), prompts.tolist(), steps.tolist(), strict=True):
            table.prefill_s(b, p)
            table.decode_s(b, p + s)
            table.decode_run_s(b, p, s)
        lookup_us = (time.perf_counter() - start) / (3 * args.lookups) * 1e6
        print(f"{profile:11} miss (one step evaluation) {miss_us:7.1f} us   "
              f"amortised look-up {lookup_us:6.2f} us over {3 * args.lookups} look-ups")


if __name__ == "__main__":
    main()
