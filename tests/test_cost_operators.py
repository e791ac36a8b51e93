"""Operator FLOPs and bytes for Llama-2-7B (and GQA models) against hand calculations."""

from __future__ import annotations

import pytest

from sn40l_sim.catalogue.models import get_model
from sn40l_sim.cost.operators import (
    decode_shape,
    head_operators,
    layer_operators,
    prefill_shape,
    total_flop,
)

LLAMA7 = get_model("llama-2-7b")


def _ops(shape, model=LLAMA7):
    return {op.name: op for op in layer_operators(model, shape)}


def test_llama7b_prefill_tp1_by_hand():
    ops = _ops(prefill_shape(1, 128, 1))
    assert ops["qkv_proj"].flop == 2 * 128 * 12288 * 4096
    assert ops["qkv_proj"].weight_bytes == 12288 * 4096 * 2
    assert (ops["qkv_proj"].m, ops["qkv_proj"].n, ops["qkv_proj"].k) == (128, 12288, 4096)
    assert ops["o_proj"].flop == 2 * 128 * 4096 * 4096
    assert ops["gate_up_proj"].flop == 2 * 128 * 22016 * 4096
    assert ops["down_proj"].flop == 2 * 128 * 4096 * 11008
    # causal: a query attends to (128 + 1) / 2 = 64.5 keys on average, 32 heads of 128
    scores = 128 * 64.5 * 32
    assert ops["attention"].flop == pytest.approx(4 * scores * 128 + 5 * scores)
    assert ops["attention"].kv_read_bytes == 0  # nothing cached yet
    assert ops["attention"].kv_write_bytes == 128 * 2 * 4096 * 2
    assert ops["input_norm"].act_in_bytes == ops["input_norm"].act_out_bytes == 128 * 4096 * 2
    assert ops["mlp_act"].act_in_bytes == 2 * 128 * 11008 * 2
    assert "attn_allreduce" not in ops  # TP1: no collective


def test_layer_weights_equal_the_models_parameter_count():
    for name in ("llama-2-7b", "mistral-7b", "qwen2-7b", "gemma-2-9b", "gpt-3-175b"):
        model = get_model(name)
        layer = layer_operators(model, decode_shape(1, 16, 1))
        assert sum(op.weight_bytes for op in layer) == model.n_params_per_layer * model.bytes_per_param


def test_llama7b_decode_tp8_by_hand():
    ops = _ops(decode_shape(4, 1000, 8))
    assert ops["qkv_proj"].n == 3 * 4096 // 8
    assert ops["down_proj"].k == 11008 // 8
    assert ops["attention"].kv_read_bytes == 4 * 1000 * 2 * 4 * 128 * 2  # 4 KV heads per device
    assert ops["attention"].kv_write_bytes == 4 * 2 * 4 * 128 * 2
    assert ops["mlp_allreduce"].comm_bytes == 4 * 4096 * 2
    assert ops["mlp_allreduce"].n_devices == 8
    assert len(ops) == 13  # 11 compute operators + 2 all-reduces


def test_gqa_kv_heads_are_sharded_then_replicated():
    mistral = get_model("mistral-7b")  # 8 KV heads
    tp8 = _ops(decode_shape(1, 100, 8), mistral)["attention"]
    tp16 = _ops(decode_shape(1, 100, 16), mistral)["attention"]
    assert tp8.kv_read_bytes == 100 * 2 * 1 * 128 * 2
    assert tp16.kv_read_bytes == tp8.kv_read_bytes  # one KV head per device, replicated


def test_step_flop_is_twice_params_times_tokens_plus_attention():
    shape = prefill_shape(2, 512, 1)
    layer = _ops(shape)
    gemm = sum(op.flop for op in layer.values() if op.kind == "gemm")
    matmul_params = LLAMA7.n_params_per_layer - LLAMA7.n_norms_per_layer * LLAMA7.hidden_size
    assert gemm == 2 * 1024 * matmul_params
    head = {op.name: op for op in head_operators(LLAMA7, shape)}
    assert head["lm_head"].m == 2  # logits for the last token of each prompt only
    assert total_flop(LLAMA7, shape) == pytest.approx(
        32 * sum(op.flop for op in layer.values()) + sum(op.flop for op in head.values()))


def test_restream_when_stationary_operand_exceeds_on_chip_memory():
    op = _ops(prefill_shape(1, 4096, 1))["gate_up_proj"]  # act 32 MiB, weights 172 MiB
    stationary, streamed = op.operand_bytes()
    assert stationary == op.act_in_bytes and streamed == op.weight_bytes
    assert op.restream_bytes(64 * 2**20) == 0
    assert op.restream_bytes(10 * 2**20) == 3 * op.weight_bytes  # ceil(32 / 10) = 4 blocks


def test_uneven_tensor_parallel_sharding_costs_the_busiest_device():
    """Llama-2-13B has 40 heads: at TP16 some devices hold 3 heads (never fewer weights than an
    even split), and the step is as slow as they are."""
    model = get_model("llama-2-13b")
    ops = _ops(decode_shape(1, 1024, 16), model)
    d = model.head_dim
    assert ops["qkv_proj"].n == (3 + 2 * 3) * d  # ceil(40/16) query and KV heads
    assert ops["o_proj"].k == 3 * d
    assert ops["gate_up_proj"].n == 2 * 864  # 13824 / 16 divides evenly
    per_device = sum(op.weight_bytes for op in layer_operators(model, decode_shape(1, 1024, 16)))
    assert per_device >= model.n_params_per_layer * model.bytes_per_param / 16
    # Where tp divides the heads, nothing changes: Llama-2-7B at TP8 holds exactly 1/8.
    even = sum(op.weight_bytes for op in layer_operators(LLAMA7, decode_shape(1, 1024, 8)))
    norms = (LLAMA7.n_norms_per_layer * LLAMA7.hidden_size) * 2  # replicated, not split
    assert even - norms == pytest.approx((LLAMA7.n_params_per_layer * 2 - norms) / 8)
