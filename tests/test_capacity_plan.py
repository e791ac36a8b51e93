"""What a capacity planner reads: why an answer is missing, seeds with intervals, 80-column tables,
and repricing a finished sweep without re-simulating."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO
from rich.console import Console

from sn40l_sim.cli import main
from sn40l_sim.errors import InputError
from sn40l_sim.present.tables import capacity_rich, search_rich
from sn40l_sim.studies.sweep.capacity import capacity_table_of, why_none
from sn40l_sim.studies.sweep.driver import SweepOptions, run_sweep
from sn40l_sim.studies.sweep.intervals import mean_ci95
from sn40l_sim.studies.sweep.reprice import parse_changes, reprice_sweep

SWEEPS = REPO / "scenarios" / "sweeps"


def _sweep(tmp: Path, **extra) -> Path:
    shutil.copy(SWEEPS / "tiny_base.yaml", tmp / "tiny_base.yaml")
    spec = {"name": "plan", "scenario": "tiny_base.yaml",
            "set": {"workload.generator.requests": 30, "experts.0.count": 4},
            "cases": [{"platform": "sn40l_node"}, {"platform": "dgx_h100"}],
            "grid": {"serving.tensor_parallel": [4, 8]},
            "search": {"field": "nodes", "low": 1, "high": 2, "goal": "min",
                       "cheapest_over": ["serving.tensor_parallel"],
                       "slo": {"metric": "ttft_p99_s", "max": 1.0}}, **extra}
    path = tmp / "plan.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("seeded")
    path = _sweep(tmp, seeds=[1, 2, 3])
    result = run_sweep(path, SweepOptions(workers=1, output=tmp / "out", progress=False))
    return result.out


def test_t_interval_against_a_hand_calculation():
    mean, half = mean_ci95([3.0, 4.0, 4.0])
    # sd = sqrt(((2/3)^2 + 2 (1/3)^2) / 2) = 0.57735; t(0.975, 2) = 4.303; /sqrt(3)
    assert mean == pytest.approx(11 / 3)
    assert half == pytest.approx(4.303 * 0.57735027 / math.sqrt(3), rel=1e-6)
    assert math.isnan(mean_ci95([5.0])[1])


def test_why_none_names_each_reason():
    assert why_none({"status": "error", "error": "f.yaml: tensor_parallel 16 exceeds the 8 devices"},
                    "ttft_p99_s", "nodes", 1).startswith("rejected by a limit: tensor_parallel 16")
    assert why_none({"status": "ok", "n_experts": 4, "n_servable_experts": 0}, "ttft_p99_s", "nodes",
                    8).startswith("does not fit in memory at any size")
    assert why_none({"status": "ok", "n_completed": 0, "rejection_reasons": '{"out of memory: x": 3}'},
                    "ttft_p99_s", "nodes", 8).startswith("does not fit in memory at any size")
    assert why_none({"status": "ok", "n_experts": 4, "n_servable_experts": 4, "ttft_p99_s": 3.0},
                    "ttft_p99_s", "nodes", 8) == "misses the SLO up to nodes=8 (ttft_p99_s 3 there)"


def test_seeds_give_a_mean_table_with_intervals(seeded):
    search = pd.read_parquet(seeded / "search.parquet")
    assert sorted(search["seed"].unique()) == [1, 2, 3]
    per_seed = pd.read_csv(seeded / "capacity.csv")
    assert {"seed", "nodes", "why"} <= set(per_seed.columns)
    mean = capacity_table_of(seeded)
    assert set(mean["n_seeds"]) == {3}
    for _, row in mean.iterrows():
        part = per_seed[per_seed["platform"] == row["platform"]]
        assert row["price_usd_per_hour"] == pytest.approx(part["price_usd_per_hour"].mean())
        expected = mean_ci95(part["cost_per_million_output_tokens_usd"].tolist())[1]
        assert row["cost_per_million_output_tokens_usd_ci95"] == pytest.approx(expected)


def _render(table) -> list[str]:
    console = Console(width=80, record=True)
    console.print(table)
    return console.export_text().splitlines()


def test_tables_fit_80_columns_without_cut_cells(seeded):
    mean = capacity_table_of(seeded)
    search = pd.read_parquet(seeded / "search.parquet")
    for table in (capacity_rich(mean, "ttft_p99_s <= 1"), search_rich(search)):
        lines = _render(table)
        assert lines and max(len(line) for line in lines) <= 80
        cells = [c.strip() for line in lines for c in line.split("  ")]
        assert "…" not in cells and not any(line.rstrip().endswith("…") for line in lines)
    text = "\n".join(_render(capacity_rich(mean, "x")))
    assert "SN40L node" in text and "DGX H100" in text  # display names, not profile keys
    assert "(1/1/1)" in text or "(2/2/2)" in text  # answers per seed


def test_none_answers_say_why_in_table_and_on_the_console(tmp_path, capsys):
    path = _sweep(tmp_path)
    spec = yaml.safe_load(path.read_text())
    spec["set"]["experts.0.model"] = "llama-2-70b"
    spec["grid"] = {"serving.tensor_parallel": [1, 16]}
    spec["search"]["cheapest_over"] = []
    spec["cases"] = [{"platform": "sn40l_node"}]
    spec["search"]["high"] = 1
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    code = main(["sweep", str(path), "--output", str(tmp_path / "out"), "--workers", "1", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    table = pd.read_csv(tmp_path / "out" / "plan" / "capacity.csv")
    why = dict(zip(table["serving.tensor_parallel"], table["why"], strict=True))
    assert why[1].startswith("does not fit in memory at any size")
    assert why[16].startswith("rejected by a limit")
    assert set(table["status"]) == {"none"} and "nodes" in table.columns
    assert "does not fit in memory" in out.replace("\n", " ") or "does not fit" in out


def test_reprice_scales_cost_and_keeps_the_sweep(seeded):
    before = {p.name: p.read_bytes() for p in seeded.glob("*.*")}
    result = reprice_sweep(seeded, parse_changes(["sn40l_node=1.5x"], ["dgx_h100=2x"]))
    assert result.out.parent == seeded and result.out.name == "reprice"
    assert {p.name: p.read_bytes() for p in seeded.glob("*.*")} == before
    old = pd.read_parquet(seeded / "points.parquet").set_index("point_id")
    new = result.points.set_index("point_id")
    sn = old["platform"] == "sn40l_node"
    assert (new.loc[sn, "price_usd_per_hour"] / old.loc[sn, "price_usd_per_hour"]).tolist() == \
        pytest.approx([1.5] * sn.sum())
    assert (new.loc[sn, "cost_per_million_output_tokens_usd"]
            / old.loc[sn, "cost_per_million_output_tokens_usd"]).tolist() == pytest.approx([1.5] * sn.sum())
    assert new.loc[sn, "energy_j"].tolist() == pytest.approx(old.loc[sn, "energy_j"].tolist())
    # energy is linear in every power figure: twice the power, twice the joules
    h100 = ~sn
    assert (new.loc[h100, "energy_j"] / old.loc[h100, "energy_j"]).tolist() == \
        pytest.approx([2.0] * h100.sum())
    assert new.loc[h100, "price_usd_per_hour"].tolist() == \
        pytest.approx(old.loc[h100, "price_usd_per_hour"].tolist())
    assert (result.out / "capacity.md").exists()
    again = reprice_sweep(seeded, parse_changes(["sn40l_node=30"], []))
    assert again.out.name == "reprice-2"
    assert set(again.points.loc[again.points["platform"] == "sn40l_node", "price_usd_per_hour"]
               / again.points.loc[again.points["platform"] == "sn40l_node", "nodes"]) == {30.0}


def test_reprice_input_errors(seeded):
    with pytest.raises(InputError, match="no finished point runs on 'dgx_a100'"):
        reprice_sweep(seeded, parse_changes(["dgx_a100=2x"], []))
    with pytest.raises(InputError, match="neither a factor"):
        parse_changes(["sn40l_node=cheap"], [])
    with pytest.raises(InputError, match="not one of"):
        parse_changes([], ["sn40l_node.gpu_busy=450 W"])
    assert main(["reprice", str(seeded), "--price", "sn40l_node=1.5x", "--markdown"]) == 0


def test_capacity_plot_marks_reasons_and_the_cheapest(tmp_path, seeded):
    import matplotlib

    from sn40l_sim.studies.sweep.sweep_plots import plot_sweep

    search = pd.read_parquet(seeded / "search.parquet")
    search.loc[search["platform"] == "dgx_h100", ["answer", "status"]] = [None, "none"]
    search["why"] = search["why"].astype(object) if "why" in search else None
    search.loc[search["platform"] == "dgx_h100", "why"] = "does not fit in memory at any size (x)"
    folder = tmp_path / "copy"
    shutil.copytree(seeded, folder, ignore=shutil.ignore_patterns("reprice*"))
    search.to_parquet(folder / "search.parquet")
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        files = plot_sweep(folder, kind="capacity", x="serving.tensor_parallel")
    svg = next(p for p in files if p.suffix == ".svg").read_text()
    assert "no answer: does not fit in memory" in svg
    assert "cheapest configuration per platform" in svg
    assert "SN40L node" in svg and "sn40l_node" not in svg.replace("sn40l_node_", "")
    assert "nodes needed" in svg


def test_reprice_a_grid_without_a_nodes_axis(tmp_path):
    """A plain grid sweep has no ``nodes`` column: the fleet comes from each point's devices."""
    shutil.copy(SWEEPS / "tiny_grid.yaml", tmp_path / "tiny_grid.yaml")
    shutil.copy(SWEEPS / "tiny_base.yaml", tmp_path / "tiny_base.yaml")
    result = run_sweep(tmp_path / "tiny_grid.yaml", SweepOptions(workers=1, output=tmp_path / "out",
                                                                 progress=False))
    old = pd.read_parquet(result.out / "points.parquet").set_index("point_id")
    assert "nodes" not in old.columns
    new = reprice_sweep(result.out, parse_changes(["sn40l_node=2x"], [])).points.set_index("point_id")
    ok = (old["status"] == "ok") & (old["platform"] == "sn40l_node")
    assert (new.loc[ok, "price_usd_per_hour"] / old.loc[ok, "price_usd_per_hour"]).tolist() == \
        pytest.approx([2.0] * ok.sum())
