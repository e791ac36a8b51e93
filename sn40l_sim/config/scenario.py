"""The scenario file's schema: what to simulate (platform, experts, router, workload, serving).

Validated once here (pydantic, ``extra="forbid"`` so a misspelt field is an error), then resolved into
frozen specs by :mod:`sn40l_sim.config.resolve`; the engine never sees pydantic objects.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from sn40l_sim.config.quantities import STRICT, Bytes, PositiveSeconds, Seconds, Watts
from sn40l_sim.config.router_config import RouterConfig
from sn40l_sim.config.workload_config import WorkloadConfig


class ExpertGroupConfig(BaseModel):
    """``{model: llama-2-7b, count: 150, name_prefix: expert}`` or ``{model: qwen2-7b, name: qwen}``."""

    model_config = STRICT
    model: str
    count: int = Field(default=1, ge=1, le=1_000_000)
    name: str | None = None
    name_prefix: str | None = None
    # Share of all requests this group's experts receive (with ``router.mapping: zipf``, the
    # expert within the group is drawn Zipf(zipf_s) over the group's own ranks). Groups without a
    # share split what the others leave in proportion to their counts.
    share: float | None = Field(default=None, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _one_naming(self) -> ExpertGroupConfig:
        if self.name is not None and self.count != 1:
            raise ValueError("'name' names a single expert; use 'name_prefix' with 'count' > 1")
        return self


class ServingConfig(BaseModel):
    """How each serving group batches, schedules and caches experts."""

    model_config = STRICT
    tensor_parallel: int = Field(default=8, ge=1)
    max_batch: int = Field(default=8, ge=1)
    max_context_tokens: int = Field(default=4096, ge=2)
    # HBM set aside for the KV cache up front. With kv_growth (default) it is a floor (default 0)
    # that the KV of the running batch may grow past by evicting idle experts; without growth it is
    # also the cap (default max_batch x max_context_tokens x KV bytes/token, P1's static region).
    kv_reservation: Bytes | None = None
    kv_growth: bool = True
    scheduler: str = "fcfs"
    affinity_max_wait: Seconds = 2.0  # expert_affinity: longest a request waits before FCFS wins
    eviction: str = "lru"
    pinned: list[str] = Field(default_factory=list)  # eviction 'pinned': experts never evicted
    # When to start a copy before the expert's batch: none; next (when a batch starts, the expert
    # the scheduler would pick next); on_route (as soon as the router has sent a request to a cold
    # expert). Only into free room or by evicting idle experts nobody waits for. true = next.
    prefetch: Literal["none", "next", "on_route"] = "none"
    preload: bool = True  # start with HBM filled with the first experts that fit
    # Copies of each expert on other groups (``auto``: as many as the groups allow); a request
    # goes to the copy whose group has the fewest outstanding requests. 1 = P1's static placement.
    replicas: Annotated[int, Field(ge=1)] | Literal["auto"] = 1
    # Which groups hold which experts: ``uniform`` (catalogue order, ``replicas`` copies of every
    # expert) or ``load_aware`` (copies in proportion to expected load, small experts packed, see
    # sn40l_sim/policy/placement_rules.py; it chooses its own copies, so ``replicas`` must stay 1).
    placement: str = "uniform"
    max_steps_per_iteration: int = Field(default=64, ge=1)  # bound on decode steps per event

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
    ttft: PositiveSeconds = 1.0  # assumption: an interactive chat's first token within 1 s
    time_between_tokens: PositiveSeconds = 0.1  # assumption: 10 tokens/s, faster than reading


class CostsConfig(BaseModel):
    """Overrides of the profile's ``power:`` and ``price:`` (so a sweep can vary them, e.g. the
    SN40L's, which are not public): ``costs.node_usd_per_hour``, ``costs.device_busy``, ..."""

    model_config = STRICT
    node_usd_per_hour: float | None = Field(default=None, gt=0)
    device_idle: Watts | None = None
    device_busy: Watts | None = None
    node_idle: Watts | None = None
    node_busy: Watts | None = None


class Scenario(BaseModel):
    """One scenario file."""

    model_config = STRICT
    name: str = Field(min_length=1)
    description: str = ""
    platform: str | dict[str, Any]
    nodes: int = Field(default=1, ge=1)
    experts: list[ExpertGroupConfig] = Field(min_length=1)
    router: RouterConfig = Field(default_factory=RouterConfig)
    workload: WorkloadConfig
    serving: ServingConfig = Field(default_factory=ServingConfig)
    slo: SloConfig = Field(default_factory=SloConfig)
    costs: CostsConfig = Field(default_factory=CostsConfig)
    seed: int = Field(default=1, ge=0)
    output: str = "results"
    plots: Literal["auto", "none"] = "auto"
