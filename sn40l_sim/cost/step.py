"""The cost of one prefill or decode step of a model on a platform (pure functions).

A step is ``model.n_layers`` identical decoder layers plus the once-per-step operators (embedding,
final norm, LM head), built by :mod:`sn40l_sim.cost.operators`. The platform's execution mode
decides how they run: one kernel per operator (:mod:`sn40l_sim.cost.unfused`) or fused graphs of up
to ``max_layers_per_graph`` layers (:mod:`sn40l_sim.cost.fused`). ``mode`` and ``launch_mode``
override the profile, which is how the SN40L "unfused baseline" and software-orchestrated launches
of P1 Table III / §IV-C are evaluated on the same hardware.
"""

from __future__ import annotations

from sn40l_sim.catalogue.execution import ExecutionMode, LaunchMode
from sn40l_sim.catalogue.hardware import PlatformSpec
from sn40l_sim.catalogue.models import ModelSpec
from sn40l_sim.cost.breakdown import ZERO, GroupCost
from sn40l_sim.cost.fused import fill_s, fused_cost, looped
from sn40l_sim.cost.operators import Operator, StepShape, decode_shape, prefill_shape, step_operators
from sn40l_sim.cost.unfused import unfused_cost

StepCost = GroupCost  # a step's breakdown is that of the group of all its operators


def _group(platform: PlatformSpec, ops: tuple[Operator, ...], mode: ExecutionMode,
           launch_mode: LaunchMode | None, tp: int) -> GroupCost:
    if mode == "fused_dataflow":
        return fused_cost(platform, ops, launch_mode, n_devices=tp)
    return unfused_cost(platform, ops)


def _loops(platform: PlatformSpec, mode: ExecutionMode, launch_mode: LaunchMode | None) -> bool:
    """Kernel looping needs fused graphs launched by the hardware (the device runs the loop)."""
    ex = platform.execution
    return ex.loop_layers and mode == "fused_dataflow" and (launch_mode or ex.launch_mode) == "hardware"


def step_cost(platform: PlatformSpec, model: ModelSpec, shape: StepShape, *,
              mode: ExecutionMode | None = None, launch_mode: LaunchMode | None = None) -> StepCost:
    """Time and traffic of one step of ``shape`` on every device of a ``shape.tp``-way group."""
    mode = mode or platform.execution.mode
    layer, head = step_operators(model, shape)
    per_graph = platform.execution.max_layers_per_graph if mode == "fused_dataflow" else 1
    n_full, rest = divmod(model.n_layers, per_graph)
    one = _group(platform, layer * per_graph, mode, launch_mode, shape.tp)
    if _loops(platform, mode, launch_mode) and one.n_launches == 1:
        total = looped(one, fill_s(platform, layer * per_graph), n_full)
    else:
        total = one.times(n_full)
    if rest:
        total = total + _group(platform, layer * rest, mode, launch_mode, shape.tp)
    return total + (_group(platform, head, mode, launch_mode, shape.tp) if head else ZERO)


def prefill_cost(platform: PlatformSpec, model: ModelSpec, *, n_batch: int, n_prompt_tokens: int, tp: int,
                 mode: ExecutionMode | None = None, launch_mode: LaunchMode | None = None) -> StepCost:
    """Prefill ``n_batch`` prompts of ``n_prompt_tokens`` each (causal attention, empty cache)."""
    return step_cost(platform, model, prefill_shape(n_batch, n_prompt_tokens, tp), mode=mode,
                     launch_mode=launch_mode)


def decode_cost(platform: PlatformSpec, model: ModelSpec, *, n_batch: int, n_context_tokens: int, tp: int,
                mode: ExecutionMode | None = None, launch_mode: LaunchMode | None = None) -> StepCost:
    """One new token for each of ``n_batch`` sequences holding ``n_context_tokens`` in the cache."""
    return step_cost(platform, model, decode_shape(n_batch, n_context_tokens, tp), mode=mode,
                     launch_mode=launch_mode)


def hbm_utilisation(platform: PlatformSpec, cost: StepCost) -> float:
    """Share of the device's peak HBM bandwidth a step sustains over its whole duration."""
    return cost.hbm_bytes / (cost.total_s * platform.device.hbm.bw_bytes_per_s)
