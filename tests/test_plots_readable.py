"""Plots a planner can read: binned timeline over the whole run, no hidden lines, bounds marked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sn40l_sim.present.run_plots import busy_per_bin, timeline
from sn40l_sim.studies.sweep.sweep_plots import capacity_curve, metric_curve


def test_busy_per_bin_by_hand():
    # [0, 1.5) and [1, 3): bins [0,1) [1,2) [2,3) hold 1, 0.5 + 1, 1 seconds.
    got = busy_per_bin(np.array([0.0, 1.0]), np.array([1.5, 3.0]), np.array([0.0, 1.0, 2.0, 3.0]))
    assert got == pytest.approx([1.0, 1.5, 1.0])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0, 50)), min_size=1, max_size=50))
def test_busy_per_bin_conserves_time(spans):
    start = np.array([s for s, _ in spans])
    end = start + np.array([d for _, d in spans])
    edges = np.linspace(0, 150, 31)
    assert busy_per_bin(start, end, edges).sum() == pytest.approx((end - start).sum(), abs=1e-6)
    assert (busy_per_bin(start, end, edges) >= -1e-9).all()


def test_timeline_covers_the_whole_run(tmp_path):
    n = 5000  # far more than a bar-per-event plot could show
    events = pd.DataFrame({"kind": ["batch"] * n, "phase": ["iteration"] * n,
                           "group": np.arange(n) % 100, "start_s": np.arange(n, dtype=float),
                           "end_s": np.arange(n, dtype=float) + 0.5})
    timeline(events, "t", tmp_path / "timeline.png")
    assert (tmp_path / "timeline.png").stat().st_size > 0


def test_identical_lines_say_so_and_bounds_are_marked(tmp_path):
    import matplotlib.pyplot as plt

    points = pd.DataFrame({"x": [1, 2, 1, 2], "y": [1.0, 2.0, 1.0, 2.0], "h": ["a", "a", "b", "b"],
                           "status": ["ok"] * 4})
    captured = {}
    original = plt.Figure.savefig

    def keep(fig, *args, **kwargs):
        captured["labels"] = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        return original(fig, *args, **kwargs)

    plt.Figure.savefig = keep
    try:
        metric_curve(points, "x", "y", ["h"], "t", tmp_path)
        assert captured["labels"] == ["h=a", "h=b (= h=a, drawn over it)"]
        search = pd.DataFrame({"x": [1, 2, 4], "answer": [1, 2, None],
                               "answer_n_devices": [8, 16, None], "status":
                               ["at_bound", "found", "none"], "best_end_n_devices": [None, None, 1024],
                               "h": ["a", "a", "a"], "slo": ["s"] * 3})
        capacity_curve(search, "x", "answer_n_devices", ["h"], "t", tmp_path)
        labels = captured["labels"]
        assert any("true answer may be lower" in t for t in labels)
        assert any("no answer: misses the SLO up to the top of the range" in t for t in labels)
    finally:
        plt.Figure.savefig = original


def test_timeline_panels_share_one_time_axis_and_compare_names_platforms(tmp_path):
    import matplotlib
    import matplotlib.pyplot as plt

    from sn40l_sim.present.run_plots import compare_cdf, timeline

    events = pd.DataFrame({"kind": ["batch", "batch"], "phase": ["iteration", "iteration"],
                           "group": [0, 0], "start_s": [0.0, 2.0], "end_s": [1.0, 3.0]})
    captured = {}
    original = plt.Figure.savefig

    def keep(fig, *args, **kwargs):
        captured["axes"] = fig.axes
        return original(fig, *args, **kwargs)

    plt.Figure.savefig = keep
    try:
        timeline(events, "t", tmp_path / "timeline.png")
        top, bottom = captured["axes"][:2]
        assert top.get_xlim() == bottom.get_xlim()
        assert top.get_position().width == pytest.approx(bottom.get_position().width)
        assert list(bottom.get_yticks()) == [0]  # one group: one whole row, not -0.5 .. 0.5
    finally:
        plt.Figure.savefig = original
    requests = pd.DataFrame({"outcome": ["completed"] * 3, "ttft_s": [0.1, 0.2, 0.3],
                             "e2e_latency_s": [1.0, 2.0, 3.0]})
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        compare_cdf({"SN40L node": requests, "DGX H100": requests}, "t", tmp_path / "cdf.svg")
    svg = (tmp_path / "cdf.svg").read_text()
    assert "SN40L node: time to first token" in svg and "DGX H100: end-to-end latency" in svg
