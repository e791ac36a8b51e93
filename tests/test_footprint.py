"""Footprint: node counts by hand for P1's 850-expert question (T10)."""

import math

import pytest

from sn40l_sim.catalogue.models import get_model
from sn40l_sim.config.profiles import load_platform
from sn40l_sim.studies.footprint import _first_fit_decreasing, footprint

LLAMA = get_model("llama-2-7b")
KV = 4096 * LLAMA.kv_bytes_per_token()


def test_first_fit_decreasing():
    assert _first_fit_decreasing([5, 5, 5, 5], 10) == 2
    assert _first_fit_decreasing([6, 6, 6], 10) == 3
    assert _first_fit_decreasing([11], 10) is None
    assert _first_fit_decreasing([], 10) == 0


@pytest.mark.parametrize("name", ["dgx_a100", "dgx_h100"])
def test_dgx_all_in_hbm_850_experts(name):
    platform = load_platform(name)
    per_node = 8 * 80e9 - LLAMA.weight_bytes - KV  # HBM left after router + KV
    expected = math.ceil(850 / math.floor(per_node / LLAMA.weight_bytes))
    options = {o.strategy: o for o in footprint(platform, [LLAMA] * 850, tp=8, router=LLAMA,
                                                kv_reservation_bytes=KV)}
    assert options["all_in_hbm"].n_nodes == expected == 19
    # Backed by host DRAM: 2 TB x 0.9 holds 133 experts per node.
    assert options["backed"].n_nodes == math.ceil(850 / math.floor(1.8e12 / LLAMA.weight_bytes))


def test_sn40l_one_node_backed_by_ddr():
    options = {o.strategy: o for o in footprint(load_platform("sn40l_node"), [LLAMA] * 850, tp=8,
                                                router=LLAMA, kv_reservation_bytes=KV)}
    assert options["backed"].n_nodes == 1
    assert options["backed"].switch_s == pytest.approx(LLAMA.weight_bytes / 1e12 + 10e-6)
    assert options["backed"].latency_s > options["all_in_hbm"].latency_s
