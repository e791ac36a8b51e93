"""Bad input ends with exit status 2 and one message naming the file, line and field."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from conftest import REPO, small_scenario

from sn40l_sim.cli import main


def _main(capsys, *args):
    code = main(list(args))
    return code, capsys.readouterr().err


def test_misspelt_field(write_scenario, capsys):
    data = small_scenario()
    data["serving"] = {"tensor_paralel": 8}
    code, err = _main(capsys, "run", str(write_scenario(data)))
    assert code == 2
    assert "serving.tensor_paralel" in err and "unknown field" in err
    assert "scenario.yaml:" in err
    assert "Traceback" not in err


def test_negative_bandwidth_in_inline_platform(write_scenario, capsys):
    platform = yaml.safe_load((REPO / "hw_profiles" / "dgx_a100.yaml").read_text())
    platform["device"]["hbm"]["bandwidth"] = "-2 TB/s"
    code, err = _main(capsys, "run", str(write_scenario(small_scenario(platform=platform))))
    assert code == 2
    assert "device.hbm.bandwidth" in err and "positive" in err


def test_negative_bandwidth_in_profile_file(write_scenario, tmp_path, capsys):
    text = (REPO / "hw_profiles" / "sn40l_node.yaml").read_text()
    text = text.replace("bandwidth: 1.8 TB/s", "bandwidth: -1.8 TB/s")
    (tmp_path / "bad.yaml").write_text(text)
    code, err = _main(capsys, "run", str(write_scenario(small_scenario(platform="bad.yaml"))))
    assert code == 2
    assert "bad.yaml:" in err and "device.hbm.bandwidth" in err


def test_missing_required_field(write_scenario, capsys):
    data = small_scenario()
    del data["workload"]
    code, err = _main(capsys, "run", str(write_scenario(data)))
    assert code == 2 and "workload" in err and "missing" in err


@pytest.mark.parametrize("text", ["name: [unclosed", "{{{", "- just\n- a list\n"])
def test_malformed_yaml(write_scenario, capsys, text):
    code, err = _main(capsys, "run", str(write_scenario(text)))
    assert code == 2 and "scenario.yaml" in err


def test_missing_file(capsys):
    code, err = _main(capsys, "run", "does/not/exist.yaml")
    assert code == 2 and "file not found" in err


@pytest.mark.parametrize(("section", "value", "field"), [
    ("platform", "dgx-a100", "platform"),
    ("experts", [{"model": "llama2-7b"}], "experts[0].model"),
])
def test_unknown_names_suggest(write_scenario, capsys, section, value, field):
    code, err = _main(capsys, "run", str(write_scenario(small_scenario(**{section: value}))))
    assert code == 2 and field in err and "did you mean" in err


def test_unknown_scheduler(write_scenario, capsys):
    data = small_scenario(serving={"scheduler": "fcsf"})
    code, err = _main(capsys, "run", str(write_scenario(data)))
    assert code == 2 and "serving.scheduler" in err and "fcfs" in err


def test_console_script_exit_status(write_scenario):
    data = small_scenario()
    data["seed"] = -1
    proc = subprocess.run([sys.executable, "-m", "sn40l_sim.cli", "run", str(write_scenario(data))],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "seed" in proc.stderr and "Traceback" not in proc.stderr
