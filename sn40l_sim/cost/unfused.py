"""Unfused execution: every operator is a kernel of its own (GPUs, and the SN40L "unfused baseline").

A kernel's time is a roofline with *achievable* rates plus a fixed cost by kind of kernel:

    t = max(flop / achievable_flop_per_s, bytes / achievable_bw) + fixed(kind)

where the bytes are every operand and result of the operator (weights, activations in and out, KV
read and written): intermediates make the full HBM round trip. A GEMM's achievable FLOP/s is
``peak * flop_efficiency * s(m, h_mn) * s(n, h_mn) * s(k, h_k)`` with ``s(x, h) = x / (x + h)``:
small or skinny GEMMs leave tiles, warps and the k-loop pipeline partly idle, so they do not reach
peak. Attention's achievable FLOP/s is ``peak * attention_flop_efficiency * s(a, h_keys)`` for
``a`` attended keys per query (short key ranges leave FlashAttention's inner loop and its softmax
rescaling a larger share); a profile may fit decode attention's share, saturation and fixed cost
apart from prefill's (``decode_attention_*``). ``fixed`` is the launch plus prologue and tail of
a kernel: one value for GEMMs and eager collectives, one for vector kernels, one for attention;
an all-reduce's time and launch depend on the implementation the serving stack uses
(``cost/collectives.py``). These few parameters are fitted per GPU to its own measured kernels
by ``scripts/fit_gpu_efficiency.py``, which calls :func:`kernel_s` itself, so the fit and the
simulator share one model.
"""

from __future__ import annotations

from sn40l_sim.catalogue.hardware import PlatformSpec
from sn40l_sim.cost.breakdown import GroupCost
from sn40l_sim.cost.collectives import allreduce_impl, allreduce_launch_s, allreduce_work_s
from sn40l_sim.cost.operators import Operator


def saturation(x: float, half: float) -> float:
    """``x / (x + half)``: 0 for an empty dimension, 1/2 at ``half``, towards 1 for large ``x``."""
    return x / (x + half)


def gemm_efficiency(platform: PlatformSpec, m: int, n: int, k: int) -> float:
    """Share of peak FLOP/s a GEMM of shape (m x k) @ (k x n) achieves."""
    ex = platform.execution
    return (ex.flop_efficiency * saturation(m, ex.gemm_half_dim) * saturation(n, ex.gemm_half_dim)
            * saturation(k, ex.gemm_half_k))


def attention_efficiency(platform: PlatformSpec, attended_keys: float, decode: bool = False) -> float:
    """Share of peak FLOP/s an attention kernel achieves when each query attends to that many keys
    (a decode kernel: its own values where the profile fits decode apart from prefill)."""
    ex = platform.execution
    if decode and ex.decode_attention_flop_efficiency is not None and ex.decode_attention_half_keys:
        return ex.decode_attention_flop_efficiency * saturation(attended_keys,
                                                                ex.decode_attention_half_keys)
    return ex.attention_flop_efficiency * saturation(attended_keys, ex.attention_half_keys)


def fixed_s(platform: PlatformSpec, op: Operator) -> float:
    """Fixed cost (launch, prologue, tail) of an operator's kernel, by kind."""
    ex = platform.execution
    if op.kind == "attention" and op.decode and ex.decode_attention_kernel_launch_s is not None:
        return ex.decode_attention_kernel_launch_s
    if op.kind == "attention":
        return ex.attention_kernel_launch_s
    if op.kind in ("norm", "elementwise", "embedding"):
        return ex.vector_kernel_launch_s
    if op.kind == "allreduce":  # eager NCCL: a kernel launch; a custom kernel in a CUDA graph: none
        return allreduce_launch_s(platform, allreduce_impl(platform, op.comm_bytes))
    return ex.kernel_launch_s  # GEMMs


def compute_s(platform: PlatformSpec, op: Operator) -> float:
    """Seconds of arithmetic for an operator at its achievable FLOP/s."""
    peak = platform.device.peak_flop_per_s
    if op.kind == "gemm":
        return op.flop / (peak * gemm_efficiency(platform, op.m, op.n, op.k))
    if op.kind == "attention":
        eff = attention_efficiency(platform, op.attended_keys, decode=op.decode)
        return op.flop / (peak * eff) if op.flop else 0.0
    return 0.0  # vector ops: memory-bound on every modelled device (a few FLOP per byte)


def stream_bw_bytes_per_s(platform: PlatformSpec, op: Operator) -> float:
    """Achievable HBM bandwidth of an operator's kernel."""
    ex = platform.execution
    share = ex.hbm_efficiency if op.kind in ("gemm", "attention") else ex.elementwise_bw_efficiency
    return platform.device.hbm.bw_bytes_per_s * share


def on_chip_bytes(platform: PlatformSpec) -> float:
    """On-chip memory a kernel may fill with a stationary operand (SRAM/PMUs, or a GPU's L2)."""
    return platform.device.sram.capacity_bytes * platform.execution.sram_usable_fraction


def kernel_hbm_bytes(platform: PlatformSpec, op: Operator) -> float:
    """HBM traffic of an operator run alone: every operand and result, plus re-streaming."""
    return op.unfused_bytes + op.restream_bytes(on_chip_bytes(platform))


def kernel_s(platform: PlatformSpec, op: Operator, launch_s: float | None = None) -> float:
    """Seconds of one operator as one kernel, its fixed cost included (all-reduce: the collective);
    ``launch_s`` replaces the fixed cost (0: the work alone)."""
    launch = fixed_s(platform, op) if launch_s is None else launch_s
    if op.kind == "allreduce":
        if op.n_devices <= 1 or op.comm_bytes <= 0:
            return launch
        impl = allreduce_impl(platform, op.comm_bytes)
        return allreduce_work_s(platform, op.comm_bytes, op.n_devices, impl) + launch
    memory = kernel_hbm_bytes(platform, op) / stream_bw_bytes_per_s(platform, op)
    return max(compute_s(platform, op), memory) + launch


def unfused_cost(platform: PlatformSpec, ops: tuple[Operator, ...]) -> GroupCost:
    """Run ``ops`` one kernel each, one after another (a GPU stream)."""
    comp = mem = net = total = flop = nbytes = launch = 0.0
    for op in ops:
        total += kernel_s(platform, op)
        launch += fixed_s(platform, op)
        flop += op.flop
        if op.kind == "allreduce":
            net += kernel_s(platform, op, 0.0)
            continue
        comp += compute_s(platform, op)
        mem += kernel_hbm_bytes(platform, op) / stream_bw_bytes_per_s(platform, op)
        nbytes += kernel_hbm_bytes(platform, op)
    return GroupCost(comp, mem, net, launch, total, flop, nbytes, len(ops))
