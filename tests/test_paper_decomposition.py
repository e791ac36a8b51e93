"""The P1-implied expert costs behind the T5-d / T5-F validate rows, by hand."""

from __future__ import annotations

import pytest

from sn40l_sim.studies.paper_decomposition import paper_expert_times, paper_linear_costs, split_linear


def test_split_linear_recovers_a_line():
    cost = split_linear(0.05 + 20 * 0.002, 0.05 + 200 * 0.002)
    assert cost.per_request_s == pytest.approx(0.05)
    assert cost.per_token_s == pytest.approx(0.002)


def test_paper_times_reproduce_the_paper_ratios():
    s = 13.4768e-3  # TP8 Llama-2-7B over 1 TB/s
    times = paper_expert_times(s)
    e20, e200 = times["sn40l_node"]
    # The consistency note of PAPER.md: S/E ~ 0.107 and E(200)/E(20) ~ 4.14.
    assert s / e20 == pytest.approx(0.107, abs=5e-4)
    assert e200 / e20 == pytest.approx(4.14, abs=5e-3)
    # Feeding the implied times back gives T3/T4 (A100) and predicts T3 for the H100 (2.8x).
    a20, a200 = times["dgx_a100"]
    assert (31 * s + a20) / (s + e20) == pytest.approx(4.8)
    assert (31 * s + a200) / (s + e200) == pytest.approx(3.9)
    h20, _ = times["dgx_h100"]
    assert (15 * s + h20) / (s + e20) == pytest.approx(2.8, abs=0.02)


def test_paper_costs_by_hand():
    s = 13.4768e-3
    costs = paper_linear_costs(s)
    e20, e200 = s * 26.2 / 2.8, s * 27.1 / 0.7
    d = (e200 - e20) / 180
    assert costs["sn40l_node"].per_token_s == pytest.approx(d)
    assert costs["sn40l_node"].per_request_s == pytest.approx(e20 - 20 * d)
    assert costs["dgx_a100"].per_token_s == pytest.approx((3.2 * e200 - 2.0 * e20) / 180)
    assert costs["sn40l_node"].per_token_s * 1e3 == pytest.approx(2.20, abs=0.01)
    assert costs["sn40l_node"].per_request_s * 1e3 == pytest.approx(82.2, abs=0.1)
