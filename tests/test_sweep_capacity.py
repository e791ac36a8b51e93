"""The capacity table: the cheapest answer over a chosen axis, bounds marked as bounds."""

from __future__ import annotations

import math

import pandas as pd

from sn40l_sim.studies.sweep.capacity import capacity_markdown, capacity_table


def _search() -> pd.DataFrame:
    base = {"search_field": "nodes", "goal": "min", "slo": "ttft_p99_s <= 1", "n_probes": 3,
            "probes": ""}
    rows = [
        # platform A at TP8 needs 4 nodes ($40/h), at TP1 2 nodes ($20/h): TP1 is cheaper.
        {"platform": "a", "serving.tensor_parallel": 8, "status": "found", "answer": 4,
         "answer_n_devices": 32, "answer_price_usd_per_hour": 40.0, "answer_ttft_p99_s": 0.5},
        {"platform": "a", "serving.tensor_parallel": 1, "status": "found", "answer": 2,
         "answer_n_devices": 16, "answer_price_usd_per_hour": 20.0, "answer_ttft_p99_s": 0.9},
        # platform B: TP8 already meets it at the bottom of the range; TP1 never does.
        {"platform": "b", "serving.tensor_parallel": 8, "status": "at_bound", "answer": 1,
         "answer_n_devices": 8, "answer_price_usd_per_hour": 10.0, "answer_ttft_p99_s": 0.2},
        {"platform": "b", "serving.tensor_parallel": 1, "status": "none", "answer": None,
         "best_end_n_devices": 1024},
        # platform C: nothing works.
        {"platform": "c", "serving.tensor_parallel": 8, "status": "none", "answer": None,
         "best_end_n_devices": 1024},
    ]
    frame = pd.DataFrame([{**base, "order": i, **r} for i, r in enumerate(rows)])
    frame["answer_platform_name"] = frame["platform"]
    return frame


def test_cheapest_over_tp_and_bounds():
    table = capacity_table(_search(), ["serving.tensor_parallel"]).set_index("platform")
    assert table.loc["a", "devices"] == 16 and table.loc["a", "price_usd_per_hour"] == 20.0
    assert table.loc["b", "status"] == "at_bound" and table.loc["b", "devices"] == 8
    assert table.loc["c", "status"] == "none" and table.loc["c", "devices"] == 1024
    assert math.isnan(table.loc["c", "tensor_parallel"])
    text = capacity_markdown(table.reset_index(), "ttft_p99_s <= 1")
    assert "| a | 16 |" in text and "| b | <= 8 |" in text and "| c | none up to 1,024 |" in text
    assert "tensor_parallel=8: 32; tensor_parallel=1: 16" in text
