"""The SN40L program-load band of an SLO search: which extra searches a sweep runs, the capacity
table's band columns, means over seeds, an end-to-end sweep and its reprice."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from conftest import REPO
from rich.console import Console

from sn40l_sim.cli import main
from sn40l_sim.config.load import read_yaml
from sn40l_sim.errors import InputError
from sn40l_sim.present.tables import capacity_rich
from sn40l_sim.studies.sweep.capacity import capacity_markdown, capacity_mean, capacity_table
from sn40l_sim.studies.sweep.driver import SweepOptions, run_sweep
from sn40l_sim.studies.sweep.grid import expand
from sn40l_sim.studies.sweep.program_load_band import MARKER, SCALE_AXIS, band_column, expand_band
from sn40l_sim.studies.sweep.reprice import parse_changes, reprice_sweep
from sn40l_sim.studies.sweep.spec import SweepSpec, load_sweep

SWEEPS = REPO / "scenarios" / "sweeps"
SOURCE = SWEEPS / "tiny_base.yaml"
SEARCH = {"field": "nodes", "low": 1, "high": 4, "goal": "min", "slo": {"metric": "ttft_p99_s", "max": 1.0}}


def _expand(base: dict[str, Any] | None = None, **body: Any) -> tuple[list[dict[str, Any]], list[float]]:
    spec = SweepSpec.model_validate({"name": "s", "scenario": "tiny_base.yaml", **body})
    combos = expand(spec.set, spec.cases, spec.grid)
    return expand_band(combos, spec, base if base is not None else read_yaml(SOURCE)[0], SOURCE, {})


BOTH = [{"platform": "sn40l_node"}, {"platform": "dgx_h100"}]


def test_sn40l_searches_are_repeated_at_half_and_double_the_program_load():
    combos, scales = _expand(cases=BOTH, grid={"serving.tensor_parallel": [1, 8]}, search=SEARCH)
    assert len(combos) == 4 + 2 * 2 and scales == [1.0] * 4 + [0.5, 0.5, 2.0, 2.0]
    band = combos[4:]
    assert all(c["platform"] == "sn40l_node" for c in band)
    assert [(c[SCALE_AXIS], c["serving.tensor_parallel"]) for c in band] == [(0.5, 1), (0.5, 8),
                                                                             (2.0, 1), (2.0, 8)]
    assert all(SCALE_AXIS not in c for c in combos[:4])


def test_the_band_is_relative_to_the_base_scenarios_own_scale():
    base = {**read_yaml(SOURCE)[0], "costs": {"program_load_scale": 1.5}}
    combos, _ = _expand(base, cases=BOTH, search=SEARCH)
    assert [c[SCALE_AXIS] for c in combos[2:]] == [0.75, 3.0]


@pytest.mark.parametrize("body", [
    {"cases": [{"platform": "sn40l_node"}]},  # nothing to compare with
    {"cases": [{"platform": "dgx_h100"}, {"platform": "dgx_a100"}]},  # no program load anywhere
    {"cases": BOTH, "grid": {SCALE_AXIS: [0.5, 1]}},  # the sweep varies it itself
    {"cases": BOTH, "set": {SCALE_AXIS: 2}},  # ... or fixes it
    {"cases": BOTH, "search": {**SEARCH, "program_load_band": False}},  # switched off
    {"cases": BOTH, "search": None},  # a grid without a search
])
def test_no_band_when_nothing_is_compared_or_it_is_set_or_off(body):
    body = {"search": SEARCH, **body}
    combos, scales = _expand(**body)
    assert set(scales) == {1.0} and not any(SCALE_AXIS in c and SCALE_AXIS not in body.get("set", {})
                                           and SCALE_AXIS not in body.get("grid", {}) for c in combos)


def test_program_load_band_is_validated_with_file_line_and_field(tmp_path, capsys):
    shutil.copy(SOURCE, tmp_path / "tiny_base.yaml")
    path = tmp_path / "s.yaml"
    for value, grid, message in (("maybe", {}, "program_load_band"),
                                 (True, {SCALE_AXIS: [1, 2]}, "cannot be true")):
        path.write_text(yaml.safe_dump({"name": "s", "scenario": "tiny_base.yaml", "cases": BOTH,
                                        "grid": grid, "search": {**SEARCH, "program_load_band": value}},
                                       sort_keys=False))
        with pytest.raises(InputError, match=message) as info:
            load_sweep(path)
        assert info.value.line is not None and "program_load_band" in (info.value.field or "") + \
            info.value.message
        assert main(["sweep", str(path), "--output", str(tmp_path / "out"), "--no-progress"]) == 2
        assert "s.yaml:" in capsys.readouterr().err


def _search_row(platform: str, tp: int, scale: float, answer: float | None, price: float,
                cost: float) -> dict[str, Any]:
    row: dict[str, Any] = {"platform": platform, "serving.tensor_parallel": tp, MARKER: scale,
                           SCALE_AXIS: scale if scale != 1 else math.nan, "search_field": "nodes",
                           "goal": "min", "slo": "ttft_p99_s <= 1", "n_probes": 3, "probes": "",
                           "answer_platform_name": platform.upper()}
    if answer is None:
        return {**row, "status": "none", "answer": None, "best_end_n_devices": 128.0,
                "why": "misses the SLO up to nodes=16"}
    return {**row, "status": "found", "answer": answer, "answer_n_devices": 8 * answer,
            "answer_price_usd_per_hour": price * answer, "answer_tensor_parallel": tp,
            "answer_cost_per_million_output_tokens_usd": cost, "answer_ttft_p99_s": 0.5}


def _synthetic() -> pd.DataFrame:
    rows = [
        # SN40L: base TP1 10 nodes ($100/h) beats TP8 12; at 0.5x TP8 wins with 6; at 2x TP1 19, TP8 none
        _search_row("sn", 1, 1.0, 10, 10.0, 50.0), _search_row("sn", 8, 1.0, 12, 10.0, 60.0),
        _search_row("gpu", 1, 1.0, 9, 12.0, 55.0), _search_row("gpu", 8, 1.0, 20, 12.0, 99.0),
        _search_row("sn", 1, 0.5, 8, 10.0, 40.0), _search_row("sn", 8, 0.5, 6, 10.0, 30.0),
        _search_row("sn", 1, 2.0, 19, 10.0, 95.0), _search_row("sn", 8, 2.0, None, 10.0, 0.0),
    ]
    return pd.DataFrame([{"order": i, **r} for i, r in enumerate(rows)])


def test_capacity_table_keeps_one_row_per_platform_with_the_band_as_columns():
    table = capacity_table(_synthetic(), ["serving.tensor_parallel"]).set_index("platform")
    assert list(table.index) == ["sn", "gpu"]  # one row each, chosen from the base searches
    sn, gpu = table.loc["sn"], table.loc["gpu"]
    assert sn["nodes"] == 10 and sn["tensor_parallel"] == 1
    assert sn[band_column("nodes", 0.5)] == 6 and sn[band_column("tensor_parallel", 0.5)] == 8
    assert sn[band_column("nodes", 2.0)] == 19 and sn[band_column("tensor_parallel", 2.0)] == 1
    assert sn[band_column("cost_per_million_output_tokens_usd", 0.5)] == 30.0
    assert sn[band_column("status", 2.0)] == "found"
    assert gpu["nodes"] == 9 and math.isnan(gpu[band_column("nodes", 0.5)])
    assert pd.isna(gpu[band_column("status", 0.5)])
    assert SCALE_AXIS not in table.columns and MARKER not in table.columns
    text = capacity_markdown(table.reset_index(), "ttft_p99_s <= 1")
    assert "| nodes at ½x / 2x program load |" in text and "$/M tokens at ½x / 2x program load" in text
    assert "| SN | 10 | 6 / 19 | 1 |" in text and "| GPU | 9 | - | 1 |" in text
    assert "| 30.00 / 95.00 |" in text
    assert "tensor_parallel=1: 10; tensor_parallel=8: 12" in text  # the base's choices only


def test_band_with_no_answer_at_one_factor_and_means_over_seeds():
    frames = []
    for seed, (low, high) in enumerate([(6, 19), (8, None)], start=1):
        part = _synthetic()
        part["seed"] = seed
        if high is None:  # seed 2: nothing meets the SLO at double the program load
            part.loc[part[MARKER] == 2.0, ["status", "answer"]] = ["none", None]
        part.loc[(part[MARKER] == 0.5) & (part["serving.tensor_parallel"] == 8), "answer"] = low
        frames.append(part)
    table = capacity_table(pd.concat(frames, ignore_index=True), ["serving.tensor_parallel"])
    assert table.loc[table["seed"] == 2, band_column("status", 2.0)].iloc[0] == "none"
    mean = capacity_mean(table).set_index("platform")
    assert mean.loc["sn", band_column("nodes", 0.5)] == pytest.approx(7.0)
    assert mean.loc["sn", band_column("nodes", 2.0)] == 19  # the seeds with an answer
    assert mean.loc["sn", band_column("status", 2.0)] == "found"
    assert pd.isna(mean.loc["gpu", band_column("status", 0.5)])
    text = capacity_markdown(mean.reset_index(), "x")
    assert "| 7 / 19 |" in text


def _tiny(tmp: Path, **search: Any) -> Path:
    shutil.copy(SOURCE, tmp / "tiny_base.yaml")
    spec = {"name": "band", "scenario": "tiny_base.yaml",
            "set": {"workload.generator.requests": 40, "experts.0.count": 8},
            "cases": BOTH, "grid": {"serving.tensor_parallel": [1, 8]},
            "search": {**SEARCH, "cheapest_over": ["serving.tensor_parallel"], **search}}
    path = tmp / "band.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_a_sweep_shows_the_band_resumes_it_and_reprice_keeps_it(tmp_path, capsys):
    path = _tiny(tmp_path)
    assert main(["sweep", str(path), "--output", str(tmp_path / "out"), "--workers", "1",
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    out = tmp_path / "out" / "band"
    search = pd.read_parquet(out / "search.parquet")
    assert sorted(search[MARKER].unique()) == [0.5, 1.0, 2.0]
    assert set(search.loc[search[MARKER] != 1, "platform"]) == {"sn40l_node"}
    table = pd.read_csv(out / "capacity.csv").set_index("platform")
    assert list(table.index) == ["sn40l_node", "dgx_h100"]
    half, double = band_column("nodes", 0.5), band_column("nodes", 2.0)
    assert table.loc["sn40l_node", half] <= table.loc["sn40l_node", "nodes"] \
        <= table.loc["sn40l_node", double]
    assert math.isnan(table.loc["dgx_h100", half])
    assert "nodes at ½x / 2x program load" in (out / "capacity.md").read_text()
    assert "program load" in printed.replace("\n", " ")
    again = run_sweep(path, SweepOptions(workers=1, output=tmp_path / "out", progress=False))
    assert again.n_ran == 0 and again.n_skipped == len(again.points)  # the band's points too
    repriced = reprice_sweep(out, parse_changes(["sn40l_node=1.5x"], []))
    assert repriced.capacity is not None
    new = repriced.capacity.set_index("platform")
    column = band_column("cost_per_million_output_tokens_usd", 0.5)
    assert new.loc["sn40l_node", column] == pytest.approx(1.5 * table.loc["sn40l_node", column])
    assert new.loc["sn40l_node", half] == table.loc["sn40l_node", half]
    lines = Console(width=80, record=True)
    lines.print(capacity_rich(new.reset_index(), "x"))
    assert max(len(line) for line in lines.export_text().splitlines()) <= 80


def test_a_sweep_without_the_band(tmp_path):
    result = run_sweep(_tiny(tmp_path, program_load_band=False),
                       SweepOptions(workers=1, output=tmp_path / "out", progress=False))
    assert result.search is not None and MARKER not in result.search.columns
    assert band_column("nodes", 0.5) not in pd.read_csv(result.out / "capacity.csv").columns
