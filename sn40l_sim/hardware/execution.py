"""How a platform executes a model: the knobs of the cost model, as data.

Owned by the cost model (``sn40l_sim.cost``): every efficiency here is a parameter of a pure cost
function, set in a profile with a source or a documented assumption (or fitted by
``scripts/fit_gpu_efficiency.py`` for GPUs), never a branch on the platform's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ExecutionMode = Literal["fused_dataflow", "unfused_kernels"]
LaunchMode = Literal["software", "hardware"]


@dataclass(frozen=True, slots=True)
class ExecutionSpec:
    """Parameters of the per-step cost model."""

    mode: ExecutionMode
    kernel_launch_s: float  # per kernel (unfused) or per fused graph, software-orchestrated
    hw_launch_s: float  # per fused graph when the hardware orchestrates launches (RDU)
    launch_mode: LaunchMode
    hbm_efficiency: float  # achievable share of peak HBM bandwidth when streaming
    flop_efficiency: float  # achievable share of peak FLOP/s on large GEMMs
    gemm_half_dim: float  # GEMM dimension at which efficiency reaches half its maximum
