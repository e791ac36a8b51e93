"""Two small SimPy helpers that let the engine spend one event where it used to spend three.

``timeout_at`` wakes at an *absolute* simulated time, bit for bit (a copy that queued behind
another starts exactly when that one ends, as it did when the link was a ``simpy.Resource``).
``move_waiters`` re-points whoever waits on a scheduled event to another one: a decode run cut
short by a newcomer then costs one timeout at the step boundary, instead of a wake-up event, an
``AnyOf`` condition and a second timeout. Only the public ``Event.callbacks`` list is touched.
"""

from __future__ import annotations

import math

import simpy


def timeout_at(env: simpy.Environment, at_s: float) -> simpy.Timeout:
    """A timeout that fires at exactly ``at_s`` (SimPy schedules at ``now + delay``, and
    ``now + (at_s - now)`` can miss ``at_s`` by an ulp; the delay is nudged until it does not)."""
    now = env.now
    delay = at_s - now
    if delay < 0:
        raise ValueError(f"time {at_s!r} is in the past (now {now!r})")
    while now + delay > at_s:
        delay = math.nextafter(delay, -math.inf)
    while now + delay < at_s:
        delay = math.nextafter(delay, math.inf)
    return env.timeout(delay)


def move_waiters(old: simpy.Event, new: simpy.Event) -> None:
    """Whoever waits on ``old`` (not yet processed) is resumed by ``new`` instead; ``old`` still
    fires at its time, with nothing left to call."""
    assert old.callbacks is not None and new.callbacks is not None
    new.callbacks.extend(old.callbacks)
    old.callbacks.clear()
