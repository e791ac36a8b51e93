"""``compare``: ratios on the requests every platform completed, and rejection counts shown."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from conftest import small_scenario

from sn40l_sim.studies.compare import common_request_ids, compare_platforms, ratio_rows


def _frame(latency: list[float], outcome: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"request_id": range(len(latency)), "e2e_latency_s": latency,
                         "ttft_s": latency, "tpot_s": [0.01] * len(latency), "outcome": outcome})


def test_ratios_use_only_requests_every_platform_completed():
    # A rejects nothing; B rejects request 2, the slow one. On each platform's own completed set
    # B would look 4x faster in mean; on the common requests (0, 1) both take 1 s.
    a = _frame([1.0, 1.0, 10.0], ["completed"] * 3)
    b = _frame([1.0, 1.0, math.nan], ["completed", "completed", "rejected"])
    assert list(common_request_ids({"A": a, "B": b})) == [0, 1]
    summaries = {"A": {"e2e_latency_mean_s": 4.0}, "B": {"e2e_latency_mean_s": 1.0}}
    table = ratio_rows(summaries, {"A": a, "B": b})
    mean = table[table["key"] == "e2e_latency_mean_s"].iloc[0]
    assert mean["advantage"] == pytest.approx(1.0) and mean["n_common_requests"] == 2


def test_compare_prints_rejections_per_platform(write_scenario, tmp_path, capsys):
    # 30 Llama-2-70B experts (4.1 TB): one SN40L node's DDR (12 TiB) holds all, a DGX H100's host
    # DRAM (1.8 TB usable) about 13, so the DGX rejects the requests for the rest.
    data = small_scenario(experts=[{"model": "llama-2-70b", "count": 30, "name_prefix": "big"}],
                          router={"latency": "1 ms", "mapping": "zipf", "zipf_s": 0.5},
                          workload={"generator": {"arrivals": {"kind": "poisson", "rate_per_s": 1.0},
                                                  "prompt_tokens": 64, "output_tokens": 4,
                                                  "requests": 60}})
    table = compare_platforms(write_scenario(data), ["sn40l_node", "dgx_h100"], output=tmp_path,
                              data_dir=None, plots=False, progress=False)
    out = capsys.readouterr().out
    assert "rejected because" in out and "out of memory" in out
    n_common = int(table["n_common_requests"].iloc[0])
    assert 0 < n_common < 60  # the DGX rejected the experts its host DRAM cannot hold


def test_two_platforms_with_one_profile_name_are_refused(tmp_path):
    """Results are keyed by profile name and folder stem: a repeat would overwrite a run silently."""
    from sn40l_sim.config.load import validate
    from sn40l_sim.config.scenario import Scenario
    from sn40l_sim.errors import InputError
    from sn40l_sim.studies.compare import run_comparison

    scenario = validate(Scenario, small_scenario(name="dup"), None, "dup")
    with pytest.raises(InputError, match="share the profile name"):
        run_comparison(scenario, None, ["dgx_h100", "dgx_h100"], output=tmp_path)
    assert not any(tmp_path.iterdir())


def test_sn40l_comparison_carries_a_program_load_band(tmp_path):
    """With the SN40L in a comparison, each ratio is rerun at half and double its program load; the
    program load is paid on every router/expert alternation, so the batch-1 latency advantage over
    the A100 falls with a larger one and rises with a smaller one, and the switch ratio does not move."""
    from sn40l_sim.config.load import load_model
    from sn40l_sim.config.scenario import Scenario
    from sn40l_sim.studies.compare import run_comparison
    from sn40l_sim.studies.validate_coe import paper_dir

    source = paper_dir() / "t3_batch1_20tok.yaml"
    table = run_comparison(load_model(Scenario, source), source, ["sn40l_node", "dgx_a100"],
                           output=tmp_path).ratios
    row = table[table["key"] == "e2e_latency_mean_s"].iloc[0]
    assert row["advantage_program_load_2x"] < row["advantage"] < row["advantage_program_load_0.5x"]
    switch = table[table["key"] == "switch_time_mean_s"].iloc[0]
    assert switch["advantage_program_load_2x"] == switch["advantage"] == switch["advantage_program_load_0.5x"]
