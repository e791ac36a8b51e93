"""Sweep planning without simulating: dotted paths, grid expansion, point ids, bisection, SLOs."""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sn40l_sim.cli import main
from sn40l_sim.errors import InputError
from sn40l_sim.studies.sweep.driver import SweepOptions, run_sweep
from sn40l_sim.studies.sweep.grid import apply_overrides, check_path, expand, point_id
from sn40l_sim.studies.sweep.search import Bisection
from sn40l_sim.studies.sweep.spec import SearchConfig, SloConfig


@pytest.mark.parametrize("path", ["serving.max_batch", "workload.generator.arrivals.rate_per_s",
                                  "experts.0.count", "platform", "nodes", "platform.devices_per_node",
                                  "router.categories.coding", "workload.rate_multiplier",
                                  "workload.generator.output_tokens.median"])
def test_scenario_fields_are_valid_paths(path):
    assert check_path(path) is None


@pytest.mark.parametrize("path", ["serving.max_bach", "experts.first.count", "nodes.count",
                                  "workload.generator.arrivals.rate", "serving..max_batch", "speed"])
def test_unknown_paths_are_named(path):
    problem = check_path(path)
    assert problem is not None and repr(path) in problem


def test_overrides_set_nested_fields_and_create_missing_mappings():
    base = {"experts": [{"model": "m", "count": 2}], "serving": {"max_batch": 1}, "workload": {}}
    out = apply_overrides(base, {"experts.0.count": 5, "serving.max_batch": 8,
                                 "workload.generator.arrivals.rate_per_s": 3.0})
    assert out["experts"][0]["count"] == 5 and out["serving"]["max_batch"] == 8
    assert out["workload"]["generator"]["arrivals"] == {"rate_per_s": 3.0}
    assert base["serving"]["max_batch"] == 1, "the base mapping must not change"
    with pytest.raises(KeyError, match=r"experts\.3"):
        apply_overrides(base, {"experts.3.count": 1})


def test_grid_expands_cases_times_axes_in_file_order():
    points = expand({"seed": 1}, [{"platform": "a"}, {"platform": "b"}],
                    {"nodes": [1, 2, 3], "serving.max_batch": [1, 8]})
    assert len(points) == 12
    assert points[0] == {"seed": 1, "platform": "a", "nodes": 1, "serving.max_batch": 1}
    assert points[1]["serving.max_batch"] == 8 and points[6]["platform"] == "b"
    assert len({point_id(p) for p in points}) == 12


def test_point_id_ignores_key_order_but_not_values():
    assert point_id({"a": 1, "b": [1, 2]}) == point_id({"b": [1, 2], "a": 1})
    assert point_id({"a": 1}) != point_id({"a": 2})


def _search(**kw) -> SearchConfig:
    return SearchConfig(field="nodes", slo={"metric": "m", "max": 1.0}, **kw)


def _solve(search: SearchConfig, passes) -> Bisection:
    b = Bisection(search)
    while (value := b.next_value()) is not None:
        b.record(value, passes(value))
        assert len(b.probes) < 80
    return b


@settings(max_examples=200, deadline=None)
@given(low=st.integers(0, 50), span=st.integers(0, 200), threshold=st.integers(-5, 300))
def test_integer_bisection_finds_the_smallest_passing_value(low, span, threshold):
    high = low + span
    b = _solve(_search(low=low, high=high), lambda v: v >= threshold)
    if threshold > high:
        assert b.outcome.answer is None and b.outcome.status == "none"
    else:
        assert b.outcome.answer == max(low, threshold)
        assert b.outcome.status == ("at_bound" if threshold <= low else "found")
    assert len(b.probes) <= 2 + math.ceil(math.log2(span + 1))


@settings(max_examples=100, deadline=None)
@given(threshold=st.floats(0.0, 20.0))
def test_float_bisection_for_the_highest_passing_rate(threshold):
    search = SearchConfig(field="workload.rate_multiplier", low=0.5, high=16.0, resolution=0.05,
                          goal="max", slo={"metric": "ttft_p99_s", "max": 1.0})
    b = _solve(search, lambda v: v <= threshold)
    if threshold < 0.5:
        assert b.outcome.answer is None
    elif threshold >= 16.0:
        assert b.outcome.answer == 16.0
    else:
        assert b.outcome.answer <= threshold < b.outcome.answer + 0.05 + 1e-12


def test_bisection_over_a_values_list():
    b = _solve(_search(values=[1, 2, 4, 8, 16, 32]), lambda v: v >= 5)
    assert b.outcome.answer == 8
    assert all(v in (1, 2, 4, 8, 16, 32) for v, _ in b.probes)


def test_search_spec_errors():
    with pytest.raises(ValueError, match="resolution"):
        _search(low=0.5, high=2.5)
    with pytest.raises(ValueError, match="sorted"):
        _search(values=[4, 2])
    with pytest.raises(ValueError, match="low"):
        _search(low=5, high=1)


def test_slo_fails_errors_nan_and_rejections():
    slo = SloConfig(metric="ttft_p99_s", max=1.0)
    ok = {"status": "ok", "ttft_p99_s": 0.5, "n_requests": 10, "n_rejected": 0}
    assert slo.met(ok)
    assert not slo.met({**ok, "ttft_p99_s": 1.5})
    assert not slo.met({**ok, "ttft_p99_s": math.nan})
    assert not slo.met({**ok, "status": "error"})
    assert not slo.met({**ok, "n_rejected": 1})
    assert SloConfig(metric="ttft_p99_s", max=1.0, max_rejected_share=0.2).met({**ok, "n_rejected": 1})
    assert SloConfig(metric="throughput_req_per_s", min=2.0).met({**ok, "throughput_req_per_s": 3.0})


def _write_sweep(tmp_path, body: dict) -> object:
    (tmp_path / "base.yaml").write_text(yaml.safe_dump({
        "name": "b", "platform": "sn40l_node", "experts": [{"model": "llama-2-7b", "count": 4}],
        "workload": {"generator": {"requests": 5, "arrivals": {"kind": "poisson", "rate_per_s": 1},
                                   "prompt_tokens": 16, "output_tokens": 4}},
        "plots": "none"}))
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "scenario": "base.yaml", **body}, sort_keys=False))
    return path


def test_a_misspelt_axis_is_an_error_with_file_line_and_field(tmp_path, capsys):
    path = _write_sweep(tmp_path, {"grid": {"nodes": [1, 2], "serving.max_bach": [1, 2]}})
    with pytest.raises(InputError) as info:
        run_sweep(path, SweepOptions(output=tmp_path / "out", progress=False))
    line = 1 + path.read_text().splitlines().index("  serving.max_bach:")
    assert info.value.field == "grid.serving.max_bach" and info.value.line == line
    assert main(["sweep", str(path), "--output", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"sweep.yaml:{line}: grid.serving.max_bach" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists(), "nothing should run when the file is wrong"


def test_unknown_sweep_field_and_missing_scenario(tmp_path):
    with pytest.raises(InputError, match="unknown field"):
        run_sweep(_write_sweep(tmp_path, {"grids": {"nodes": [1]}}), SweepOptions(progress=False))
    path = _write_sweep(tmp_path, {"grid": {"nodes": [1]}})
    path.write_text(path.read_text().replace("base.yaml", "nope.yaml"))
    with pytest.raises(InputError, match="not found") as info:
        run_sweep(path, SweepOptions(progress=False))
    assert info.value.field == "scenario"
