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
from collections.abc import Iterator
from contextlib import contextmanager

RUN_THRESHOLDS = (50_000, 20, 20)  # objects before a young pass; young passes per middle pass, ...


@contextmanager
def quiet_collector() -> Iterator[None]:
    """Freeze the objects that exist now and raise the collection thresholds until the block ends.

    Cyclic garbage is still collected, only less often; nothing is disabled. Only what this call
    froze is unfrozen: if the caller had frozen objects before, they stay frozen.
    """
    thresholds = gc.get_threshold()
    already_frozen = gc.get_freeze_count()
    gc.freeze()
    gc.set_threshold(*RUN_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if already_frozen == 0:
            gc.unfreeze()
