"""The policy registry: lookup by name, helpful errors for unknown names, no silent duplicates."""

from __future__ import annotations

import pytest

from sn40l_sim.errors import InputError
from sn40l_sim.policy.registry import Registry


def _registry() -> Registry[type]:
    reg: Registry[type] = Registry("scheduler")

    @reg.register("fcfs")
    class Fcfs:
        pass

    @reg.register("expert_affinity")
    class Affinity:
        pass

    return reg


def test_get_returns_the_registered_class_unchanged() -> None:
    reg = _registry()
    assert reg.get("fcfs").__name__ == "Fcfs"
    assert reg.names() == ["expert_affinity", "fcfs"]
    assert "fcfs" in reg and "lifo" not in reg
    assert len(reg) == 2


def test_duplicate_name_fails() -> None:
    reg = _registry()
    with pytest.raises(ValueError, match="scheduler 'fcfs' is already registered"):
        reg.register("fcfs")(type("Other", (), {}))
    assert reg.get("fcfs").__name__ == "Fcfs"


def test_unknown_name_suggests_the_closest_and_lists_all() -> None:
    with pytest.raises(InputError) as info:
        _registry().get("fcsf")
    message = str(info.value)
    assert "unknown scheduler 'fcsf'" in message
    assert "did you mean 'fcfs'?" in message
    assert "known: expert_affinity, fcfs" in message


def test_unknown_name_without_a_close_match_has_no_suggestion() -> None:
    with pytest.raises(InputError) as info:
        _registry().get("zzzzzz")
    assert "did you mean" not in str(info.value)
    assert "known: expert_affinity, fcfs" in str(info.value)


@pytest.mark.parametrize("name", ["", " fcfs"])
def test_blank_or_padded_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        Registry("scheduler").register(name)


def test_config_names_every_registered_policy() -> None:
    """config/policy_names.py (below policy) and the registries list the same names."""
    from sn40l_sim.config.policy_names import EVICTION_NAMES, PLACEMENT_NAMES, SCHEDULER_NAMES
    from sn40l_sim.policy.eviction import EVICTION_POLICIES
    from sn40l_sim.policy.placement_rules import PLACEMENTS
    from sn40l_sim.policy.scheduler import SCHEDULERS

    assert list(SCHEDULER_NAMES) == SCHEDULERS.names()
    assert list(EVICTION_NAMES) == EVICTION_POLICIES.names()
    assert list(PLACEMENT_NAMES) == PLACEMENTS.names()
