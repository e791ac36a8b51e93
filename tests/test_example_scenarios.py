"""The shipped example scenarios over real traces run end to end, every request accounted for."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import REPO

from sn40l_sim.config.resolve import load_scenario
from sn40l_sim.runner import run_scenario


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize(("scenario", "trace", "n_rows"), [
    ("azure_conv_coe.yaml", "azure-llm-2023/AzureLLMInferenceTrace_conv.csv", 19_366),
    ("mooncake_coe.yaml", "mooncake-traces/conversation_trace.jsonl", 12_031),
])
def test_example_scenario_replays_its_whole_trace(real_data, tmp_path, scenario, trace, n_rows):
    result = run_scenario(load_scenario(REPO / "scenarios" / scenario), output=tmp_path,
                          data_dir=real_data, plots=False)
    req = result.requests
    assert len(req) == n_rows and req["request_id"].is_unique
    assert set(req["outcome"].astype(str)) <= {"completed", "rejected"}
    # Lengths come from the trace as published (row order is arrival order in both).
    if trace.endswith(".csv"):
        raw = pd.read_csv(real_data / trace)
        expected_prompt = raw["ContextTokens"].to_numpy()
    else:
        raw = pd.read_json(real_data / trace, lines=True)
        expected_prompt = raw["input_length"].to_numpy()
    assert (req.sort_values("request_id")["prompt_tokens"].to_numpy() == expected_prompt).all()
    done = req[req["outcome"] == "completed"]
    assert len(done) >= 0.99 * n_rows
    assert (done["e2e_latency_s"] >= done["ttft_s"]).all()
