"""The serving section as a frozen spec: what every layer below the config reads after resolve.

:class:`~sn40l_sim.config.scenario.ServingConfig` validates the YAML; :func:`serving_spec` copies
it into plain values (an enum for ``prefetch``, a tuple for ``pinned``, units in the names), so no
pydantic object leaves ``config/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sn40l_sim.config.scenario import ServingConfig


class Prefetch(Enum):
    """When a group starts an expert's copy before its batch (see ``ServingConfig.prefetch``)."""

    NONE = "none"
    NEXT = "next"  # when a batch starts: the expert the scheduler would pick next
    ON_ROUTE = "on_route"  # as soon as the router sends a request to a cold expert


@dataclass(frozen=True, slots=True)
class ServingSpec:
    """Batching, scheduling, caching and placement of the serving groups (docs: ServingConfig)."""

    tensor_parallel: int
    max_batch: int
    max_context_tokens: int
    kv_reservation_bytes: float | None
    kv_growth: bool
    scheduler: str
    affinity_max_wait_s: float
    eviction: str
    pinned: tuple[str, ...]
    prefetch: Prefetch
    preload: bool
    replicas: int | str
    placement: str
    max_steps_per_iteration: int
    # The scenario fields the user set (a default that rejected requests earns a warning).
    fields_set: frozenset[str] = frozenset()


def serving_spec(config: ServingConfig) -> ServingSpec:
    """Copy a validated serving section into its frozen spec."""
    return ServingSpec(
        tensor_parallel=config.tensor_parallel, max_batch=config.max_batch,
        max_context_tokens=config.max_context_tokens,
        kv_reservation_bytes=(float(config.kv_reservation) if config.kv_reservation is not None
                              else None),
        kv_growth=config.kv_growth, scheduler=config.scheduler,
        affinity_max_wait_s=float(config.affinity_max_wait), eviction=config.eviction,
        pinned=tuple(config.pinned), prefetch=Prefetch(config.prefetch), preload=config.preload,
        replicas=config.replicas, placement=config.placement,
        max_steps_per_iteration=config.max_steps_per_iteration,
        fields_set=frozenset(config.model_fields_set))
