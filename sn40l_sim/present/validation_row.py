"""One row of the `sn40l-sim validate` table: a paper target or a measured value vs the simulator."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ValidationRow:
    """A checked quantity.

    ``reference`` is the paper's or the measurement's value as text (it may be a range such as
    ``"2-13x"``); ``reference_value`` its number (the range's midpoint, or None when not numeric);
    ``low``/``high`` the accepted band (None: not judged); ``ratio`` = simulated / reference_value.
    ``usage`` says whether any profile parameter was fitted on this row (``fit``, ``partly fit``
    for an aggregate of which some rows were fitted) or whether the row is a ``prediction``.
    """

    id: str
    quantity: str
    reference: str
    reference_value: float | None
    simulated: float
    low: float | None = None
    high: float | None = None
    unit: str = ""
    note: str = ""
    usage: str = "prediction"  # were profile parameters fitted on this row: fit | partly fit | prediction

    @property
    def ratio(self) -> float | None:
        if self.reference_value in (None, 0):
            return None
        return self.simulated / self.reference_value

    @property
    def passed(self) -> bool | None:
        """Inside the accepted band; None when the row has no band."""
        if self.low is None and self.high is None:
            return None
        lo = self.low if self.low is not None else float("-inf")
        hi = self.high if self.high is not None else float("inf")
        return lo <= self.simulated <= hi

    def to_json(self) -> dict[str, Any]:
        row = asdict(self)
        row["ratio"] = self.ratio
        row["passed"] = self.passed
        return row
