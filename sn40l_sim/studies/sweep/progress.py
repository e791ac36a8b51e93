"""The sweep's progress bar: points done of (an upper bound on) points planned, and time left.

SLO searches do not know in advance how many probes they need, so the total is an upper bound
that shrinks as searches end. Points skipped because an earlier run finished them count as done
but are kept out of the speed estimate, so the time left reflects points actually simulated.
"""

from __future__ import annotations

import time
from typing import Any


class SweepProgress:
    def __init__(self, total: int, enabled: bool) -> None:
        self.enabled = enabled
        self.total = total
        self.n_done = 0
        self.n_skipped = 0
        self.started = time.perf_counter()
        self.bar: Any = None
        self.task: Any = None
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.bar = Progress(TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("points"), TextColumn("{task.fields[eta]}"),
                                transient=False)
            self.bar.start()
            self.task = self.bar.add_task("sweep", total=total, eta="")

    def _eta(self) -> str:
        ran = self.n_done - self.n_skipped
        if ran <= 0:
            return "time left: estimating"
        per_point_s = (time.perf_counter() - self.started) / ran
        left_s = per_point_s * max(self.total - self.n_done, 0)
        minutes, seconds = divmod(round(left_s), 60)
        return f"time left: at most {minutes}:{seconds:02d}"

    def advance(self, *, skipped: bool = False) -> None:
        self.n_done += 1
        if skipped:
            self.n_skipped += 1
            self.started = time.perf_counter()  # skipped points cost nothing: restart the clock
        if self.bar is not None:
            self.bar.update(self.task, completed=self.n_done, eta=self._eta())

    def set_total(self, total: int) -> None:
        self.total = max(total, self.n_done)
        if self.bar is not None:
            self.bar.update(self.task, total=self.total, eta=self._eta())

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
