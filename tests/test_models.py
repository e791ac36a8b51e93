"""The model catalogue: parameter counts derived from shapes match the published counts."""

import pytest

from sn40l_sim.catalogue.models import catalogue, get_model
from sn40l_sim.errors import InputError

REQUIRED = ["llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3.1-8b", "llama-3.1-70b",
            "mistral-7b", "qwen2-7b", "qwen2-72b", "gemma-2-9b", "gemma-2-27b"]


@pytest.mark.parametrize("name", sorted(catalogue()))
def test_param_count_within_2_percent_of_published(name):
    model = catalogue()[name]
    assert model.published_params is not None
    assert model.n_params == pytest.approx(model.published_params, rel=0.02)


def test_required_models_present():
    assert set(REQUIRED) <= set(catalogue())


def test_llama2_7b_by_hand():
    m = get_model("llama-2-7b")
    per_layer = 4 * 4096 * 4096 + 3 * 4096 * 11008 + 2 * 4096
    assert m.n_params_per_layer == per_layer
    assert m.n_params == 32 * per_layer + 2 * 32000 * 4096 + 4096
    assert m.weight_bytes == pytest.approx(13.48e9, rel=1e-3)  # P1: 13.48 GB in BF16
    assert m.kv_bytes_per_token() == 2 * 32 * 4096 * 2


def test_gqa_kv_is_smaller():
    assert get_model("llama-3.1-8b").kv_bytes_per_token() == get_model("llama-2-7b").kv_bytes_per_token() / 4


def test_unknown_model_suggests():
    with pytest.raises(InputError, match="did you mean 'llama-2-7b'"):
        get_model("llama2-7b")
