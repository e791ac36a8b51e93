"""The frozen plan of one run (data only: the engine reads these and imports no planning function).

A run has *expert groups* (the scenario's ``experts:`` entries: a model, a count, its own
tensor-parallel degree or the serving one, and a speculative-decoding draft model) and *serving
groups* (``tensor_parallel`` devices that run one expert batch at a time; with several degrees, the
largest degree's groups first, each serving only the experts of its degree).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sn40l_sim.catalogue.hardware import PlatformSpec
from sn40l_sim.catalogue.models import ModelSpec
from sn40l_sim.config.router_spec import RouterSpec
from sn40l_sim.config.serving_spec import Prefetch as Prefetch  # the engine's name for it
from sn40l_sim.cost.cache import StepCostTable
from sn40l_sim.cost.memory import MemoryPlan
from sn40l_sim.state.placement import Placement
from sn40l_sim.state.request_blocks import RequestBlock


@dataclass(frozen=True, slots=True)
class ExpertPlan:
    """One expert: its model, the expert group it came from and the TP degree it runs at."""

    index: int
    name: str
    model: ModelSpec
    group: int  # index of its expert group (``experts:`` entry)
    tensor_parallel: int

    @property
    def weight_bytes(self) -> float:
        return self.model.weight_bytes

    @property
    def kv_bytes_per_token(self) -> float:
        return self.model.kv_bytes_per_token()


@dataclass(frozen=True, slots=True)
class ExpertGroupPlan:
    """One ``experts:`` entry: its experts share a model, a TP degree and a replica count.

    ``draft_model``: the speculative-decoding draft (None: plain decoding).
    """

    index: int
    model: ModelSpec
    experts: tuple[int, ...]  # expert indices, in catalogue order
    tensor_parallel: int
    replicas: int | str  # copies per expert ("auto": as many as the groups allow)
    draft_model: ModelSpec | None = None


@dataclass(frozen=True, slots=True)
class SpeculativePlan:
    """Speculative decoding of every expert: the draft, its lookahead ``k`` and each expert's
    per-token acceptance rate (by expert index). The draft is pinned in each group's HBM next to
    the router (weights and a full batch's KV at the longest context, in ``router_bytes``), so
    switching experts never copies it."""

    draft: ModelSpec
    lookahead: int
    acceptance: tuple[float, ...]  # by expert index
    hbm_bytes: float  # the draft's weights and KV, per group
    by_category: tuple[tuple[str, float], ...] = ()  # a request's category rate wins over its expert's


@dataclass(frozen=True, slots=True)
class LinkPlan:
    """A copy link switches contend for (one per group, or one per node)."""

    name: str
    bw_bytes_per_s: float
    latency_s: float


@dataclass(frozen=True, slots=True)
class ServingGroupPlan:
    """``tensor_parallel`` devices that serve experts, the link their copies use, their HBM split."""

    index: int
    tensor_parallel: int
    first_device: int  # devices first_device .. first_device + tensor_parallel - 1
    link: int  # index into RunPlan.links
    memory: MemoryPlan


@dataclass(frozen=True, slots=True)
class RouterPlan:
    """What routing costs, one way for ``run`` and ``footprint``.

    With a router ``model``, each router step is a batch inference on the group's devices: a
    prefill of the prompts plus ``output_tokens - 1`` decode steps; its HBM is the weights and,
    for a router that generates (``output_tokens`` > 1), the KV of a full batch at the longest
    context. Without a model, routing is a fixed ``latency_s`` (or free).
    """

    model: ModelSpec | None
    output_tokens: int
    batch: int  # most prompts one router step classifies
    hbm_bytes: float
    latency_s: float

    def inference_s(self, table: StepCostTable, n_batch: int, n_prompt_tokens: int) -> float:
        """One router step of ``n_batch`` prompts (program load not included)."""
        return table.inference_s(n_batch, n_prompt_tokens, self.output_tokens)


@dataclass(frozen=True, slots=True)
class GroupLimits:
    """How each serving group batches and what it does between batches."""

    max_batch: int
    max_steps_per_iteration: int
    max_context_tokens: int
    prefetch: Prefetch
    scheduler: str
    scheduler_settings: tuple[tuple[str, float], ...]  # the settings this scheduler takes
    eviction: str
    pinned: frozenset[int]  # expert indices that never leave HBM
    preload: bool


@dataclass(frozen=True, eq=False)
class Rejections:
    """Which arriving requests can never be served, and why (arrays by expert and by group).

    A request is checked against its expert's primary group: code 1, its expert is not in any
    backing store; 2, prompt + output exceed ``max_context_tokens``; 3, the expert's weights and
    its KV do not fit the group's HBM next to the router; 4, its KV exceeds a fixed reservation.
    """

    servable: np.ndarray  # bool by expert
    primary: np.ndarray  # int64 by expert: its first group (i mod n_groups when unservable)
    kv_bytes_per_token: np.ndarray  # by expert
    weight_bytes: np.ndarray  # by expert
    room_bytes: np.ndarray  # by group: HBM less the router
    kv_floor_bytes: np.ndarray  # by group
    kv_fixed: np.ndarray  # bool by group: KV may not grow past the floor
    max_context_tokens: int
    n_servable: int

    def codes(self, expert: np.ndarray, block: RequestBlock) -> np.ndarray:
        """Reason codes for a block's requests (0 = servable); see :meth:`reason`."""
        code = np.zeros(block.n, dtype=np.int8)
        code[~self.servable[expert]] = 1
        tokens = block.prompt_tokens + block.output_tokens
        code[(code == 0) & (tokens > self.max_context_tokens)] = 2
        group = self.primary[expert]
        kv_bytes = tokens * self.kv_bytes_per_token[expert]
        floor = self.kv_floor_bytes[group]
        alone = self.weight_bytes[expert] + np.maximum(kv_bytes, floor)
        code[(code == 0) & (alone > self.room_bytes[group])] = 3
        code[(code == 0) & self.kv_fixed[group] & (kv_bytes > floor)] = 4
        return code

    def reason(self, code: int) -> str:
        if code == 1:
            return (f"out of memory: the backing store holds {self.n_servable} of "
                    f"{len(self.servable)} experts")
        if code == 2:
            return f"context exceeds max_context_tokens {self.max_context_tokens}"
        if code == 3:
            return "out of memory: the expert's weights and this request's KV cache exceed HBM"
        return "out of memory: this request's KV cache exceeds serving.kv_reservation"


@dataclass(frozen=True)
class RunPlan:
    """Everything the engine needs to wire one run."""

    name: str
    seed: int
    platform: PlatformSpec
    experts: tuple[ExpertPlan, ...]
    expert_groups: tuple[ExpertGroupPlan, ...]
    serving_groups: tuple[ServingGroupPlan, ...]
    links: tuple[LinkPlan, ...]
    placement: Placement
    expected_loads: tuple[float, ...]  # each expert's share of requests x its weight bytes
    preload_order: tuple[int, ...]  # experts in the order a warm start fills HBM
    limits: GroupLimits
    rejections: Rejections
    router: RouterPlan
    router_config: RouterSpec  # what the engine's Router draws from
    group_shares: tuple[tuple[int, float], ...] | None
    speculative: SpeculativePlan | None = None  # None: plain decoding

    @property
    def expert_names(self) -> list[str]:
        return [e.name for e in self.experts]

    @property
    def memory(self) -> MemoryPlan:
        """The HBM split of the first serving group: every group's with one TP degree, the largest
        degree's with several (``check`` shows each degree's)."""
        return self.serving_groups[0].memory
