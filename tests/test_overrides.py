"""Overrides without copying: ``platform: {base: ...}``, ``--set`` and profile fields as sweep axes.

Also: a sweep whose every point fails exits non-zero and says why.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO

from sn40l_sim.cli import main
from sn40l_sim.config.overrides import apply_overrides, deep_merge, parse_set
from sn40l_sim.config.profiles import load_platform
from sn40l_sim.config.resolve import load_scenario
from sn40l_sim.errors import InputError
from sn40l_sim.studies.sweep.driver import SweepOptions, run_sweep
from sn40l_sim.studies.sweep.grid import check_path

SWEEPS = REPO / "scenarios" / "sweeps"


def _scenario(tmp_path: Path, **changes) -> Path:
    data = yaml.safe_load((SWEEPS / "tiny_base.yaml").read_text())
    data["workload"]["generator"]["requests"] = 10
    data.update(changes)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_deep_merge_replaces_leaves_and_keeps_siblings():
    base = {"a": {"b": 1, "c": {"d": 2, "e": 3}}, "f": [1, 2]}
    assert deep_merge(base, {"a": {"c": {"d": 9}}, "f": [3]}) == {"a": {"b": 1, "c": {"d": 9, "e": 3}},
                                                                   "f": [3]}
    assert base["a"]["c"]["d"] == 2  # the base is not changed


def test_parse_set_reads_yaml_values():
    assert parse_set(["serving.max_batch=16", "platform.device.hbm.capacity=32 GiB", "x.y=[1, 2]"]) == {
        "serving.max_batch": 16, "platform.device.hbm.capacity": "32 GiB", "x.y": [1, 2]}
    with pytest.raises(InputError, match="PATH=VALUE"):
        parse_set(["serving.max_batch"])


def test_platform_base_merges_over_the_named_profile(tmp_path):
    path = _scenario(tmp_path, platform={"base": "sn40l_node", "interconnect": {"topology": "tree"},
                                         "device": {"hbm": {"capacity": "32 GiB"}}})
    resolved = load_scenario(path)
    profile = load_platform("sn40l_node")
    assert resolved.platform.interconnect.topology == "tree"
    assert resolved.platform.device.hbm.capacity_bytes == 32 * 2**30
    # everything not overridden is the profile's
    assert resolved.platform.device.hbm.bw_bytes_per_s == profile.device.hbm.bw_bytes_per_s
    assert resolved.platform.interconnect.bw_bytes_per_s == profile.interconnect.bw_bytes_per_s
    assert resolved.platform.execution == profile.execution


def test_platform_base_error_is_located(tmp_path):
    path = _scenario(tmp_path, platform={"base": "sn40l_node", "interconnect": {"topology": "star"}})
    with pytest.raises(InputError) as info:
        load_scenario(path)
    text = str(info.value)
    assert "platform.interconnect.topology" in text and "sn40l_node.yaml" in text
    assert f"{path}:" in text  # the scenario file, with a line
    path = _scenario(tmp_path, platform={"base": "sn40l_nod"})
    with pytest.raises(InputError, match="did you mean 'sn40l_node'"):
        load_scenario(path)


def test_set_reaches_into_a_named_profile(tmp_path):
    path = _scenario(tmp_path)
    resolved = load_scenario(path, {"platform.interconnect.topology": "ring", "serving.max_batch": 2})
    assert resolved.platform.interconnect.topology == "ring"
    assert resolved.platform.name == load_platform("sn40l_node").name
    assert resolved.serving.max_batch == 2


def test_overrides_apply_shallow_paths_first():
    data = apply_overrides({"platform": "sn40l_node"},
                           {"platform.interconnect.topology": "ring", "platform": "dgx_h100"})
    assert data["platform"] == {"base": "dgx_h100", "interconnect": {"topology": "ring"}}


def test_profile_paths_are_checked_against_the_profile_schema():
    assert check_path("platform.interconnect.topology") is None
    assert check_path("platform.device.hbm.capacity") is None
    assert check_path("platform.price.node_usd_per_hour") is None
    assert check_path("platform.base") is None
    assert "not a field of a hardware profile" in check_path("platform.interconect.topology")


def test_run_with_set_cli(tmp_path, capsys):
    path = _scenario(tmp_path)
    code = main(["run", str(path), "--output", str(tmp_path / "out"), "--no-plots", "--no-progress",
                 "--set", "platform.interconnect.topology=ring", "--set", "serving.max_batch=2"])
    assert code == 0
    resolved = next((tmp_path / "out").rglob("scenario.resolved.yaml"))
    data = yaml.safe_load(resolved.read_text())
    assert data["platform"] == {"base": "sn40l_node", "interconnect": {"topology": "ring"}}
    assert data["serving"]["max_batch"] == 2
    code = main(["run", str(path), "--no-plots", "--set", "platform.interconnect.topology=star"])
    assert code == 2
    assert "platform.interconnect.topology" in capsys.readouterr().err


def _sweep(tmp_path: Path, grid: dict, **extra) -> Path:
    shutil.copy(SWEEPS / "tiny_base.yaml", tmp_path / "tiny_base.yaml")
    spec = {"name": "t", "scenario": "tiny_base.yaml", "set": {"workload.generator.requests": 8},
            "grid": grid, **extra}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_sweep_over_a_profile_field_of_a_named_profile(tmp_path):
    path = _sweep(tmp_path, {"platform.interconnect.topology": ["ring", "switch"]})
    result = run_sweep(path, SweepOptions(workers=1, output=tmp_path / "out", progress=False))
    assert list(result.points["status"]) == ["ok", "ok"]
    # TP8 collectives are priced differently on a ring: the two points differ
    assert result.points["ttft_p50_s"].nunique() == 2


def test_sweep_with_every_point_failing_exits_non_zero(tmp_path, capsys):
    # 'mesh' is no topology: every point is an input error
    path = _sweep(tmp_path, {"platform.device.hbm.capacity": ["1 KiB", "2 KiB"],
                             "platform.interconnect.topology": ["mesh"]})
    code = main(["sweep", str(path), "--output", str(tmp_path / "out"), "--workers", "1",
                 "--no-progress"])
    out = capsys.readouterr().out
    assert code == 2
    assert "every point of the sweep failed" in out
    assert "platform.interconnect.topology" in out


def test_sweep_set_joins_the_spec(tmp_path, capsys):
    path = _sweep(tmp_path, {"serving.max_batch": [1, 2]})
    code = main(["sweep", str(path), "--output", str(tmp_path / "out"), "--workers", "1",
                 "--no-progress", "--set", "platform.interconnect.topology=ring"])
    assert code == 0
    points = pd.read_parquet(tmp_path / "out" / "t" / "points.parquet")
    assert set(points["platform.interconnect.topology"]) == {"ring"}
    code = main(["sweep", str(path), "--output", str(tmp_path / "out2"), "--set", "serving.max_batch=4"])
    assert code == 2
