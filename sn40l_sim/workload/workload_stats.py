"""What a run's request stream counted while it was read (``summary.json``'s ``workload``).

Its own module, apart from the trace readers: a generated workload and the run summary need the
counts but not the readers, which import pandas (its CSV parser).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass
class WorkloadStats:
    """Counts a run should report about its request stream (updated while it is read)."""

    n_requests: int = 0
    n_bad_rows_skipped: int = 0
    n_zero_prompt_clipped: int = 0
    n_zero_output_clipped: int = 0
    n_trace_passes: int = 0
    # the first few skipped rows, as "file:line: why"
    skipped_examples: list[str] = dataclasses.field(default_factory=list)

    def skipped(self, where: str, why: str, n: int = 1) -> None:
        self.n_bad_rows_skipped += n
        if len(self.skipped_examples) < 5:
            self.skipped_examples.append(f"{where}: {why}")
