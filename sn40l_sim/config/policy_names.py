"""The scheduler, eviction and placement names a scenario may give, checked while the scenario is resolved.

Config sits below ``policy`` in the layers, so it holds the names as data rather than asking the
policy registries; a test keeps this list and the registries equal, so a new policy that is
registered but not named here (or the reverse) fails CI instead of a user's run.
"""

from __future__ import annotations

from sn40l_sim.errors import unknown_name_error

SCHEDULER_NAMES: tuple[str, ...] = ("expert_affinity", "fcfs", "paper_batch")
EVICTION_NAMES: tuple[str, ...] = ("lfu", "lru", "pinned")
PLACEMENT_NAMES: tuple[str, ...] = ("load_aware", "uniform")


def check_policy_name(known: tuple[str, ...], value: object, kind: str) -> None:
    """Raise the registries' own "unknown ... did you mean" error when ``value`` is not known."""
    if value not in known:
        raise unknown_name_error(kind, value, known)
