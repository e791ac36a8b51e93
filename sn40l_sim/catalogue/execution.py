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
    """Parameters of the operator-level cost model (see docs/cost_model.md for the equations).

    Unfused kernels (``cost/unfused.py``): a GEMM reaches ``flop_efficiency`` of peak times a
    saturation factor ``x / (x + half)`` in each of its dimensions (``gemm_half_dim`` for m and n,
    ``gemm_half_k`` for k); streaming GEMM/attention operands reach ``hbm_efficiency`` of the HBM
    bandwidth, stand-alone vector kernels (norms, adds, activations) ``elementwise_bw_efficiency``;
    attention reaches ``attention_flop_efficiency`` of peak times ``a / (a + attention_half_keys)``
    for ``a`` attended keys per query. Every kernel pays a fixed cost (launch, prologue, tail) by
    kind: ``kernel_launch_s`` for GEMMs and collectives, ``vector_kernel_launch_s`` for vector
    kernels, ``attention_kernel_launch_s`` for attention.

    Fused dataflow (``cost/fused.py``): up to ``max_layers_per_graph`` decoder layers per kernel,
    split further where the stationary operands exceed ``sram_usable_fraction`` of the SRAM; each
    operator is a pipeline stage adding ``pipeline_stage_latency_s`` of fill/drain; one launch per
    graph (``hw_launch_s`` when ``launch_mode`` is hardware); collectives overlap the graph's
    compute when ``overlap_collectives``. With ``loop_layers`` (kernel looping, hardware-orchestrated
    launches only) the calls of a step's identical one-graph layers become one call of a kernel with
    a pipelined outer loop: one launch and one pipeline fill/drain for all of them.
    """

    mode: ExecutionMode
    kernel_launch_s: float  # per kernel (unfused) or per fused graph, software-orchestrated
    hw_launch_s: float  # per fused graph when the hardware orchestrates launches (RDU)
    launch_mode: LaunchMode
    hbm_efficiency: float  # achievable share of peak HBM bandwidth when streaming
    flop_efficiency: float  # achievable share of peak FLOP/s on large GEMMs
    gemm_half_dim: float  # GEMM m or n at which that dimension's efficiency factor is one half
    gemm_half_k: float  # GEMM reduction depth k at which its factor is one half
    elementwise_bw_efficiency: float  # share of HBM bandwidth a stand-alone vector kernel gets
    attention_flop_efficiency: float  # share of peak FLOP/s of an attention kernel over many keys
    attention_half_keys: float  # attended keys per query at which attention's FLOP/s is one half
    vector_kernel_launch_s: float  # fixed cost of an unfused vector kernel (norm, add, activation)
    attention_kernel_launch_s: float  # fixed cost of an unfused attention kernel
    sram_usable_fraction: float  # share of SRAM a fused graph may fill with stationary data
    max_layers_per_graph: int = 1  # decoder layers one fused kernel may hold
    pipeline_stage_latency_s: float = 0.0  # fill + drain per operator (pipeline stage) of a graph
    overlap_collectives: bool = False  # collectives stream inside the fused kernel
    graph_sync_s: float = 0.0  # fused: a TP group syncs at the end of a graph with no collective
    loop_layers: bool = False  # fused, hardware launch: a step's identical layer graphs are one looped call
    # Unfused decode attention's own parameters of the attention model (set where measured decode
    # kernels were fitted apart from prefill ones); None: decode uses the attention_* values.
    decode_attention_flop_efficiency: float | None = None
    decode_attention_half_keys: float | None = None
    decode_attention_kernel_launch_s: float | None = None

    def launch_s(self, launch_mode: LaunchMode | None = None) -> float:
        """Cost of one fused-graph launch in the given (default: the profile's) orchestration."""
        mode = launch_mode or self.launch_mode
        return self.hw_launch_s if mode == "hardware" else self.kernel_launch_s
