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
from sn40l_sim.config.quantities import STRICT, Bytes, Seconds
from sn40l_sim.config.router_config import RouterConfig
from sn40l_sim.config.workload_config import WorkloadConfig


class ExpertGroupConfig(BaseModel):
    """``{model: llama-2-7b, count: 150, name_prefix: expert}`` or ``{model: qwen2-7b, name: qwen}``."""

    model_config = STRICT
    model: str
    count: int = Field(default=1, ge=1, le=MAX_EXPERTS)
    name: str | None = None
    name_prefix: str | None = None

    @model_validator(mode="after")
    def _one_naming(self) -> ExpertGroupConfig:
        if self.name is not None and self.count != 1:
            raise ValueError("'name' names a single expert; use 'name_prefix' with 'count' > 1")
        return self


class ServingConfig(BaseModel):
    """How each serving group batches, schedules and caches experts."""

    model_config = STRICT
    tensor_parallel: int = Field(default=8, ge=1, le=4096)
    max_batch: int = Field(default=8, ge=1, le=MAX_BATCH)
    max_context_tokens: int = Field(default=4096, ge=2, le=MAX_TOKENS)
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
    replicas: Annotated[int, Field(ge=1, le=4096)] | Literal["auto"] = 1
    max_steps_per_iteration: int = Field(default=64, ge=1, le=MAX_TOKENS)  # bound on decode steps per event

    @field_validator("prefetch", mode="before")
    @classmethod
    def _prefetch_bool(cls, value: Any) -> Any:
        """Older scenarios wrote ``prefetch: true`` for what is now ``next``."""
        if isinstance(value, bool):
            return "next" if value else "none"
        return value


class Scenario(BaseModel):
    """One scenario file."""

    model_config = STRICT
    name: Annotated[str, AfterValidator(check_name)]  # a slug: it names the results folder
    description: str = ""
    platform: str | dict[str, Any]
    nodes: int = Field(default=1, ge=1, le=MAX_NODES)
    experts: list[ExpertGroupConfig] = Field(min_length=1, max_length=MAX_EXPERTS)
    router: RouterConfig = Field(default_factory=RouterConfig)
    workload: WorkloadConfig
    serving: ServingConfig = Field(default_factory=ServingConfig)
    seed: int = Field(default=1, ge=0, lt=2**63)
    output: str = "results"
    plots: Literal["auto", "none"] = "auto"

    @model_validator(mode="after")
    def _expert_total(self) -> Scenario:
        n_experts = sum(group.count for group in self.experts)
        if n_experts > MAX_EXPERTS:
            raise ValueError(f"{n_experts:,} experts in all; the simulator's limit is "
                             f"{MAX_EXPERTS:,} (see docs/limits.md)")
        return self
