"""SLO search: bisection for the fewest (or most) of something that still meets a target.

A state machine, so the sweep driver can run the searches of many grid combinations side by side
on one pool: ``next_value()`` says what to simulate next (None when done), ``record()`` takes the
verdict. It assumes the verdict is monotone in the searched value (see :class:`SearchConfig`); if
it is not, the answer is *a* boundary between a failing and a passing value, not necessarily the
first one, and the probes table shows every verdict so this can be seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sn40l_sim.studies.sweep.spec import SearchConfig


@dataclass
class SearchOutcome:
    """What a finished search found.

    ``status``: ``found`` (a boundary inside the range), ``at_bound`` (the easiest end of the range
    already meets the SLO: the true answer may lie beyond it) or ``none`` (even the best end of the
    range fails; ``answer`` is None).
    """

    answer: float | None
    status: str
    probes: list[tuple[float, bool]] = field(default_factory=list)


class Bisection:
    """Bisection over ``search``'s range; one probe outstanding at a time."""

    def __init__(self, search: SearchConfig) -> None:
        self.search = search
        self.minimise = search.goal == "min"
        self.discrete = search.values is not None or search.is_integer
        if search.values is not None:
            self._lo: float = 0
            self._hi: float = len(search.values) - 1
        else:
            self._lo, self._hi = float(search.low), float(search.high)  # type: ignore[arg-type]
            if search.is_integer:
                self._lo, self._hi = int(self._lo), int(self._hi)
        self._lo0, self._hi0 = self._lo, self._hi  # the initial bracket, for progress estimates
        self.probes: list[tuple[float, bool]] = []
        self._stage = "best_end"  # best_end -> worst_end -> bisect -> done
        self._pending: float | None = None
        self.outcome: SearchOutcome | None = None

    def initial_steps(self) -> float:
        """The initial bracket's width in positions (discrete) or in ``resolution`` steps: how
        many bisections the search may need, for progress estimates."""
        span = self._hi0 - self._lo0
        if self.discrete or self.search.resolution is None:
            return span
        return span / self.search.resolution

    def _value(self, position: float) -> float:
        if self.search.values is not None:
            return self.search.values[int(position)]
        return int(position) if self.search.is_integer else position

    def _best(self) -> float:
        """The end of the range most likely to meet the SLO."""
        return self._hi if self.minimise else self._lo

    def _worst(self) -> float:
        return self._lo if self.minimise else self._hi

    def _narrow_enough(self) -> bool:
        if self.discrete:
            return self._hi - self._lo <= 1
        return self._hi - self._lo <= self.search.resolution  # type: ignore[operator]

    def next_value(self) -> float | None:
        """The value to simulate next, or None when the search is over."""
        if self.outcome is not None:
            return None
        if self._stage == "best_end":
            self._pending = self._best()
        elif self._stage == "worst_end":
            self._pending = self._worst()
        else:
            mid = (self._lo + self._hi) // 2 if self.discrete else (self._lo + self._hi) / 2
            self._pending = mid
        return self._value(self._pending)

    def record(self, value: float, ok: bool) -> None:
        """Take the verdict on the value ``next_value`` returned."""
        if self._pending is None or self._value(self._pending) != value:
            raise ValueError(f"verdict for {value!r}, but {self._pending!r} was asked for")
        self.probes.append((value, ok))
        position, self._pending = self._pending, None
        if self._stage == "best_end":
            if not ok:
                self.outcome = SearchOutcome(None, "none", self.probes)
            elif self._lo == self._hi:
                self.outcome = SearchOutcome(value, "at_bound", self.probes)
            else:
                self._stage = "worst_end"
            return
        if self._stage == "worst_end":
            if ok:
                self.outcome = SearchOutcome(value, "at_bound", self.probes)
                return
            self._stage = "bisect"
        else:  # the passing side moves towards the failing one
            passing_is_high = self.minimise
            if ok == passing_is_high:
                self._hi = position
            else:
                self._lo = position
        if self._narrow_enough():
            answer = self._hi if self.minimise else self._lo
            self.outcome = SearchOutcome(self._value(answer), "found", self.probes)
