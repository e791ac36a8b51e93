"""Validated schema of a hardware profile (``hw_profiles/*.yaml``) and its conversion to specs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from sn40l_sim.catalogue.execution import ExecutionSpec
from sn40l_sim.catalogue.hardware import (
    DeviceSpec,
    HostSpec,
    InterconnectSpec,
    MemoryTier,
    PlatformSpec,
    WeightLoadSpec,
)
from sn40l_sim.config.limits import MAX_DEVICES_PER_NODE, MAX_NODES
from sn40l_sim.config.quantities import (
    STRICT,
    Bytes,
    BytesPerS,
    FlopPerS,
    Fraction,
    PositiveSeconds,
    Seconds,
)


class MemoryTierConfig(BaseModel):
    model_config = STRICT
    capacity: Bytes
    bandwidth: BytesPerS

    def to_spec(self) -> MemoryTier:
        return MemoryTier(capacity_bytes=self.capacity, bw_bytes_per_s=self.bandwidth)


class DeviceConfig(BaseModel):
    model_config = STRICT
    peak_bf16: FlopPerS
    sram: MemoryTierConfig
    hbm: MemoryTierConfig
    ddr: MemoryTierConfig | None = None

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
    weight_fraction: Fraction = 0.9


class WeightLoadConfig(BaseModel):
    model_config = STRICT
    source: Literal["ddr", "host_dram"]
    bandwidth: BytesPerS
    latency: Seconds = 0.0
    scope: Literal["device", "node"]


class InterconnectConfig(BaseModel):
    model_config = STRICT
    bandwidth: BytesPerS
    latency: Seconds
    topology: Literal["ring", "tree", "switch"] = "ring"


class ExecutionConfig(BaseModel):
    model_config = STRICT
    mode: Literal["fused_dataflow", "unfused_kernels"]
    kernel_launch: PositiveSeconds
    hw_launch: PositiveSeconds | None = None
    launch_mode: Literal["software", "hardware"] = "software"
    hbm_efficiency: Fraction
    flop_efficiency: Fraction
    gemm_half_dim: float = Field(gt=0, le=1e9)
    # Required, like every efficiency above: a hardware number needs a source in its profile, so
    # a profile that leaves one out is an error rather than a silent default.
    gemm_half_k: float = Field(gt=0, le=1e9)
    elementwise_bw_efficiency: Fraction
    attention_flop_efficiency: Fraction
    attention_half_keys: float = Field(gt=0, le=1e9)
    vector_kernel_launch: PositiveSeconds
    attention_kernel_launch: PositiveSeconds
    sram_usable_fraction: Fraction
    max_layers_per_graph: int = Field(default=1, ge=1, le=100_000)
    pipeline_stage_latency: Seconds = 0.0
    overlap_collectives: bool = False

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
        )


class PlatformConfig(BaseModel):
    """One hardware profile file."""

    model_config = STRICT
    name: str
    kind: Literal["rdu", "gpu"]
    devices_per_node: int = Field(ge=1, le=MAX_DEVICES_PER_NODE)
    nodes: int = Field(default=1, ge=1, le=MAX_NODES)
    device: DeviceConfig
    host: HostConfig
    weight_load: WeightLoadConfig
    interconnect: InterconnectConfig
    execution: ExecutionConfig

    def to_spec(self) -> PlatformSpec:
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
            ),
            execution=self.execution.to_spec(),
        )
