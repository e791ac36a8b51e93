"""Fused streaming dataflow (SN40L): a decoder layer, or a part of one, as one kernel.

Operators of a fused graph are pipeline stages on disjoint PCUs/PMUs, so they overlap: weights and
the KV cache stream from HBM once, intermediates pass stage to stage through on-chip SRAM and never
touch HBM. A graph's time is

    max(compute, HBM traffic [, collective bytes when they stream inside the kernel])
        + collective latency (when streamed; else the whole collective) + fill/drain + launch + sync

with fill/drain = stages x ``pipeline_stage_latency_s`` (collectives excepted: their latency is the
exposed term) and sync = ``graph_sync_s`` for a graph on several devices that has no collective (a
collective already makes every device wait for all the others, so a graph ending in an all-reduce
is synchronised by it; one device has no one to wait for). What fuses is decided by on-chip memory:
every GEMM or attention stage holds its *stationary* operand (the smaller of weights and
activations, or of Q and K/V) in SRAM while the other streams. Stages are added to a graph in
execution order until the stationary bytes would exceed ``sram_usable_fraction`` of the SRAM; then
the graph is cut and the activation crossing the cut spills to HBM (written, then read back by the
next graph, which is one more launch). An operator whose stationary operand alone exceeds the
budget is blocked, re-streaming its other operand (``Operator.restream_bytes``).
"""

from __future__ import annotations

from sn40l_sim.catalogue.execution import LaunchMode
from sn40l_sim.catalogue.hardware import PlatformSpec
from sn40l_sim.cost.breakdown import GroupCost
from sn40l_sim.cost.collectives import allreduce_impl, allreduce_work_s
from sn40l_sim.cost.network import allreduce_latency_s
from sn40l_sim.cost.operators import Operator
from sn40l_sim.cost.unfused import compute_s, on_chip_bytes


def partition(ops: tuple[Operator, ...], budget_bytes: float) -> list[tuple[Operator, ...]]:
    """Split ``ops`` (in order) into graphs whose stationary operands fit ``budget_bytes``."""
    graphs: list[tuple[Operator, ...]] = []
    current: list[Operator] = []
    used = 0.0
    for op in ops:
        need = min(op.operand_bytes()[0], budget_bytes)
        if current and used + need > budget_bytes:
            graphs.append(tuple(current))
            current, used = [], 0.0
        current.append(op)
        used += need
    if current:
        graphs.append(tuple(current))
    return graphs


def boundary_bytes(ops: tuple[Operator, ...]) -> float:
    """Activation bytes a graph reads from HBM at its start and writes at its end."""
    first = next((op for op in ops if op.kind != "allreduce"), ops[0])
    last = next((op for op in reversed(ops) if op.kind != "allreduce"), ops[-1])
    return first.act_in_bytes + last.act_out_bytes


def sync_s(platform: PlatformSpec, ops: tuple[Operator, ...], n_devices: int) -> float:
    """Synchronisation of a graph's devices at its end, unless a collective in it already did it."""
    if n_devices <= 1 or any(op.kind == "allreduce" for op in ops):
        return 0.0
    return platform.execution.graph_sync_s


def fill_s(platform: PlatformSpec, ops: tuple[Operator, ...]) -> float:
    """Pipeline fill and drain of one fused graph: one stage latency per non-collective operator."""
    return sum(op.kind != "allreduce" for op in ops) * platform.execution.pipeline_stage_latency_s


def looped(one: GroupCost, fill: float, count: int) -> GroupCost:
    """``count`` calls of the same one-graph kernel as one looped call (kernel looping): the outer
    loop is pipelined, so only the first iteration pays the launch and the fill/drain."""
    if count <= 1:
        return one.times(count)
    total = one.times(count)
    saved_launch = (count - 1) * one.launch_s
    return GroupCost(total.compute_s, total.memory_s, total.network_s, total.launch_s - saved_launch,
                     total.total_s - saved_launch - (count - 1) * fill, total.flop, total.hbm_bytes,
                     one.n_launches)


def graph_cost(platform: PlatformSpec, ops: tuple[Operator, ...], launch_mode: LaunchMode | None = None,
               io_bytes: float | None = None, n_devices: int = 1) -> GroupCost:
    """One fused kernel over ``ops`` run by ``n_devices`` devices (a TP group); ``io_bytes`` is its
    activation traffic in and out of HBM (default: its first input and last output)."""
    ex = platform.execution
    budget = on_chip_bytes(platform)
    hbm_bytes = boundary_bytes(ops) if io_bytes is None else io_bytes
    compute = network = exposed = 0.0
    for op in ops:
        if op.kind == "allreduce":
            network += allreduce_work_s(platform, op.comm_bytes, op.n_devices,
                                        allreduce_impl(platform, op.comm_bytes))
            exposed += allreduce_latency_s(platform.interconnect, op.n_devices)
            continue
        compute += compute_s(platform, op)
        hbm_bytes += op.weight_bytes + op.kv_read_bytes + op.kv_write_bytes + op.restream_bytes(budget)
    memory = hbm_bytes / (platform.device.hbm.bw_bytes_per_s * ex.hbm_efficiency)
    fill = fill_s(platform, ops)
    launch = ex.launch_s(launch_mode) + sync_s(platform, ops, n_devices)
    if ex.overlap_collectives:
        # The bytes of a collective stream under the graph's compute, but the stage after it needs
        # the reduced value: its latency (alpha terms) stays on the critical path.
        exposed = min(exposed, network)
        total = max(compute, memory, network - exposed) + exposed + fill + launch
    else:
        total = max(compute, memory) + network + fill + launch
    return GroupCost(compute, memory, network, launch, total, sum(op.flop for op in ops), hbm_bytes, 1)


def fused_cost(platform: PlatformSpec, ops: tuple[Operator, ...],
               launch_mode: LaunchMode | None = None, n_devices: int = 1) -> GroupCost:
    """``ops`` as few fused graphs as the SRAM budget allows, one after another, on ``n_devices``."""
    graphs = partition(ops, on_chip_bytes(platform))
    total = None
    for graph in graphs:
        cost = graph_cost(platform, graph, launch_mode, n_devices=n_devices)
        total = cost if total is None else total + cost
    assert total is not None
    return total
