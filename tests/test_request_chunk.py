"""RequestChunk: the request columns the stream yields and the router reads, without pandas."""

from __future__ import annotations

import numpy as np
import pytest

from sn40l_sim.workload.request_chunk import RequestChunk


def test_columns_by_name_in_order() -> None:
    chunk = RequestChunk.of(arrival_s=[0.0, 0.5, 1.0], prompt_tokens=np.array([3, 4, 5]),
                            category=["a", "bb", "a"])
    assert len(chunk) == 3 and not chunk.empty
    assert chunk.names == ["arrival_s", "prompt_tokens", "category"]
    assert "category" in chunk and "expert" not in chunk
    assert chunk["category"].dtype == object  # not a fixed-width '<U2' array
    head = chunk.head(2)
    assert len(head) == 2 and head["category"].tolist() == ["a", "bb"]
    assert np.shares_memory(head["prompt_tokens"], chunk["prompt_tokens"])
    frame = chunk.to_frame()
    assert list(frame.columns) == chunk.names and frame["prompt_tokens"].tolist() == [3, 4, 5]


def test_columns_must_have_one_length() -> None:
    with pytest.raises(ValueError, match="different lengths"):
        RequestChunk.of(arrival_s=[0.0, 1.0], prompt_tokens=[1])
    assert RequestChunk({}).empty and len(RequestChunk.of(arrival_s=[])) == 0
