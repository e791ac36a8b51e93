"""Event rows (batch iterations, router steps, switches) as tuples of numbers until written.

A run records about three events per request, so the row is the hottest record the engine
makes. A row is a 7-tuple of numbers, ``(group, expert, phase code, start_s, end_s, n_batch,
n_steps)``, appended in one call; a switch keeps its three extra fields (link, bytes, queued
time) beside, by row number. At a flush the tuples become one 2-D float64 array in one pass,
and each text column is gathered from its few distinct strings by code
(:class:`~sn40l_sim.metrics.arrow_buffers.Vocabulary`), so no Python string is touched per row.
Every number is exact in float64: times are floats already, and the small integers (group,
expert index, batch size, steps) are far below 2**53.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from itertools import chain

import numpy as np
import pyarrow as pa

from sn40l_sim.metrics.arrow_buffers import Vocabulary, numbers


class Phase(IntEnum):
    """What an event row records: a batch iteration, a router step or an expert's copy."""

    ITERATION = 0
    ROUTER = 1
    COPY = 2


PHASES = tuple(p.name.lower() for p in Phase)  # phase code -> name
# Plain ints for the rows (an enum member per row would cost an attribute look-up and a wider
# object in every tuple the flush converts).
ITERATION, ROUTER, COPY = int(Phase.ITERATION), int(Phase.ROUTER), int(Phase.COPY)
ROUTER_EXPERT = -1  # the expert index of a router step

EventRow = tuple[int, int, int, float, float, int, int]
_KINDS = Vocabulary(["batch", "switch"])
_PHASES = Vocabulary(PHASES)


class EventRows:
    """Buffered event rows of one run, in the order they were recorded."""

    __slots__ = ("_link_codes", "_links", "_names", "rows", "switches")

    def __init__(self, expert_names: Sequence[str]) -> None:
        self.rows: list[EventRow] = []
        self.switches: dict[int, tuple[int, float, float]] = {}  # row -> (link code, bytes, queued_s)
        self._links: list[str] = [""]  # link code -> name; "" for rows that are not switches
        self._link_codes: dict[str, int] = {"": 0}
        # Expert index -> name; the router (index -1) is the last entry.
        self._names = Vocabulary([*expert_names, "router"])

    def __len__(self) -> int:
        return len(self.rows)

    def switch(self, group: int, expert: int, link: str, n_bytes: float, queued_s: float,
               start_s: float, end_s: float) -> None:
        code = self._link_codes.get(link)
        if code is None:
            code = self._link_codes[link] = len(self._links)
            self._links.append(link)
        self.switches[len(self.rows)] = (code, n_bytes, queued_s)
        self.rows.append((group, expert, COPY, start_s, end_s, 0, 0))

    def columns(self) -> dict[str, pa.Array]:
        """The buffered rows as events.parquet's columns (Arrow arrays; text as large strings);
        the buffer is cleared."""
        n = len(self.rows)
        # Flattened in C and read in one pass: faster than np.array's nested-sequence discovery.
        table = np.fromiter(chain.from_iterable(self.rows), dtype=np.float64, count=7 * n).reshape(n, 7)
        phase = table[:, 2].astype(np.int64)
        start_s = table[:, 3]
        link = np.zeros(n, dtype=np.int64)
        n_bytes = np.zeros(n, dtype=np.float64)
        queued_s = start_s.copy()  # a batch step is queued when it starts
        if self.switches:
            where = np.fromiter(self.switches.keys(), dtype=np.int64, count=len(self.switches))
            extra = np.array(list(self.switches.values()), dtype=np.float64).reshape(-1, 3)
            link[where] = extra[:, 0].astype(np.int64)
            n_bytes[where] = extra[:, 1]
            queued_s[where] = extra[:, 2]
        expert = table[:, 1].astype(np.int64)
        expert[expert < 0] += len(self._names)  # -1: the router, the last name
        columns = {
            "kind": _KINDS.take((phase == COPY).astype(np.int64)),
            "group": numbers(table[:, 0].astype(np.int64)),
            "expert": self._names.take(expert),
            "phase": _PHASES.take(phase),
            "link": Vocabulary(self._links).take(link),
            "bytes": numbers(n_bytes),
            "queued_s": numbers(queued_s),
            "start_s": numbers(start_s),
            "end_s": numbers(table[:, 4]),
            "n_batch": numbers(table[:, 5].astype(np.int64)),
            "n_steps": numbers(table[:, 6].astype(np.int64)),
        }
        self.rows.clear()  # in place: the recorder appends to this very list
        self.switches.clear()
        return columns

