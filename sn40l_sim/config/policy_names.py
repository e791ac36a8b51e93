"""The scheduler, eviction and placement names a scenario may give, checked while the scenario is resolved.

Config sits below ``policy`` in the layers, so it holds the names as data rather than asking the
policy registries; a test keeps this list and the registries equal, so a new policy that is
registered but not named here (or the reverse) fails CI instead of a user's run.
"""

from __future__ import annotations

import difflib

from sn40l_sim.errors import InputError

SCHEDULER_NAMES: tuple[str, ...] = ("expert_affinity", "fcfs", "paper_batch")
EVICTION_NAMES: tuple[str, ...] = ("lfu", "lru", "pinned")
PLACEMENT_NAMES: tuple[str, ...] = ("load_aware", "uniform")


def check_name(known: tuple[str, ...], value: object, kind: str) -> None:
    """Raise an :class:`InputError` naming the closest known name when ``value`` is not known."""
    if value in known:
        return
    close = difflib.get_close_matches(str(value), known, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise InputError(f"unknown {kind} {value!r}{hint} (known: {', '.join(known)})")
