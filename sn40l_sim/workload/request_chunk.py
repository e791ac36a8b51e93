"""A chunk of requests as named numpy columns: what the request stream yields and the router reads.

A DataFrame would do the same job, but pandas costs about a quarter of a CPU second to import,
as much as the rest of a small run's start-up; the engine only ever needs whole columns, so a
mapping of equally long arrays is enough. :meth:`RequestChunk.to_frame` gives the DataFrame
(importing pandas then) for tests and notebooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True, slots=True)
class RequestChunk:
    """Equally long columns by name, in column order (``arrival_s`` float64 seconds, token counts
    int64, labels and prompt texts as object arrays of str)."""

    columns: Mapping[str, np.ndarray]

    def __post_init__(self) -> None:
        lengths = {len(values) for values in self.columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of different lengths: {sorted(lengths)}")

    @classmethod
    def of(cls, **columns: object) -> RequestChunk:
        """A chunk from array-likes (lists of str become object arrays, not fixed-width '<U')."""
        return cls({name: _array(values) for name, values in columns.items()})

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @property
    def names(self) -> list[str]:
        """Column names in order."""
        return list(self.columns)

    @property
    def empty(self) -> bool:
        return len(self) == 0

    def head(self, n: int) -> RequestChunk:
        """The first ``n`` rows (views, no copies)."""
        return RequestChunk({name: values[:n] for name, values in self.columns.items()})

    def to_frame(self) -> pd.DataFrame:
        """The chunk as a DataFrame (imports pandas)."""
        import pandas as pd

        return pd.DataFrame(dict(self.columns))


def _array(values: object) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind == "U":
        return array.astype(object)
    return array
