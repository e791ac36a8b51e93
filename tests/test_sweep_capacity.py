"""The capacity table: the cheapest answer over a chosen axis, bounds marked as bounds."""

from __future__ import annotations

import math

import pandas as pd
import pytest

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
    # the table shows nodes (the searched value); a missing answer says why
    assert "| a | 2 |" in text and "| b | <= 1 |" in text and "| c | none |" in text
    assert "TP=8: misses the SLO in the searched range" in text
    assert "tensor_parallel=8: 4; tensor_parallel=1: 2" in text


def test_a_tp_search_reports_the_cheapest_per_platform(tmp_path):
    """End to end: nodes searched for TP 1 and 8 on two platforms, a goodput target, one row each."""
    import shutil

    import yaml
    from conftest import REPO

    from sn40l_sim.errors import InputError
    from sn40l_sim.studies.sweep.driver import SweepOptions, run_sweep

    shutil.copy(REPO / "scenarios" / "sweeps" / "tiny_base.yaml", tmp_path / "tiny_base.yaml")
    sweep = {"name": "tp", "scenario": "tiny_base.yaml",
             "set": {"workload.generator.requests": 60, "serving.placement": "load_aware"},
             "cases": [{"platform": "sn40l_node"}, {"platform": "dgx_h100"}],
             "grid": {"serving.tensor_parallel": [1, 8]},
             "search": {"field": "nodes", "low": 1, "high": 4, "goal": "min",
                        "cheapest_over": ["serving.tensor_parallel"],
                        "slo": {"metric": "goodput_share", "min": 0.9}}}
    path = tmp_path / "tp.yaml"
    path.write_text(yaml.safe_dump(sweep))
    result = run_sweep(path, SweepOptions(workers=1, output=tmp_path / "out", progress=False))
    table = pd.read_csv(result.out / "capacity.csv")
    assert list(table["platform"]) == ["sn40l_node", "dgx_h100"]
    assert table["tried"].str.contains("tensor_parallel=1").all()
    assert table["tried"].str.contains("tensor_parallel=8").all()
    assert (table["price_usd_per_hour"] > 0).all() and (table["goodput_share"] >= 0.9).all()
    assert "| platform |" in (result.out / "capacity.md").read_text()
    sweep["search"]["cheapest_over"] = ["serving.max_batch"]  # not an axis of this sweep
    path.write_text(yaml.safe_dump(sweep))
    with pytest.raises(InputError, match="not grid or case axes"):
        run_sweep(path, SweepOptions(workers=1, output=tmp_path / "out2", progress=False))
