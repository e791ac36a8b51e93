"""All-reduce by implementation: what one tensor-parallel all-reduce call costs under a serving stack.

Two implementations run inside a GPU node (docs/cost_model.md section 4):

* **eager NCCL** (``cost.network``: ring, tree or one-hop switch, and NVLS where the switch
  reduces in the network), launched from the host for every call: its kernel launch is added;
* an engine's **custom all-reduce** (TensorRT-LLM's, vLLM's one-shot kernel) captured in a CUDA
  graph: each GPU reads its ``p - 1`` peers' tensors over NVLink and reduces them itself, so
  ``latency + (log2 p - 1) * latency_per_doubling + (p - 1) * bytes / bw``, with no host launch.
  Engines use it only for small messages (one-shot traffic grows with ``p``) and fall back to
  NCCL above a size the stack names (``ServingStackSpec.custom_allreduce_max_bytes``).

Which one a step pays is the serving stack's choice, not the GPU's.
"""

from __future__ import annotations

import math
from typing import Literal

from sn40l_sim.catalogue.hardware import CustomAllReduceSpec, PlatformSpec
from sn40l_sim.cost.network import allreduce_s

AllReduceImpl = Literal["nccl", "custom"]


def custom_allreduce_s(spec: CustomAllReduceSpec, n_bytes: float, n_devices: int) -> float:
    """One custom (one-shot, CUDA-graph) all-reduce of ``n_bytes`` per device over ``n_devices``."""
    if n_devices <= 1 or n_bytes <= 0:
        return 0.0
    doublings = max(0.0, math.log2(n_devices) - 1.0)
    return (spec.latency_s + doublings * spec.latency_per_doubling_s
            + (n_devices - 1) * n_bytes / spec.bw_bytes_per_s)


def allreduce_impl(platform: PlatformSpec, n_bytes: float) -> AllReduceImpl:
    """The implementation the platform's serving stack uses for a message of ``n_bytes``."""
    limit = platform.stack.custom_allreduce_max_bytes
    if limit is not None and platform.interconnect.custom_allreduce is not None and n_bytes <= limit:
        return "custom"
    return "nccl"


def allreduce_launch_s(platform: PlatformSpec, impl: AllReduceImpl) -> float:
    """Host launch of one call: an eager NCCL call pays a kernel launch, a graphed kernel none."""
    return platform.execution.kernel_launch_s if impl == "nccl" else 0.0


def allreduce_work_s(platform: PlatformSpec, n_bytes: float, n_devices: int, impl: AllReduceImpl) -> float:
    """Seconds of one all-reduce on the devices by ``impl``, its host launch left out."""
    if impl == "custom":
        custom = platform.interconnect.custom_allreduce
        if custom is None:
            raise ValueError(f"profile {platform.name!r} has no custom all-reduce "
                             "(interconnect.custom_allreduce)")
        return custom_allreduce_s(custom, n_bytes, n_devices)
    return allreduce_s(platform.interconnect, n_bytes, n_devices)


def allreduce_call_s(platform: PlatformSpec, n_bytes: float, n_devices: int,
                     impl: AllReduceImpl | None = None) -> float:
    """Seconds of one all-reduce call, launch included, by ``impl`` (default: the stack's choice)."""
    if n_devices <= 1 or n_bytes <= 0:
        return 0.0
    impl = impl or allreduce_impl(platform, n_bytes)
    return allreduce_work_s(platform, n_bytes, n_devices, impl) + allreduce_launch_s(platform, impl)
