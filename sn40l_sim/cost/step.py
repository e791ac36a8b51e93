"""Interim per-step roofline cost (to be replaced by the operator-level model).

Pure functions: hardware spec + model spec + batch shape -> seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sn40l_sim.hardware.specs import PlatformSpec
from sn40l_sim.workload.models import ModelSpec


@dataclass(frozen=True, slots=True)
class StepCost:
    """Breakdown of one prefill or decode step (seconds, FLOP, bytes)."""

    compute_s: float
    memory_s: float
    network_s: float
    launch_s: float
    total_s: float
    flop: float
    hbm_bytes: float
    n_launches: int


def _allreduce_s(platform: PlatformSpec, n_bytes: float, tp: int) -> float:
    if tp <= 1:
        return 0.0
    net = platform.interconnect
    steps = 2 * (tp - 1) if net.topology == "ring" else 2 * math.ceil(math.log2(tp))
    return steps * net.latency_s + 2 * (tp - 1) / tp * n_bytes / net.bw_bytes_per_s


def _step(platform: PlatformSpec, model: ModelSpec, n_batch: int, n_new: int, n_ctx: int,
          tp: int) -> StepCost:
    ex, dev = platform.execution, platform.device
    bpp = model.bytes_per_param
    tokens = n_batch * n_new
    layer_weights = model.n_params_per_layer * bpp / tp
    attn_flop = 4.0 * tokens * n_ctx * model.q_dim / tp
    layer_flop = 2.0 * model.n_params_per_layer * tokens / tp + attn_flop
    kv_bytes = n_batch * n_ctx * 2 * model.kv_dim * bpp / tp
    act_bytes = tokens * model.hidden_size * bpp
    head_flop = 2.0 * n_batch * model.vocab_size * model.hidden_size / tp
    head_bytes = model.vocab_size * model.hidden_size * bpp / tp
    eff = ex.flop_efficiency * tokens / (tokens + ex.gemm_half_dim)
    flop_per_s = dev.peak_flop_per_s * eff
    hbm = dev.hbm.bw_bytes_per_s * ex.hbm_efficiency
    if ex.mode == "fused_dataflow":
        n_launch = model.n_layers + 1
        mem_bytes = model.n_layers * (layer_weights + kv_bytes) + head_bytes
        launch = n_launch * (ex.hw_launch_s if ex.launch_mode == "hardware" else ex.kernel_launch_s)
    else:
        n_launch = model.n_layers * 12 + 2
        mem_bytes = model.n_layers * (layer_weights + kv_bytes + 12 * act_bytes) + head_bytes
        launch = n_launch * ex.kernel_launch_s
    flop = model.n_layers * layer_flop + head_flop
    compute_s = flop / flop_per_s
    memory_s = mem_bytes / hbm
    network_s = 2 * model.n_layers * _allreduce_s(platform, act_bytes, tp)
    if ex.mode == "fused_dataflow":
        # P1 §III: collectives are fused into the streaming kernel, so they overlap compute.
        total = max(compute_s, memory_s, network_s) + launch
    else:
        total = max(compute_s, memory_s) + network_s + launch
    return StepCost(compute_s, memory_s, network_s, launch, total, flop, mem_bytes, n_launch)


def prefill_cost(platform: PlatformSpec, model: ModelSpec, *, n_batch: int, n_prompt_tokens: int,
                 tp: int) -> StepCost:
    return _step(platform, model, n_batch, n_prompt_tokens, max(1, n_prompt_tokens // 2), tp)


def decode_cost(platform: PlatformSpec, model: ModelSpec, *, n_batch: int, n_context_tokens: int,
                tp: int) -> StepCost:
    return _step(platform, model, n_batch, 1, n_context_tokens, tp)
