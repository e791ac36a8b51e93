"""Placement rules: which serving groups hold which experts, chosen by ``serving.placement``.

* ``uniform`` (P1's static placement): expert ``i`` on group ``i mod n_groups`` in catalogue order,
  plus ``serving.replicas`` copies of every expert (see :func:`sn40l_sim.state.placement.place`).
* ``load_aware`` (what a GPU engineer plans): copies in proportion to each expert's expected load,
  several small experts packed per group, every copy bounded by the backing store and every
  replica by the group's HBM expert cache (a replica that would have to be switched in helps
  nobody). See :func:`place_by_load` for the rule and the bound it keeps.

Pure: no SimPy, no I/O. The planner (:mod:`sn40l_sim.plan`) asks :data:`PLACEMENTS` for the rule by name.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sn40l_sim.policy.registry import Registry
from sn40l_sim.state.placement import Placement, place, replica_count
from sn40l_sim.state.residency import BackingStore

_SLACK = 1 + 1e-12  # as BackingStore: float sums of byte counts may round up by an ulp


@dataclass(frozen=True)
class PlacementInput:
    """What a rule needs to know: experts' sizes and expected loads, the groups and their memory.

    ``loads`` are relative (any positive scale): expected share of requests x work per request.
    ``hbm_cache_bytes`` is the room a group's HBM has for expert weights (after router and KV floor).
    """

    expert_bytes: Sequence[float]
    loads: Sequence[float]
    n_groups: int
    backing_bytes: float
    hbm_cache_bytes: float
    replicas: int | str = 1


@dataclass(frozen=True)
class PlacementRule:
    """A placement rule and what it reads: ``uses_loads`` rules place (and preload) by expected
    load, so the planner counts a labelled trace's own traffic for them."""

    place: Callable[[PlacementInput], Placement]
    uses_loads: bool


PLACEMENTS: Registry[PlacementRule] = Registry("placement")


def place_uniform(spec: PlacementInput) -> Placement:
    """Catalogue order, the same number of copies of every expert (``serving.replicas``)."""
    copies = replica_count(spec.replicas, len(spec.expert_bytes), spec.n_groups)
    return place(list(spec.expert_bytes), spec.n_groups, spec.backing_bytes, copies)


PLACEMENTS.register("uniform")(PlacementRule(place_uniform, uses_loads=False))


def copies_wanted(loads: Sequence[float], n_groups: int) -> list[int]:
    """Copies per expert: ``ceil(share x n_groups)``, at least 1 and at most one per group.

    With that many, one copy carries at most an ideal group's load (1 / n_groups of the total),
    which is what keeps the greedy assignment below within one copy of ideal.
    """
    total = float(sum(loads))
    if total <= 0:
        return [1] * len(loads)
    return [max(1, min(n_groups, math.ceil(load / total * n_groups - 1e-9))) for load in loads]


class _Groups:
    """Greedy bookkeeping: each group's planned load, bytes used and experts held."""

    def __init__(self, n_groups: int, backing_bytes: float) -> None:
        self.load = np.zeros(n_groups)
        self.used = np.zeros(n_groups)
        self.stores = [BackingStore(backing_bytes) for _ in range(n_groups)]
        self.capacity = backing_bytes

    def least_loaded(self, eligible: np.ndarray) -> int | None:
        """The eligible group with the least load (ties: fewest bytes, then lowest index)."""
        idx = np.flatnonzero(eligible)
        if not len(idx):
            return None
        order = np.lexsort((idx, self.used[idx], self.load[idx]))
        return int(idx[order[0]])

    def put(self, group: int, expert: int, n_bytes: float, load: float) -> None:
        placed = self.stores[group].place(expert, n_bytes)
        assert placed, "least_loaded only offers groups with room"
        self.used[group] += n_bytes
        self.load[group] += load


def dedicated_copies(loads: Sequence[float], n_groups: int) -> list[int]:
    """With at least as many groups as experts: one group per copy, ``n_groups`` copies in all,
    each seat after the first per expert going to the expert whose copies carry the most
    (D'Hondt), which makes the heaviest copy as light as it can be."""
    copies = [1] * len(loads)
    for _ in range(n_groups - len(loads)):
        best = max(range(len(loads)), key=lambda e: (loads[e] / copies[e], -e))
        copies[best] += 1
    return copies


def _place_dedicated(spec: PlacementInput) -> Placement | None:
    """Every copy on a group of its own (None when some expert does not fit a group alone)."""
    sizes = list(spec.expert_bytes)
    room = min(spec.backing_bytes, spec.hbm_cache_bytes) * _SLACK
    if len(sizes) > spec.n_groups or any(size > room for size in sizes):
        return None
    copies = dedicated_copies(list(spec.loads), spec.n_groups)
    stores = [BackingStore(spec.backing_bytes) for _ in range(spec.n_groups)]
    groups_of: list[tuple[int, ...]] = []
    next_group = 0
    for expert, n in enumerate(copies):
        held_by = tuple(range(next_group, next_group + n))
        for g in held_by:
            stores[g].place(expert, sizes[expert])
        groups_of.append(held_by)
        next_group += n
    return Placement(stores, groups_of, len(sizes))


def place_by_load(spec: PlacementInput) -> Placement:
    """Copies in proportion to load; experts share a group only when there are too few groups.

    With at least as many groups as experts (and every expert fitting a group's HBM cache alone),
    each copy gets a group of its own (:func:`dedicated_copies`): a group runs one expert batch at
    a time, so two experts on one group queue behind each other's batches, which balancing load
    alone does not see. Otherwise, packing:

    1. Each expert wants ``copies_wanted`` copies; a copy carries ``load / copies``.
    2. Primaries, heaviest copy first, each to the least-loaded group whose backing store has room
       (an expert no group has room for is not servable: its requests are rejected).
    3. Replicas, heaviest copy first, each to the least-loaded group that does not hold the expert
       yet and whose backing store *and* HBM expert cache still have room for it.

    Bound (checked by the property tests): when memory does not bind, no group's load exceeds the
    ideal (total / n_groups) by more than the heaviest copy (dedicated: a group carries one copy;
    packing: a list-scheduling argument), and a packed copy never carries more than the ideal.
    """
    dedicated = _place_dedicated(spec)
    if dedicated is not None:
        return dedicated
    n_groups, sizes, loads = spec.n_groups, list(spec.expert_bytes), list(spec.loads)
    copies = copies_wanted(loads, n_groups)
    per_copy = [load / c for load, c in zip(loads, copies, strict=True)]
    order = sorted(range(len(sizes)), key=lambda e: (-per_copy[e], e))
    groups = _Groups(n_groups, spec.backing_bytes)
    groups_of: list[list[int]] = [[] for _ in sizes]
    for e in order:
        g = groups.least_loaded(groups.used + sizes[e] <= groups.capacity * _SLACK)
        if g is not None:
            groups.put(g, e, sizes[e], per_copy[e])
            groups_of[e].append(g)
    room = min(spec.backing_bytes, spec.hbm_cache_bytes) * _SLACK
    for e in order:
        if not groups_of[e]:
            continue
        for _ in range(1, copies[e]):
            eligible = groups.used + sizes[e] <= room
            eligible[groups_of[e]] = False
            g = groups.least_loaded(eligible)
            if g is None:
                break
            groups.put(g, e, sizes[e], per_copy[e])
            groups_of[e].append(g)
    n_servable = sum(1 for g in groups_of if g)
    return Placement(groups.stores, [tuple(g) for g in groups_of], n_servable)


PLACEMENTS.register("load_aware")(PlacementRule(place_by_load, uses_loads=True))


def group_loads(placement: Placement, loads: Sequence[float], n_groups: int) -> np.ndarray:
    """Each group's expected load when an expert's load splits evenly over its copies."""
    out = np.zeros(n_groups)
    for expert, held_by in enumerate(placement.groups_of):
        for g in held_by:
            out[g] += loads[expert] / len(held_by)
    return out
