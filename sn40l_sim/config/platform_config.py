"""Validated schema of a hardware profile (``hw_profiles/*.yaml``) and its conversion to specs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from sn40l_sim.catalogue.execution import ExecutionSpec
from sn40l_sim.catalogue.hardware import (
    CustomAllReduceSpec,
    DeviceSpec,
    HostSpec,
    InNetworkReductionSpec,
    InterconnectSpec,
    MemoryTier,
    PlatformSpec,
    PowerSpec,
    PriceSpec,
    ScaleOutSpec,
    ServingStackSpec,
    WeightLoadSpec,
)
from sn40l_sim.config.limits import MAX_DEVICES_PER_NODE, MAX_NODES
from sn40l_sim.config.quantities import (
    STRICT,
    Bytes,
    BytesPerS,
    Count,
    FlopPerS,
    Fraction,
    PositiveSeconds,
    Seconds,
    Watts,
)
from sn40l_sim.config.schema_docs import DocumentedModel


class MemoryTierConfig(BaseModel):
    model_config = STRICT
    capacity: Bytes
    """Capacity per device, e.g. 64 GiB."""
    bandwidth: BytesPerS
    """Bandwidth per device, e.g. 1.8 TB/s."""

    def to_spec(self) -> MemoryTier:
        return MemoryTier(capacity_bytes=self.capacity, bw_bytes_per_s=self.bandwidth)


class DeviceConfig(BaseModel):
    model_config = STRICT
    peak_bf16: FlopPerS
    """Peak dense BF16 compute of one device, e.g. 638 TFLOP/s."""
    sram: MemoryTierConfig
    """On-chip memory (what a fused kernel can keep on chip)."""
    hbm: MemoryTierConfig
    """On-package HBM: holds the resident experts, the router and the KV cache."""
    ddr: MemoryTierConfig | None = None
    """Off-package DDR per device (SN40L), the backing store of experts; absent on GPUs."""

    def to_spec(self) -> DeviceSpec:
        return DeviceSpec(
            peak_flop_per_s=self.peak_bf16,
            sram=self.sram.to_spec(),
            hbm=self.hbm.to_spec(),
            ddr=self.ddr.to_spec() if self.ddr else None,
        )


class HostConfig(BaseModel):
    model_config = STRICT
    dram: Bytes
    """Host DRAM of one node (the backing store of experts on DGX)."""
    weight_fraction: Fraction = 0.9
    """Share of host DRAM usable for expert weights."""


class WeightLoadConfig(BaseModel):
    model_config = STRICT
    source: Literal["ddr", "host_dram"]
    """Where switched-in weights come from: ddr (SN40L) or host_dram (DGX)."""
    bandwidth: BytesPerS
    """Bandwidth of one copy link."""
    latency: Seconds = 0.0
    """Fixed latency of one copy."""
    scope: Literal["device", "node"]
    """device: every device has its own link (a TP-sharded switch copies all shards in parallel); node: one
    link shared by the node."""


class ScaleOutConfig(BaseModel):
    """``interconnect.scale_out``: the link between nodes (a collective crossing it runs at its pace)."""

    model_config = STRICT
    bandwidth: BytesPerS
    """Per-device bandwidth to a device of another node."""
    latency: Seconds
    """Latency of one collective step between nodes."""


class InNetworkReductionConfig(BaseModel):
    """``interconnect.in_network_reduction``: a switch that reduces (NVLink SHARP / NCCL NVLS)."""

    model_config = STRICT
    bandwidth: BytesPerS
    """Algorithm bandwidth of an all-reduce that the switch reduces."""
    latency: Seconds
    """Fixed latency of such an all-reduce (above the small-message path's)."""

    def to_spec(self) -> InNetworkReductionSpec:
        return InNetworkReductionSpec(bw_bytes_per_s=self.bandwidth, latency_s=self.latency)


class CustomAllReduceConfig(BaseModel):
    """``interconnect.custom_allreduce``: an engine's one-shot all-reduce kernel in a CUDA graph."""

    model_config = STRICT
    bandwidth: BytesPerS
    """Bandwidth at which a GPU reads its peers' tensors (the time grows with (GPUs - 1) x bytes)."""
    latency: Seconds
    """One call at two GPUs (no host launch: captured in a CUDA graph)."""
    latency_per_doubling: Seconds = 0.0
    """Extra latency per doubling of the GPUs beyond two."""

    def to_spec(self) -> CustomAllReduceSpec:
        return CustomAllReduceSpec(bw_bytes_per_s=self.bandwidth, latency_s=self.latency,
                                   latency_per_doubling_s=self.latency_per_doubling)


class InterconnectConfig(BaseModel):
    model_config = STRICT
    bandwidth: BytesPerS
    """Per-device bandwidth for tensor-parallel collectives."""
    latency: Seconds
    """Latency of one collective step."""
    topology: Literal["ring", "tree", "switch"] = "ring"
    """Collective algorithm: ring, tree, or switch (reduction in the network, NVSwitch SHARP)."""
    latency_per_doubling: Seconds = 0.0
    """Extra all-reduce latency per doubling of the devices in a collective (NCCL's ring/tree depth)."""
    in_network_reduction: InNetworkReductionConfig | None = None
    """A switch that reduces in the network (NVLink SHARP / NCCL NVLS); None: it does not."""
    scale_out: ScaleOutConfig | None = None
    """The link between nodes a tensor-parallel group larger than a node crosses; None: such a group
    uses the in-node network's figures."""
    custom_allreduce: CustomAllReduceConfig | None = None
    """An engine's custom all-reduce kernel that a serving stack may use for small messages."""


class ServingStackConfig(BaseModel):
    """One serving stack's costs beyond the kernels (see ``ServingStackSpec``)."""

    model_config = STRICT
    prefill: Seconds = 0.0
    """Once per prefill iteration: a call's set-up (batching the new requests, first-token sync)."""
    iteration: Seconds = 0.0
    """Host work of one batch iteration: scheduling, sampling launch, host<->device sync."""
    sequence: Seconds = 0.0
    """Per sequence per iteration: sampling, detokenisation."""
    request: Seconds = 0.0
    """Once per request: tokenisation, request set-up."""
    request_end: Seconds = 0.0
    """Once per request after its last token (detokenising and returning the response, freeing the
    sequence): lengthens end-to-end latency, not the first token nor the batch's iterations."""
    prompt_token: Seconds = 0.0
    """Per prompt token at prefill: host-side input preparation (positions, slot mappings)."""
    prompt_token_pair: Seconds = 0.0
    """Per pair of prompt tokens in one prefill iteration: (batch x prompt tokens)^2 times this."""
    host_layer: Seconds = 0.0
    """Host time to issue one decoder layer's kernels: a step is never shorter than layers x this."""
    program_load: Seconds = 0.0
    """Loading a model's program onto the devices when a group switches between models."""
    program_load_per_layer: Seconds = 0.0
    """Program load per decoder layer of the model switched to (added to program_load)."""
    custom_allreduce_max: Bytes | None = None
    """All-reduces up to this size use the interconnect's custom kernel (None: eager NCCL only)."""

    def to_spec(self, name: str) -> ServingStackSpec:
        return ServingStackSpec(name=name, prefill_s=self.prefill, iteration_s=self.iteration,
                                sequence_s=self.sequence,
                                request_s=self.request, request_end_s=self.request_end,
                                prompt_token_s=self.prompt_token,
                                prompt_token_pair_s=self.prompt_token_pair, host_layer_s=self.host_layer,
                                program_load_s=self.program_load,
                                program_load_per_layer_s=self.program_load_per_layer,
                                custom_allreduce_max_bytes=self.custom_allreduce_max)


class ServingStacksConfig(BaseModel):
    """``serving_stack:``: the stack runs use (``use``) and every stack the profile describes."""

    model_config = STRICT
    use: str
    """The stack runs use (one of ``stacks``)."""
    stacks: dict[str, ServingStackConfig]
    """Every stack the profile describes, by name."""

    @model_validator(mode="after")
    def _known(self) -> ServingStacksConfig:
        if self.use not in self.stacks:
            raise ValueError(f"serving_stack.use: {self.use!r} is not one of the stacks "
                             f"({', '.join(self.stacks)})")
        return self

    def specs(self) -> tuple[ServingStackSpec, tuple[ServingStackSpec, ...]]:
        others = tuple(c.to_spec(n) for n, c in self.stacks.items() if n != self.use)
        return self.stacks[self.use].to_spec(self.use), others


class ExecutionConfig(BaseModel):
    model_config = STRICT
    mode: Literal["fused_dataflow", "unfused_kernels"]
    """fused_dataflow (whole layers as one kernel, SN40L) or unfused_kernels (one kernel per operator)."""
    kernel_launch: PositiveSeconds
    """Fixed cost per GEMM or collective kernel (unfused) or per fused graph, software-orchestrated."""
    hw_launch: PositiveSeconds | None = None
    """Per fused graph when the hardware orchestrates launches (default: kernel_launch)."""
    launch_mode: Literal["software", "hardware"] = "software"
    """Who orchestrates fused-graph launches: software or hardware."""
    hbm_efficiency: Fraction
    """Achievable share of peak HBM bandwidth when streaming GEMM/attention operands."""
    flop_efficiency: Fraction
    """Achievable share of peak FLOP/s on large GEMMs."""
    gemm_half_dim: float = Field(gt=0, le=1e9)
    """GEMM m or n at which that dimension's efficiency factor is one half."""
    gemm_half_k: float = Field(gt=0, le=1e9)
    """GEMM reduction depth k at which its efficiency factor is one half. Required, like every efficiency
    here: a hardware number needs a source in its profile, so a missing one is an error, not a silent
    default."""
    elementwise_bw_efficiency: Fraction
    """Share of HBM bandwidth a stand-alone vector kernel (norm, add, activation) gets."""
    attention_flop_efficiency: Fraction
    """Share of peak FLOP/s of an attention kernel over many keys."""
    attention_half_keys: float = Field(gt=0, le=1e9)
    """Attended keys per query at which attention's FLOP/s is one half."""
    vector_kernel_launch: PositiveSeconds
    """Fixed cost of an unfused vector kernel."""
    attention_kernel_launch: PositiveSeconds
    """Fixed cost of an unfused attention kernel."""
    sram_usable_fraction: Fraction
    """Share of SRAM a fused graph may fill with stationary data."""
    max_layers_per_graph: Count = Field(default=1, ge=1, le=100_000)
    """Decoder layers one fused kernel may hold."""
    pipeline_stage_latency: Seconds = 0.0
    """Fill + drain per operator (pipeline stage) of a fused graph."""
    overlap_collectives: bool = False
    """Collectives stream inside the fused kernel, overlapping its compute."""
    graph_sync: Seconds = 0.0
    """Synchronisation of a fused graph on several devices that has no collective (one already syncs)."""
    loop_layers: bool = False
    """Kernel looping: with hardware launches, a step's identical layer kernels run as one call with a
    pipelined outer loop (one launch and one pipeline fill/drain per step, not per layer)."""

    decode_attention_flop_efficiency: Fraction | None = None
    """Decode attention's own ``attention_flop_efficiency`` (one query per sequence over its cache);
    unset: decode uses the attention_* values."""
    decode_attention_half_keys: float | None = Field(default=None, gt=0, le=1e9)
    """Decode attention's own ``attention_half_keys``; set with the other two decode_attention_*."""
    decode_attention_kernel_launch: PositiveSeconds | None = None
    """Decode attention's own fixed cost; set with the other two decode_attention_*."""

    @model_validator(mode="after")
    def _decode_set(self) -> ExecutionConfig:
        given = [self.decode_attention_flop_efficiency, self.decode_attention_half_keys,
                 self.decode_attention_kernel_launch]
        if any(v is None for v in given) and any(v is not None for v in given):
            raise ValueError("execution: decode_attention_flop_efficiency, decode_attention_half_keys "
                             "and decode_attention_kernel_launch are set together or not at all")
        return self

    def to_spec(self) -> ExecutionSpec:
        return ExecutionSpec(
            mode=self.mode,
            kernel_launch_s=self.kernel_launch,
            hw_launch_s=self.hw_launch if self.hw_launch is not None else self.kernel_launch,
            launch_mode=self.launch_mode,
            hbm_efficiency=self.hbm_efficiency,
            flop_efficiency=self.flop_efficiency,
            gemm_half_dim=self.gemm_half_dim,
            gemm_half_k=self.gemm_half_k,
            elementwise_bw_efficiency=self.elementwise_bw_efficiency,
            attention_flop_efficiency=self.attention_flop_efficiency,
            attention_half_keys=self.attention_half_keys,
            vector_kernel_launch_s=self.vector_kernel_launch,
            attention_kernel_launch_s=self.attention_kernel_launch,
            sram_usable_fraction=self.sram_usable_fraction,
            max_layers_per_graph=self.max_layers_per_graph,
            pipeline_stage_latency_s=self.pipeline_stage_latency,
            overlap_collectives=self.overlap_collectives,
            graph_sync_s=self.graph_sync,
            loop_layers=self.loop_layers,
            decode_attention_flop_efficiency=self.decode_attention_flop_efficiency,
            decode_attention_half_keys=self.decode_attention_half_keys,
            decode_attention_kernel_launch_s=self.decode_attention_kernel_launch,
        )


class PowerConfig(BaseModel):
    """``power:`` of a profile: per device (socket or GPU) and the rest of the node, idle and busy."""

    model_config = STRICT
    device_idle: Watts
    """One device (socket or GPU) powered but not computing, e.g. '75 W'."""
    device_busy: Watts
    """One device computing a batch, e.g. '700 W'."""
    node_idle: Watts
    """The rest of a node (host, switches, NICs, fans) while its devices idle."""
    node_busy: Watts
    """The rest of a node while all its devices compute."""

    def to_spec(self) -> PowerSpec:
        return PowerSpec(self.device_idle, self.device_busy, self.node_idle, self.node_busy)


class PriceConfig(BaseModel):
    """``price:`` of a profile: US dollars per node-hour."""

    model_config = STRICT
    node_usd_per_hour: float = Field(gt=0, le=1e9, allow_inf_nan=False)  # a node-hour under $1e9
    """US dollars to hold one node for an hour, busy or idle."""

    def to_spec(self) -> PriceSpec:
        return PriceSpec(self.node_usd_per_hour)


class PlatformConfig(DocumentedModel):
    """One hardware profile file."""

    model_config = STRICT
    name: str
    """The platform's display name."""
    kind: Literal["rdu", "gpu"]
    """rdu (SN40L) or gpu (DGX)."""
    devices_per_node: Count = Field(ge=1, le=MAX_DEVICES_PER_NODE)
    """Devices (sockets or GPUs) in one node."""
    nodes: Count = Field(default=1, ge=1, le=MAX_NODES)
    """Nodes (a scenario's nodes overrides it)."""
    device: DeviceConfig
    """One device's compute and memories."""
    host: HostConfig
    """The host of one node."""
    weight_load: WeightLoadConfig
    """The link a model switch copies weights over."""
    interconnect: InterconnectConfig
    """The network tensor-parallel collectives use."""
    execution: ExecutionConfig
    """Parameters of the cost model (docs/cost_model.md)."""
    power: PowerConfig | None = None
    """Electrical power, idle and busy, per device and for the rest of a node (energy metrics)."""
    price: PriceConfig | None = None
    """What a node costs per hour (cost metrics)."""
    serving_stack: ServingStacksConfig | None = None
    """Costs of the serving software beyond kernels, per stack (docs/cost_model.md section 6)."""

    @model_validator(mode="after")
    def _weights_come_from_a_memory_it_has(self) -> PlatformConfig:
        """``weight_load.source: ddr`` needs a device DDR tier (SN40L); a profile without one (DGX)
        loads weights from host DRAM: a field that does not apply to the platform is an error."""
        if self.weight_load.source == "ddr" and self.device.ddr is None:
            raise ValueError("weight_load.source is 'ddr', but the device has no 'ddr' tier (device.ddr); "
                             "a GPU loads expert weights from 'host_dram'")
        return self

    def _scale_out(self) -> ScaleOutSpec | None:
        link = self.interconnect.scale_out
        return ScaleOutSpec(link.bandwidth, link.latency, self.devices_per_node) if link else None

    @model_validator(mode="after")
    def _custom_allreduce_known(self) -> PlatformConfig:
        if self.serving_stack is None or self.interconnect.custom_allreduce is not None:
            return self
        for name, stack in self.serving_stack.stacks.items():
            if stack.custom_allreduce_max is not None:
                raise ValueError(f"serving_stack.stacks.{name}.custom_allreduce_max: the profile's "
                                 "interconnect has no custom_allreduce section")
        return self

    def to_spec(self) -> PlatformSpec:
        stack, others = self.serving_stack.specs() if self.serving_stack else (ServingStackSpec(), ())
        return PlatformSpec(
            name=self.name,
            kind=self.kind,
            n_devices_per_node=self.devices_per_node,
            n_nodes=self.nodes,
            device=self.device.to_spec(),
            host=HostSpec(dram_bytes=self.host.dram, weight_fraction=self.host.weight_fraction),
            weight_load=WeightLoadSpec(
                source=self.weight_load.source,
                bw_bytes_per_s=self.weight_load.bandwidth,
                latency_s=self.weight_load.latency,
                scope=self.weight_load.scope,
            ),
            interconnect=InterconnectSpec(
                bw_bytes_per_s=self.interconnect.bandwidth,
                latency_s=self.interconnect.latency,
                topology=self.interconnect.topology,
                latency_per_doubling_s=self.interconnect.latency_per_doubling,
                in_network=(self.interconnect.in_network_reduction.to_spec()
                            if self.interconnect.in_network_reduction else None),
                scale_out=self._scale_out(),
                custom_allreduce=(self.interconnect.custom_allreduce.to_spec()
                                  if self.interconnect.custom_allreduce else None),
            ),
            execution=self.execution.to_spec(),
            power=self.power.to_spec() if self.power else None,
            price=self.price.to_spec() if self.price else None,
            stack=stack,
            other_stacks=others,
        )
