"""Python's cyclic garbage collector, tuned for the length of one run.

The engine allocates millions of small objects (SimPy events, batch members, event rows) that
reference counting frees; almost nothing it makes is cyclic garbage. The cyclic collector still
runs a full pass over every tracked object each time enough allocations pile up, and most of
those objects are what was loaded before the run (pandas, pyarrow, the scenario, the step-cost
tables): on the ``coe`` benchmark the collector took about 12 % of the run's CPU time, most of it in
full passes (``benchmarks/speed.py``, docs/benchmark.md). During a run this freezes what already
exists (``gc.freeze``: those objects are left out of every pass) and collects young objects less
often; both are put back when the run ends, so a caller's process is left as it was.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

RUN_THRESHOLDS = (50_000, 20, 20)  # objects before a young pass; young passes per middle pass, ...

class _Runs:
    """The runs inside :func:`quiet_collector` now (threads, or a run started inside a run) and
    the settings the first of them found."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.thresholds: tuple[int, int, int] = gc.get_threshold()
        self.froze = False


_RUNS = _Runs()


@contextmanager
def quiet_collector() -> Iterator[None]:
    """Freeze the objects that exist now and raise the collection thresholds until the block ends.

    Cyclic garbage is still collected, only less often; nothing is disabled. The first of
    overlapping runs saves the settings and the last one restores them. If the caller had frozen
    objects already, nothing more is frozen (the collector cannot unfreeze only some), so the
    caller's process is left exactly as it was.
    """
    runs = _RUNS
    with runs.lock:
        if runs.active == 0:
            runs.thresholds = gc.get_threshold()
            runs.froze = gc.get_freeze_count() == 0
            if runs.froze:
                gc.freeze()
            gc.set_threshold(*RUN_THRESHOLDS)
        runs.active += 1
    try:
        yield
    finally:
        with runs.lock:
            runs.active -= 1
            if runs.active == 0:
                gc.set_threshold(*runs.thresholds)
                if runs.froze:
                    gc.unfreeze()
