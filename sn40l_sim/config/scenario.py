"""The scenario file's schema: what to simulate (platform, experts, router, workload, serving).

Validated once here (pydantic, ``extra="forbid"`` so a misspelt field is an error), then resolved into
frozen specs by :mod:`sn40l_sim.config.resolve`; the engine never sees pydantic objects.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from sn40l_sim.config.limits import (
    MAX_BATCH,
    MAX_EXPERTS,
    MAX_NODES,
    MAX_TOKENS,
    check_name,
)
from sn40l_sim.config.quantities import STRICT, Bytes, Count, PositiveSeconds, Seconds, Watts
from sn40l_sim.config.router_config import RouterConfig
from sn40l_sim.config.schema_docs import DocumentedModel
from sn40l_sim.config.speculative_config import SpeculativeConfig
from sn40l_sim.config.workload_config import WorkloadConfig


class ExpertGroupConfig(BaseModel):
    """``{model: llama-2-7b, count: 150, name_prefix: expert}`` or ``{model: qwen2-7b, name: qwen}``."""

    model_config = STRICT
    model: str
    """Catalogue model of these experts (e.g. llama-2-7b); `sn40l-sim validate` lists them."""
    count: Count = Field(default=1, ge=1, le=MAX_EXPERTS)
    """How many experts of this model."""
    name: str | None = None
    """The name of a single expert (only with count 1)."""
    name_prefix: str | None = None
    """Experts are named <name_prefix>-0 .. <name_prefix>-(count-1) (default: the model name)."""
    tensor_parallel: Count | None = Field(default=None, ge=1, le=4096)
    """Devices per serving group for this group's experts, a power of two dividing the node's devices
    (default: serving.tensor_parallel). Groups at different degrees get their own serving groups: the
    devices are split between the degrees in proportion to expected load (share x weight bytes)."""
    share: float | None = Field(default=None, gt=0.0, le=1.0)
    """Share of all requests this group's experts receive (needs router.mapping zipf: the expert within
    the group is drawn Zipf(zipf_s) over the group's own ranks). Groups without a share split what the
    others leave in proportion to their counts."""

    @field_validator("tensor_parallel")
    @classmethod
    def _power_of_two(cls, value: int | None) -> int | None:
        if value is not None and value & (value - 1):
            raise ValueError(f"tensor_parallel {value} is not a power of two (1, 2, 4, 8, ...)")
        return value

    @model_validator(mode="after")
    def _one_naming(self) -> ExpertGroupConfig:
        if self.name is not None and self.count != 1:
            raise ValueError("'name' names a single expert; use 'name_prefix' with 'count' > 1")
        return self


class ServingConfig(BaseModel):
    """How each serving group batches, schedules and caches experts."""

    model_config = STRICT
    tensor_parallel: Count = Field(default=8, ge=1, le=4096)
    """Devices (SN40L sockets or GPUs) per serving group; each group serves its experts' batches."""
    max_batch: Count = Field(default=8, ge=1, le=MAX_BATCH)
    """Most requests in one expert batch (continuous batching) and in one router batch."""
    max_context_tokens: Count = Field(default=4096, ge=2, le=MAX_TOKENS)
    """Longest prompt + output a request may have; longer ones are rejected."""
    kv_reservation: Bytes | None = None
    """HBM set aside for the KV cache up front. With kv_growth (default) a floor (default 0) the running
    batch's KV may grow past by evicting idle experts; without growth also the cap (default max_batch x
    max_context_tokens x KV bytes/token, P1's static region)."""
    kv_growth: bool = True
    """Whether the KV cache may grow past kv_reservation by evicting idle experts."""
    scheduler: str = "fcfs"
    """Which expert a group serves next: fcfs, expert_affinity or paper_batch."""
    affinity_max_wait: Seconds = 2.0
    """expert_affinity: the longest a request waits before FCFS order wins."""
    eviction: str = "lru"
    """Which expert leaves HBM to make room: lru, lfu or pinned."""
    pinned: list[str] = Field(default_factory=list)
    """eviction 'pinned': experts that never leave HBM."""
    prefetch: Literal["none", "next", "on_route"] = "none"
    """When to start an expert's copy before its batch: none; next (when a batch starts, the expert the
    scheduler would pick next); on_route (as soon as the router sends a request to a cold expert). Only
    into free room or by evicting idle experts nobody waits for; true means next."""
    preload: bool = True
    """Start with HBM filled with the first experts that fit."""
    replicas: Annotated[Count, Field(ge=1, le=4096)] | Literal["auto"] = 1
    """Copies of each expert on other groups (auto: as many as the groups allow); a request goes to the copy
    whose group has the fewest outstanding requests. 1 is P1's static placement."""
    placement: str = "uniform"
    """Which groups hold which experts: uniform (catalogue order, `replicas` copies of every expert) or
    load_aware (copies in proportion to expected load, experts packed only when groups are fewer, see
    sn40l_sim/policy/placement_rules.py; it chooses its own copies, so `replicas` must stay 1)."""
    max_steps_per_iteration: Count = Field(default=64, ge=1, le=MAX_TOKENS)
    """Most decode steps one simulation event covers (a bound on how coarse an iteration is)."""
    speculative: SpeculativeConfig | None = None
    """Speculative decoding: {draft: <catalogue model>, lookahead: k, acceptance: rate | {category: rate}}."""

    @model_validator(mode="after")
    def _replicas_with_uniform(self) -> ServingConfig:
        if self.placement != "uniform" and self.replicas != 1:
            raise ValueError(f"'replicas' applies to placement 'uniform'; placement "
                             f"{self.placement!r} chooses each expert's copies itself")
        return self

    @field_validator("prefetch", mode="before")
    @classmethod
    def _prefetch_bool(cls, value: Any) -> Any:
        """Older scenarios wrote ``prefetch: true`` for what is now ``next``."""
        if isinstance(value, bool):
            return "next" if value else "none"
        return value


class SloConfig(BaseModel):
    """The service-level objective a request must meet to count towards goodput."""

    model_config = STRICT
    ttft: PositiveSeconds = 1.0
    """Longest time to first token that counts (default 1 s: an interactive chat, an assumption)."""
    time_between_tokens: PositiveSeconds = 0.1
    """Longest gap between output tokens that counts, judged on each request's p99 gap (default 100 ms:
    faster than reading); the summary reports the mean gap (tpot_*) and this p99 (token_gap_p99_*)."""


class CostsConfig(BaseModel):
    """Overrides of the profile's ``power:``, ``price:`` and program load (so a sweep can vary them, e.g. the
    SN40L's, which are not public): ``costs.node_usd_per_hour``, ``costs.device_busy``, ..."""

    model_config = STRICT
    node_usd_per_hour: float | None = Field(default=None, gt=0, le=1e9, allow_inf_nan=False)
    """US dollars per node-hour (replaces the profile's price.node_usd_per_hour)."""
    device_idle: Watts | None = None
    """Replaces the profile's power.device_idle."""
    device_busy: Watts | None = None
    """Replaces the profile's power.device_busy."""
    node_idle: Watts | None = None
    """Replaces the profile's power.node_idle."""
    node_busy: Watts | None = None
    """Replaces the profile's power.node_busy."""
    program_load_scale: float | None = Field(default=None, gt=0, le=1e3, allow_inf_nan=False)
    """Multiplies the profile's serving-stack program load (the SN40L's is fitted, not measured: sweep
    it, e.g. [0.5, 2])."""


class Scenario(DocumentedModel):
    """One scenario file."""

    model_config = STRICT
    name: Annotated[str, AfterValidator(check_name)]
    """The scenario's name, a slug (letters, digits, -_., at most 100): its results go to
    <output>/<name>/<UTC stamp>/."""
    description: str = ""
    """Free text, kept with the results."""
    platform: str | dict[str, Any]
    """A hardware profile: a name in hw_profiles/, a YAML path, or an inline mapping."""
    nodes: Count = Field(default=1, ge=1, le=MAX_NODES)
    """Nodes of the platform (each with the profile's devices_per_node devices)."""
    models_file: str | None = Field(default=None, min_length=1, max_length=4096)
    """A YAML file of your own models, relative to this file, in the catalogue's format (name: {layers,
    hidden, heads, kv_heads, ffn, vocab, ...}); experts, router and draft may name them."""
    experts: list[ExpertGroupConfig] = Field(min_length=1, max_length=MAX_EXPERTS)
    """The experts of the composition; the backing store fills in this order."""
    router: RouterConfig = Field(default_factory=RouterConfig)
    """How requests find their expert, and what routing costs."""
    workload: WorkloadConfig
    """The requests: a trace file to replay, or a synthetic generator."""
    serving: ServingConfig = Field(default_factory=ServingConfig)
    """Batching, scheduling, HBM caching and placement of the serving groups."""
    slo: SloConfig = Field(default_factory=SloConfig)
    """What a request must meet to count towards goodput."""
    costs: CostsConfig = Field(default_factory=CostsConfig)
    """Overrides of the profile's power and price (to sweep them)."""
    seed: Count = Field(default=1, ge=0, lt=2**63)
    """Seed of every random draw (workload, router): the same seed gives the same results."""
    output: str = "results"
    """Folder for results (relative to where the command runs)."""
    plots: Literal["auto", "none"] = "auto"
    """Draw the run's plots (auto) or not (none)."""

    @model_validator(mode="after")
    def _expert_total(self) -> Scenario:
        n_experts = sum(group.count for group in self.experts)
        if n_experts > MAX_EXPERTS:
            raise ValueError(f"{n_experts:,} experts in all; the simulator's limit is "
                             f"{MAX_EXPERTS:,} (see docs/limits.md)")
        return self
