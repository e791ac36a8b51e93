"""Whether a run was overloaded: its backlog (requests arrived but not yet finished) grew through
the arrivals instead of settling. An overloaded run's latency and cost depend on how long the trace
is, not on the fleet, so its summary must say so rather than report a cheap-looking cost.

The backlog is counted at each quarter of the arrival window (first to last arrival). The run is
overloaded when the backlog at the last arrival is at least ``MIN_BACKLOG`` requests and at least
``GROWTH`` times the backlog at half the window, and did not fall from one quarter to the next
after that: a queue that grows all run long, not a burst that drains.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

MIN_BACKLOG = 10  # requests: a few waiting requests are ordinary batching, not overload
GROWTH = 2.0  # the second half of the arrivals at least doubled the backlog


@dataclass(frozen=True)
class Backlog:
    """Backlog at the quarters of the arrival window, and the verdict."""

    at_quarters: tuple[int, int, int, int]  # at 1/4, 1/2, 3/4 and the end of the arrivals
    overloaded: bool

    def warning(self) -> str:
        q1, half, q3, end = self.at_quarters
        return (f"overloaded: the backlog grew through the run ({q1:,} / {half:,} / {q3:,} / {end:,} "
                "requests waiting or running at each quarter of the arrivals); latency and cost "
                "depend on the trace's length, not on the fleet: add nodes or lower the rate")


def backlog(arrival_s: np.ndarray, end_s: np.ndarray) -> Backlog:
    """The backlog of a run from its requests' arrival and end times (NaN end: never finished)."""
    if len(arrival_s) < 2:
        return Backlog((0, 0, 0, 0), False)
    first, last = float(np.nanmin(arrival_s)), float(np.nanmax(arrival_s))
    arrivals = np.sort(arrival_s)
    ends = np.sort(np.where(np.isnan(end_s), np.inf, end_s))
    times = first + (last - first) * np.array([0.25, 0.5, 0.75, 1.0])
    counts = (np.searchsorted(arrivals, times, side="right")
              - np.searchsorted(ends, times, side="right"))
    q = tuple(int(c) for c in counts)
    growing = all(b >= a for a, b in itertools.pairwise(q[1:]))  # from half the window on
    overloaded = q[3] >= MIN_BACKLOG and q[3] >= GROWTH * max(q[1], 1) and growing
    return Backlog((q[0], q[1], q[2], q[3]), overloaded)
