"""``sn40l-sim check`` prints the resolved plan without simulating; ``sn40l-sim models`` the catalogue."""

from __future__ import annotations

from conftest import REPO

from sn40l_sim.catalogue.models import get_model
from sn40l_sim.cli import main
from sn40l_sim.config.profiles import load_platform

SCENARIO = REPO / "scenarios" / "mixed_catalogue.yaml"


def test_check_says_a_70b_does_not_fit_a_tp2_sn40l_group(capsys, tmp_path):
    # By hand: a TP2 SN40L group has 2 x 64 GiB of HBM; the 7B router takes its weights; a 70B's
    # BF16 weights (2 bytes x 69.0e9 parameters) need more than what is left.
    hbm = 2 * load_platform("sn40l_node").device.hbm.capacity_bytes
    left = hbm - get_model("llama-2-7b").weight_bytes
    assert get_model("llama-2-70b").weight_bytes > left > get_model("llama-2-13b").weight_bytes
    code = main(["check", str(SCENARIO), "--set", "serving.tensor_parallel=2"])
    out = " ".join(capsys.readouterr().out.split())
    assert code == 1
    assert "4 serving group(s) of TP2" in out
    assert "will not fit: expert group 2 (llama-2-70b)" in out
    assert not any(tmp_path.iterdir())  # nothing simulated, nothing written
    code = main(["check", str(SCENARIO), "--set", "serving.tensor_parallel=4"])
    out = " ".join(capsys.readouterr().out.split())
    assert code == 0 and "everything fits" in out and "2 serving group(s) of TP4" in out


def test_models_lists_the_catalogue(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "llama-2-70b" in out and "llama-2-13b" in out and "128 GiB" in out
