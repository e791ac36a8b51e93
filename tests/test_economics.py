"""Energy, cost and goodput by hand; the costs override; the default-limit warning."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from conftest import small_scenario

from sn40l_sim.catalogue.hardware import PowerSpec, PriceSpec
from sn40l_sim.config.resolve import load_scenario
from sn40l_sim.errors import InputError
from sn40l_sim.metrics.economics import (
    Fleet,
    RequestColumns,
    Slo,
    device_busy_s,
    economics,
    energy_j,
)
from sn40l_sim.runner import run_scenario

POWER = PowerSpec(device_idle_w=100, device_busy_w=500, node_idle_w=1000, node_busy_w=2000)


def _requests() -> pd.DataFrame:
    # Window 0..100 s; two completed (10 and 30 output tokens), one rejected.
    return pd.DataFrame({
        "arrival_s": [0.0, 10.0, 20.0], "end_s": [50.0, 100.0, 20.0],
        "outcome": ["completed", "completed", "rejected"], "output_tokens": [10, 30, 5],
        "ttft_s": [0.5, 2.0, math.nan], "tpot_s": [0.05, 0.05, math.nan]})


def _events() -> pd.DataFrame:
    # One group of TP2 busy for 20 s (two batch events); a switch does not count.
    return pd.DataFrame({"kind": ["batch", "batch", "switch"], "start_s": [0.0, 50.0, 0.0],
                         "end_s": [10.0, 60.0, 40.0]})


def test_energy_by_hand():
    fleet = Fleet(n_nodes=1, n_devices_per_node=4, tensor_parallel=2)
    # devices: 4 x 100 W x 100 s + (500 - 100) W x 40 device-s = 40,000 + 16,000
    # rest of the node: 1000 W x 100 s + (2000 - 1000) W x 40 / 4 = 100,000 + 10,000
    assert energy_j(_events(), 100.0, fleet, POWER) == pytest.approx(166_000)


def test_summary_metrics_by_hand():
    fleet = Fleet(n_nodes=2, n_devices_per_node=4, tensor_parallel=2)
    out = economics(RequestColumns.from_frame(_requests()), device_busy_s(_events(), 2), fleet,
                    POWER, PriceSpec(36.0), Slo(1.0, 0.1))
    energy = 8 * 100 * 100 + 400 * 40 + 2 * 1000 * 100 + 1000 * 40 / 4
    assert out["energy_j"] == pytest.approx(energy)
    assert out["energy_per_request_j"] == pytest.approx(energy / 2)
    assert out["tokens_per_j"] == pytest.approx(40 / energy)
    assert out["price_usd_per_hour"] == 72.0
    assert out["cost_usd"] == pytest.approx(72.0 * 100 / 3600)
    assert out["cost_per_million_output_tokens_usd"] == pytest.approx(2.0 / 40 * 1e6)
    assert out["goodput_requests_per_s"] == pytest.approx(1 / 100)  # only the first meets TTFT
    assert out["goodput_share"] == pytest.approx(1 / 3)
    assert out["peak_power_w"] == pytest.approx(2 * (2000 + 4 * 500))


def test_no_power_model_gives_nan():
    fleet = Fleet(1, 4, 2)
    out = economics(RequestColumns.from_frame(_requests()), device_busy_s(_events(), 2), fleet,
                    None, None, Slo(1.0, 0.1))
    assert math.isnan(out["energy_j"]) and math.isnan(out["cost_per_million_output_tokens_usd"])


def test_costs_override_the_profile(write_scenario):
    data = small_scenario(costs={"node_usd_per_hour": 50, "device_busy": "1 kW"})
    platform = load_scenario(write_scenario(data)).platform
    assert platform.price.node_usd_per_hour == 50
    assert platform.power.device_busy_w == 1000 and platform.power.device_idle_w == 100


def test_costs_without_profile_power_need_all_four(write_scenario):
    data = small_scenario(costs={"device_busy": "1 kW"})
    data["platform"] = {**__import__("yaml").safe_load(
        (__import__("conftest").REPO / "hw_profiles" / "dgx_h100.yaml").read_text())}
    del data["platform"]["power"]
    with pytest.raises(InputError, match="give all of"):
        load_scenario(write_scenario(data))


def test_default_context_limit_rejections_warn(write_scenario, tmp_path):
    gen = {"arrivals": {"kind": "poisson", "rate_per_s": 2.0}, "prompt_tokens": 5000,
           "output_tokens": 4, "requests": 5}
    data = small_scenario(workload={"generator": gen}, router={"latency": "1 ms"})
    result = run_scenario(load_scenario(write_scenario(data)), output=tmp_path, plots=False)
    assert result.summary["n_rejected"] == 5
    assert result.summary["warnings"] == [
        "5 of 5 requests rejected by the default serving.max_context_tokens (4096); set it in the "
        "scenario if the model serves longer contexts"]
    data["serving"]["max_context_tokens"] = 4096  # set on purpose: no warning
    result = run_scenario(load_scenario(write_scenario(data)), output=tmp_path, plots=False)
    assert result.summary["warnings"] == []
