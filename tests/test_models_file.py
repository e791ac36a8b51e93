"""A scenario's own models: ``models_file`` (relative to the scenario), validated with located errors."""

from __future__ import annotations

from conftest import small_scenario

from sn40l_sim.cli import main
from sn40l_sim.config.resolve import load_scenario
from sn40l_sim.plan.planner import plan_run

TINY = "tiny-lm: {layers: 2, hidden: 8, heads: 2, kv_heads: 1, ffn: 16, vocab: 10}\n"


def _scenario(write_scenario, tmp_path, models: str, **over):
    (tmp_path / "my_models.yaml").write_text(models)
    data = small_scenario(models_file="my_models.yaml",
                          experts=[{"model": "tiny-lm", "count": 3}, {"model": "llama-2-7b", "count": 1}],
                          **over)
    return write_scenario(data)


def test_a_scenario_model_is_built_like_a_catalogue_one(write_scenario, tmp_path):
    resolved = load_scenario(_scenario(write_scenario, tmp_path, TINY))
    model = resolved.experts[0].model
    # By hand: head_dim 8/2 = 4; attention 8x8 (Q) + 2 x 8x4 (K, V) + 8x8 (O) = 192; gated MLP
    # 3 x 8x16 = 384; two norms of 8: 592 per layer; embedding and untied head 2 x 10x8; final
    # norm 8: 2 x 592 + 160 + 8 = 1352 parameters, 2 bytes each.
    assert model.n_params == 1352 and model.weight_bytes == 2704
    assert model.kv_bytes_per_token() == 2 * 2 * 4 * 2  # K and V, 2 layers, 1 KV head of 4, BF16
    assert resolved.experts[3].model.name == "llama-2-7b"  # catalogue models still resolve
    plan = plan_run(resolved)
    assert plan.expert_groups[0].model is model


def test_the_router_may_be_a_scenario_model(write_scenario, tmp_path):
    router = {"model": "tiny-lm", "mapping": "zipf", "zipf_s": 0.5}
    resolved = load_scenario(_scenario(write_scenario, tmp_path, TINY, router=router))
    assert resolved.router_model is not None and resolved.router_model.n_params == 1352


def test_a_bad_entry_is_located_in_the_models_file(write_scenario, tmp_path, capsys):
    path = _scenario(write_scenario, tmp_path, TINY + "broken: {layers: 0, hidden: 8, heads: 2, "
                     "kv_heads: 1, ffn: 16, vocab: 10}\n")
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "my_models.yaml:2: broken.layers" in err and "greater than or equal to 1" in err
    assert "unknown model" not in err  # the file's own error, not every name it would define
    assert "Traceback" not in err


def test_heads_must_share_kv_heads(write_scenario, tmp_path, capsys):
    path = _scenario(write_scenario, tmp_path, TINY.replace("kv_heads: 1", "kv_heads: 3"))
    assert main(["check", str(path)]) == 2
    assert "kv_heads 3 must divide heads 2" in capsys.readouterr().err


def test_a_catalogue_name_and_a_missing_file_are_errors(write_scenario, tmp_path, capsys):
    path = _scenario(write_scenario, tmp_path, TINY + TINY.replace("tiny-lm", "llama-2-7b"))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "my_models.yaml:2: llama-2-7b" in err and "is a catalogue model" in err
    (tmp_path / "my_models.yaml").unlink()
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "models_file" in err and "not found" in err and "scenario.yaml" in err


def test_models_lists_a_scenarios_own_models(write_scenario, tmp_path, capsys):
    path = _scenario(write_scenario, tmp_path, TINY)
    assert main(["models", "--scenario", str(path)]) == 0
    out = capsys.readouterr().out
    assert "tiny-lm *" in out and "llama-2-70b" in out and "my_models.yaml" in out
