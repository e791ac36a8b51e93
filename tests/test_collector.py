"""The run's garbage-collector settings are the run's own: a caller's process is left as it was."""

from __future__ import annotations

import gc
import weakref

import pytest

from sn40l_sim.engine.collector import RUN_THRESHOLDS, quiet_collector


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_settings_inside_and_restored_after() -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    with quiet_collector():
        assert gc.get_threshold() == RUN_THRESHOLDS
        assert gc.get_freeze_count() > 0  # what existed before the run is left out of passes
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_restored_after_an_error() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), quiet_collector():
        raise RuntimeError("the run failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_callers_frozen_objects_stay_as_they_were() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with quiet_collector():
            # Nothing more frozen (it could not be undone); frozen objects may still be freed.
            assert gc.get_freeze_count() <= frozen
            assert gc.get_threshold() == RUN_THRESHOLDS
        assert 0 < gc.get_freeze_count() <= frozen  # and the caller's stay frozen
    finally:
        gc.unfreeze()


def test_overlapping_runs_restore_once_the_last_ends() -> None:
    before = gc.get_threshold()
    with quiet_collector():
        with quiet_collector():  # e.g. a second run in another thread
            pass
        assert gc.get_threshold() == RUN_THRESHOLDS  # the first run is still going
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cycles_made_during_the_run_are_still_collected() -> None:
    with quiet_collector():
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        probe = weakref.ref(a)
        del a, b
        assert probe() is not None  # a cycle: reference counting alone does not free it
        # More new container objects than the young threshold: the collector runs by itself
        # (it is tuned, not disabled) and frees the run's young cycle.
        keep = [[] for _ in range(RUN_THRESHOLDS[0] + 1_000)]
        assert probe() is None
        del keep
