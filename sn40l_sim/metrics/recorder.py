"""Streams per-request and per-event records to Parquet while the simulation runs.

Requests live in blocks (one per workload chunk); when a block's last request ends, its rows are
written as one Parquet row group and the block is dropped, so memory stays flat however long the
trace. Events (switches, batch iterations) are buffered and flushed in row groups.

Each flush is its own small, complete Parquet file in ``<name>.parts/`` (written under a temporary
name and renamed), and closing joins the parts into ``<name>`` and removes them. A Parquet file is
readable only once its footer is written, so this is what keeps a run killed with SIGKILL (an OOM
killer, a batch scheduler) readable up to its last flush: ``pyarrow.parquet.read_table`` of the
``.parts`` folder gives every row written so far, and ``summary.json`` says ``"complete": false``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sn40l_sim.metrics.event_rows import EventRows
from sn40l_sim.state.request_blocks import COMPLETED, OUTCOMES, RequestBlock

EVENT_FLUSH_ROWS = 50_000
PARTS_SUFFIX = ".parts"  # <name>.parts/part-000000.parquet, ... while a run is writing


class _ParquetStream:
    """A Parquet file written as complete part files, joined into place on close."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.parts_dir = path.with_name(path.name + PARTS_SUFFIX)
        self.parts: list[Path] = []
        self.n_rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        self.write_table(pa.Table.from_pandas(frame, preserve_index=False))

    def write_table(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if not self.parts:
            self.parts_dir.mkdir(exist_ok=True)
        part = self.parts_dir / f"part-{len(self.parts):06d}.parquet"
        tmp = part.with_name(part.name + ".partial")
        # Plain pages without statistics: a part is read once, when joined, and the joined file is
        # the one encoded (dictionaries, statistics, zstd); about 3x faster to write.
        pq.write_table(table, tmp, compression="none", use_dictionary=False, write_statistics=False)
        os.replace(tmp, part)  # a part is either absent or complete
        self.parts.append(part)
        self.n_rows += table.num_rows

    def close(self, empty_schema: pd.DataFrame) -> None:
        tmp = self.path.with_name(self.path.name + ".partial")
        if not self.parts:  # nothing at all: an empty file with the schema
            pq.write_table(pa.Table.from_pandas(empty_schema, preserve_index=False), tmp)
        else:
            first = pq.read_table(self.parts[0])
            with pq.ParquetWriter(tmp, first.schema, compression="zstd") as writer:
                writer.write_table(first)
                for part in self.parts[1:]:
                    writer.write_table(pq.read_table(part))
        os.replace(tmp, self.path)
        shutil.rmtree(self.parts_dir, ignore_errors=True)


class _EventBuffer:
    """Event rows (:mod:`~sn40l_sim.metrics.event_rows`) flushed to a stream in row groups."""

    def __init__(self, stream: _ParquetStream, expert_names: np.ndarray) -> None:
        self.stream = stream
        self.pending = EventRows(expert_names.tolist())
        self.schema: pa.Schema | None = None

    @staticmethod
    def frame(columns: dict[str, np.ndarray | pa.Array]) -> pd.DataFrame:
        """Columns as a DataFrame: numbers typed, text as lists of str (pandas infers its type)."""
        return pd.DataFrame({name: values.to_pylist() if isinstance(values, pa.Array) else values
                             for name, values in columns.items()}, columns=list(EVENT_COLUMNS))

    def table(self) -> pa.Table:
        """The buffered rows as an Arrow table with the schema (pandas metadata included) that the
        DataFrame route gives, built column by column in Arrow; the schema is taken once, from the
        DataFrame of the first row."""
        columns = self.pending.columns()
        if self.schema is None:
            first = self.frame({name: values[:1] for name, values in columns.items()})
            self.schema = pa.Table.from_pandas(first, preserve_index=False).schema
        arrays = []
        for name in EVENT_COLUMNS:
            values, kind = columns[name], self.schema.field(name).type
            arrays.append(values.cast(kind) if isinstance(values, pa.Array) else pa.array(values, type=kind))
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def flush(self) -> None:
        if len(self.pending):
            self.stream.write_table(self.table())


EVENT_COLUMNS = ("kind", "group", "expert", "phase", "link", "bytes", "queued_s", "start_s",
                 "end_s", "n_batch", "n_steps")


class Recorder:
    """Collects the outcome of every request and every switch/batch event of one run."""

    def __init__(self, out_dir: Path, expert_names: Sequence[str], expert_params: Sequence[float],
                 router_params: float, on_progress: Callable[[int], None] | None = None) -> None:
        self.out_dir = out_dir
        self.expert_names = np.asarray(expert_names, dtype=object)
        self.expert_params = np.asarray(expert_params, dtype=np.float64)
        self.router_params = router_params
        self.requests = _ParquetStream(out_dir / "requests.parquet")
        self.events = _EventBuffer(_ParquetStream(out_dir / "events.parquet"), self.expert_names)
        self._event_rows = self.events.pending.rows  # cleared in place at each flush
        self.on_progress = on_progress
        self.open_blocks: dict[int, RequestBlock] = {}
        self.n_done = 0
        self.n_completed = 0
        self.n_rejected = 0
        self.n_switches = 0
        self.switch_bytes = 0.0
        self.switch_time_s = 0.0
        self.hbm_hits = 0
        self.hbm_misses = 0
        self.n_batches = 0
        self.last_end_s = 0.0

    # --- requests -------------------------------------------------------------------------
    def open_block(self, block: RequestBlock) -> None:
        self.open_blocks[block.first_id] = block
        if block.n_open == 0:
            self._close_block(block)

    def complete(self, block: RequestBlock, i: int, now_s: float) -> None:
        block.complete(i, now_s)
        self.n_completed += 1
        self.last_end_s = max(self.last_end_s, now_s)
        self._ended(block)

    def reject(self, block: RequestBlock, i: int, now_s: float, reason: str) -> None:
        block.reject(i, now_s, reason)
        self.n_rejected += 1
        self._ended(block)

    def _ended(self, block: RequestBlock) -> None:
        self.n_done += 1
        if self.on_progress is not None and self.n_done % 2048 == 0:
            self.on_progress(self.n_done)
        if block.n_open == 0:
            self._close_block(block)

    def _close_block(self, block: RequestBlock) -> None:
        self.requests.write(self.block_frame(block))
        self.open_blocks.pop(block.first_id, None)

    def block_frame(self, b: RequestBlock) -> pd.DataFrame:
        """The requests.parquet rows of one block (see docs/metrics.md for each column)."""
        out = b.output_arrays()
        end_s, first_token_s, routed_s = out["end_s"], out["first_token_s"], out["routed_s"]
        completed = out["outcome"] == COMPLETED
        decode_steps = np.maximum(b.output_tokens - 1, 1)
        tpot = np.where(completed & (b.output_tokens > 1), (end_s - first_token_s) / decode_steps,
                        np.nan)
        e2e = np.where(completed, end_s - b.arrival_s, np.nan)
        switch_wait = np.where(completed, out["switch_wait_s"], np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            switch_share = np.where(e2e > 0, switch_wait / e2e, np.nan)
        return pd.DataFrame({
            "request_id": np.arange(b.first_id, b.first_id + b.n, dtype=np.int64),
            "arrival_s": b.arrival_s,
            "category": pd.array(b.category, dtype="string"),
            "expert": pd.array(self.expert_names[b.expert], dtype="string"),
            "fallback": b.fallback,
            "group": b.group,
            "prompt_tokens": b.prompt_tokens,
            "output_tokens": b.output_tokens,
            "router_s": routed_s - b.arrival_s,
            "queue_wait_s": out["start_s"] - routed_s - out["switch_wait_s"],
            "switch_wait_s": switch_wait,
            "switch_share": switch_share,
            "ttft_s": first_token_s - b.arrival_s,
            "tpot_s": tpot,
            "e2e_latency_s": e2e,
            "end_s": end_s,
            "active_params": self.expert_params[b.expert] + self.router_params,
            "outcome": pd.array([OUTCOMES[o] for o in b.outcome], dtype="string"),
            "reason": pd.array(b.reason, dtype="string"),
        })

    # --- events ---------------------------------------------------------------------------
    def switch(self, group: int, expert: int, n_bytes: float, link: str, queued_s: float,
               start_s: float, end_s: float) -> None:
        self.n_switches += 1
        self.switch_bytes += n_bytes
        self.switch_time_s += end_s - start_s
        self.events.pending.switch(group, expert, link, n_bytes, queued_s, start_s, end_s)
        if len(self._event_rows) >= EVENT_FLUSH_ROWS:
            self.events.flush()

    def batch(self, group: int, expert: int, phase: int, start_s: float, end_s: float,
              n_batch: int, n_steps: int) -> None:
        """A batch iteration (``phase`` ITERATION) or router step (ROUTER, expert -1); the phase
        codes are :mod:`~sn40l_sim.metrics.event_rows`'s."""
        self.n_batches += 1
        rows = self._event_rows  # the hottest record: appended here, not through a second call
        rows.append((group, expert, phase, start_s, end_s, n_batch, n_steps))
        if len(rows) >= EVENT_FLUSH_ROWS:
            self.events.flush()

    def hbm_access(self, *, hit: bool) -> None:
        if hit:
            self.hbm_hits += 1
        else:
            self.hbm_misses += 1

    # --- end ------------------------------------------------------------------------------
    def close(self, n_arrived: int | None = None) -> None:
        """Write what is left (also after an interrupt) and move the files into place.

        After a stopped run, ``n_arrived`` (how many requests had arrived) leaves out the rows
        of requests that had not arrived yet; those that had are kept, unfinished ones as
        ``pending``.
        """
        for block in list(self.open_blocks.values()):
            if n_arrived is None or block.first_id + block.n <= n_arrived:
                self._close_block(block)
            else:
                keep = max(0, n_arrived - block.first_id)
                self.requests.write(self.block_frame(block).iloc[:keep])
                self.open_blocks.pop(block.first_id)
        self.events.flush()
        empty_requests = self.block_frame(_empty_block())
        self.requests.close(empty_requests)
        self.events.stream.close(pd.DataFrame({c: pd.Series(dtype=t) for c, t in _EVENT_DTYPES}))


_EVENT_DTYPES = (("kind", "string"), ("group", "int64"), ("expert", "string"), ("phase", "string"),
                 ("link", "string"), ("bytes", "float64"), ("queued_s", "float64"),
                 ("start_s", "float64"), ("end_s", "float64"), ("n_batch", "int64"),
                 ("n_steps", "int64"))


def _empty_block() -> RequestBlock:
    empty = np.zeros(0, dtype=np.int64)
    return RequestBlock(0, np.zeros(0), empty, empty, empty, np.zeros(0, dtype=object),
                        np.zeros(0, dtype=bool), empty)
