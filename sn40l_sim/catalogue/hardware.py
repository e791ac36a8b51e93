"""The machine as frozen data: SI floats only, built once from a validated profile.

One :class:`PlatformSpec` describes a node (8 SN40L sockets, or 8 GPUs) and how many nodes a
scenario uses. SN40L and GPUs share one shape: a *device* (socket or GPU) with on-chip SRAM, HBM
and optionally socket-attached DDR; a *weight-load path* that a model switch copies over; an
*interconnect* for tensor-parallel collectives; and an *execution* model (fused dataflow or
unfused kernels). Adding an accelerator needs a YAML file, never a subclass.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from sn40l_sim.catalogue.execution import ExecutionSpec

PlatformKind = Literal["rdu", "gpu"]
WeightSource = Literal["ddr", "host_dram"]
LinkScope = Literal["device", "node"]
Topology = Literal["ring", "tree", "switch"]


@dataclass(frozen=True, slots=True)
class MemoryTier:
    """A memory's size and its peak bandwidth (bytes, bytes/s)."""

    capacity_bytes: float
    bw_bytes_per_s: float


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One SN40L socket or one GPU: compute and the memory tiers attached to it.

    ``ddr`` is the socket-attached DDR of an SN40L (the third tier); GPUs have none (their
    experts spill to the node's host DRAM, described by :class:`HostSpec`).
    """

    peak_flop_per_s: float
    sram: MemoryTier
    hbm: MemoryTier
    ddr: MemoryTier | None


@dataclass(frozen=True, slots=True)
class HostSpec:
    """The x86 host of a node: DRAM that can back expert weights."""

    dram_bytes: float
    weight_fraction: float  # share of host DRAM usable for expert weights


@dataclass(frozen=True, slots=True)
class WeightLoadSpec:
    """The path a model switch copies weights over into HBM.

    ``scope="device"``: every device has its own link of ``bw_bytes_per_s`` (SN40L: each socket's
    DDR→HBM); a TP-sharded switch moves all shards in parallel. ``scope="node"``: one link of
    ``bw_bytes_per_s`` is shared by the whole node (P1's DGX model: one host→GPU PCIe link).
    """

    source: WeightSource
    bw_bytes_per_s: float
    latency_s: float
    scope: LinkScope


@dataclass(frozen=True, slots=True)
class InNetworkReductionSpec:
    """A switch that reduces in the network (NVSwitch 3 NVLink SHARP, NCCL's NVLS algorithm).

    Each device sends its tensor to the switch once and receives the reduced tensor once, so the
    bandwidth term is ``bytes / bw`` (no ``2(p-1)/p`` factor) and the latency is one round trip
    through the switch, independent of the device count.
    """

    bw_bytes_per_s: float  # per device, one direction, achieved by the in-switch reduction
    latency_s: float  # fixed cost of one in-network all-reduce (both hops and the launch path)


@dataclass(frozen=True, slots=True)
class ScaleOutSpec:
    """The link between nodes that a tensor-parallel group larger than one node crosses."""

    bw_bytes_per_s: float  # per device, one direction, to a device of another node
    latency_s: float  # per message hop between nodes (alpha)
    devices_per_node: int  # a collective over more devices than this crosses the link


@dataclass(frozen=True, slots=True)
class CustomAllReduceSpec:
    """An engine's own all-reduce kernel (TensorRT-LLM's, vLLM's one-shot kernel), captured in a
    CUDA graph: every GPU writes its tensor into peers' buffers over NVLink and reduces what the
    others wrote, so one call costs ``latency_s`` (+ ``latency_per_doubling_s`` per doubling of the
    GPUs beyond two) plus ``(p - 1) * bytes / bw_bytes_per_s``, with no host launch."""

    bw_bytes_per_s: float  # per device: the peers' data it reads
    latency_s: float  # one call at two GPUs, no host launch (CUDA graph)
    latency_per_doubling_s: float = 0.0


@dataclass(frozen=True, slots=True)
class InterconnectSpec:
    """Device-to-device network for tensor-parallel collectives (alpha-beta model).

    ``latency_per_doubling_s`` adds to the latency of every all-reduce for each doubling of the
    device count beyond two (NCCL's small-message tree/LL protocols take log2(p) hops). With
    ``in_network`` set, an all-reduce takes the faster of the device algorithm and the
    in-network reduction (NCCL picks the algorithm per message size).
    """

    bw_bytes_per_s: float  # per device, one direction
    latency_s: float  # per message hop (alpha)
    topology: Topology
    latency_per_doubling_s: float = 0.0  # added per doubling of the device count beyond 2
    in_network: InNetworkReductionSpec | None = None
    scale_out: ScaleOutSpec | None = None  # between nodes; None: a group never leaves its node
    custom_allreduce: CustomAllReduceSpec | None = None  # an engine's kernel a stack may use


@dataclass(frozen=True, slots=True)
class ServingStackSpec:
    """Costs of the serving software beyond the kernels (docs/cost_model.md, section 6).

    ``prefill_s``: once per prefill iteration (a call's set-up: batching the new requests,
    first-token synchronisation); ``iteration_s``: host work of one batch iteration (scheduling,
    sampling launch, host<->device
    synchronisation); ``prompt_token_s``: per prompt token at prefill (host-side input preparation:
    positions, slot mappings); ``sequence_s``: per sequence per iteration (sampling, detokenisation);
    ``request_s``: once per request (tokenisation, request set-up); ``request_end_s``: once per
    request after its last token (detokenising and returning the response, freeing the sequence):
    it lengthens the request's end-to-end latency, not its first token nor the batch's iterations;
    ``prompt_token_pair_s``: per
    pair of prompt tokens in one prefill iteration, i.e. ``(n_batch * n_prompt_tokens)**2`` times
    it (a cost quadratic in the iteration's tokens, seen in the vLLM-era stack's long prefills,
    docs/cost_model.md section 6); ``host_layer_s``: host time to
    issue one decoder layer's kernels: a step is never shorter than ``n_layers * host_layer_s``
    (a launch-bound host, as in an eager-mode Python runtime; 0 with CUDA graphs or a compiled
    runtime); ``program_load_s``: loading a model's program and arguments onto the devices when
    a group switches from running one model to another (SN40L: P1 §IV-C program load -> argument
    load -> execute; the router and the expert alternate in a CoE), plus ``program_load_per_layer_s``
    for each decoder layer of the model switched to (:func:`sn40l_sim.cost.launch.program_load_s`).
    ``custom_allreduce_max_bytes``: the stack runs all-reduces up to this size with the engine's
    custom kernel under a CUDA graph (``InterconnectSpec.custom_allreduce``), larger ones and all of
    them when None with eager NCCL.
    """

    name: str = "none"
    prefill_s: float = 0.0
    iteration_s: float = 0.0
    sequence_s: float = 0.0
    request_s: float = 0.0
    request_end_s: float = 0.0
    prompt_token_s: float = 0.0
    prompt_token_pair_s: float = 0.0
    host_layer_s: float = 0.0
    program_load_s: float = 0.0
    program_load_per_layer_s: float = 0.0
    custom_allreduce_max_bytes: float | None = None


@dataclass(frozen=True, slots=True)
class PowerSpec:
    """Electrical power of one node, split into its devices and the rest (host, switches, fans).

    Idle is drawn the whole time a node is provisioned; busy while a device computes a batch. The
    node's non-device part moves from idle to busy in proportion to its devices' busy share.
    """

    device_idle_w: float
    device_busy_w: float
    node_idle_w: float  # the node without its devices
    node_busy_w: float

    def peak_node_w(self, n_devices_per_node: int) -> float:
        """A node with every device busy: what a data centre provisions for."""
        return self.node_busy_w + n_devices_per_node * self.device_busy_w


@dataclass(frozen=True, slots=True)
class PriceSpec:
    """What a node costs to hold for an hour (US dollars), whether busy or idle."""

    node_usd_per_hour: float


@dataclass(frozen=True, slots=True)
class PlatformSpec:
    """A node type and how many of them: what a scenario runs on."""

    name: str
    kind: PlatformKind
    n_devices_per_node: int
    device: DeviceSpec
    host: HostSpec
    weight_load: WeightLoadSpec
    interconnect: InterconnectSpec
    execution: ExecutionSpec
    n_nodes: int = 1
    power: PowerSpec | None = None  # None: the profile gives no power (energy metrics are NaN)
    price: PriceSpec | None = None
    stack: ServingStackSpec = ServingStackSpec()  # the serving stack the profile's runs use
    other_stacks: tuple[ServingStackSpec, ...] = ()  # alternatives, by name (measured data of them)

    def with_program_load_scale(self, factor: float) -> PlatformSpec:
        """The same platform with its serving stack's program load (both terms) scaled by ``factor``."""
        stack = replace(self.stack, program_load_s=self.stack.program_load_s * factor,
                        program_load_per_layer_s=self.stack.program_load_per_layer_s * factor)
        return replace(self, stack=stack)

    def with_stack(self, name: str) -> PlatformSpec:
        """The same hardware under another of its serving stacks."""
        for stack in (self.stack, *self.other_stacks):
            if stack.name == name:
                return replace(self, stack=stack)
        known = ", ".join(s.name for s in (self.stack, *self.other_stacks))
        raise KeyError(f"profile {self.name!r} has no serving stack {name!r} (known: {known})")

    @property
    def n_devices(self) -> int:
        """Devices across all nodes of the platform."""
        return self.n_devices_per_node * self.n_nodes

    def weight_load_bw_bytes_per_s(self, n_devices: int) -> float:
        """Aggregate copy bandwidth into HBM for a switch spread over ``n_devices`` devices."""
        if self.weight_load.scope == "device":
            return self.weight_load.bw_bytes_per_s * n_devices
        return self.weight_load.bw_bytes_per_s

    def backing_capacity_bytes(self) -> float:
        """Bytes per node that can hold experts outside HBM (DDR on SN40L, host DRAM on DGX)."""
        if self.weight_load.source == "ddr":
            if self.device.ddr is None:
                return 0.0
            return self.device.ddr.capacity_bytes * self.n_devices_per_node
        return self.host.dram_bytes * self.host.weight_fraction
