"""Streams per-request and per-event records to Parquet while the simulation runs.

Requests live in blocks (one per workload chunk); when a block's last request ends, its rows are
written as one Parquet row group and the block is dropped, so memory stays flat however long the
trace. Events (switches, batch iterations) are buffered and flushed in row groups.

Each flush is its own small, complete Parquet file in ``<name>.parts/`` (written under a temporary
name and renamed), and closing joins the parts into ``<name>`` and removes them. A Parquet file is
readable only once its footer is written, so this is what keeps a run killed with SIGKILL (an OOM
killer, a batch scheduler) readable up to its last flush: ``pyarrow.parquet.read_table`` of the
``.parts`` folder gives every row written so far, and ``summary.json`` says ``"complete": false``.

Tables are built from numpy arrays straight into Arrow buffers (:mod:`.arrow_buffers`) with the
schemas of :mod:`.result_schemas`; pandas is never imported.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sn40l_sim.metrics import arrow_buffers as ab
from sn40l_sim.metrics.event_rows import EventRows
from sn40l_sim.metrics.result_schemas import events_schema, requests_schema
from sn40l_sim.state.request_blocks import COMPLETED, OUTCOMES, RequestBlock

EVENT_FLUSH_ROWS = 50_000
PARTS_SUFFIX = ".parts"  # <name>.parts/part-000000.parquet, ... while a run is writing
# A file's parts are also kept in memory while they all fit this size, so that closing a run of
# up to about 100,000 requests (coe) joins them without reading any back (a quarter of close's
# CPU). A longer run drops them when they outgrow it and reads every part back: its memory stays
# about what it was (a million requests: 438 MiB peak RSS, 407 keeping none, 476 keeping the first
# 32 MiB to the end).
KEPT_PART_BYTES = 48 << 20


_OUTCOME_TEXT = ab.Vocabulary([OUTCOMES[code] for code in sorted(OUTCOMES)])


class _ParquetStream:
    """A Parquet file written as complete part files, joined into place on close."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.parts_dir = path.with_name(path.name + PARTS_SUFFIX)
        self.parts: list[Path] = []
        self.kept: list[pa.Table] = []  # every part as written, while they all fit the budget
        self.kept_bytes = 0
        self.keeping = True
        self.n_rows = 0

    def write_table(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if not self.parts:
            self.parts_dir.mkdir(exist_ok=True)
        part = self.parts_dir / f"part-{len(self.parts):06d}.parquet"
        tmp = part.with_name(part.name + ".partial")
        # Plain pages without statistics: a part is read once, when joined, and the joined file
        # is the one encoded (dictionaries, statistics, zstd).
        pq.write_table(table, tmp, compression="none", use_dictionary=False, write_statistics=False)
        os.replace(tmp, part)  # a part is either absent or complete
        if self.keeping:
            self.kept_bytes += table.nbytes
            self.kept.append(table)
            if self.kept_bytes > KEPT_PART_BYTES:  # a long run: read every part back at the end
                self.keeping, self.kept = False, []
        self.parts.append(part)
        self.n_rows += table.num_rows

    def close(self, empty_schema: pa.Schema) -> None:
        tmp = self.path.with_name(self.path.name + ".partial")
        if not self.parts:  # nothing at all: an empty file with the schema
            empty = [ab.empty(field.type) for field in empty_schema]
            pq.write_table(pa.Table.from_arrays(empty, schema=empty_schema), tmp)
        else:
            first = self._part(0)
            # Dictionaries on the text columns only: times and byte counts are nearly all
            # distinct, and trying a dictionary on them (pyarrow's default) cost a third of the
            # join's CPU and made the files larger.
            with pq.ParquetWriter(tmp, first.schema, compression="zstd",
                                  use_dictionary=ab.text_columns(first.schema)) as writer:
                writer.write_table(first)
                for i in range(1, len(self.parts)):
                    writer.write_table(self._part(i))
            self.kept = []
        os.replace(tmp, self.path)
        shutil.rmtree(self.parts_dir, ignore_errors=True)

    def _part(self, i: int) -> pa.Table:
        """Part ``i``: the table kept in memory, or read back (one thread: less CPU in all)."""
        if i < len(self.kept):
            return self.kept[i]
        return pq.ParquetFile(self.parts[i]).read(use_threads=False)


class _EventBuffer:
    """Event rows (:mod:`~sn40l_sim.metrics.event_rows`) flushed to a stream in row groups."""

    def __init__(self, stream: _ParquetStream, expert_names: np.ndarray, *,
                 speculative: bool = False) -> None:
        self.stream = stream
        self.pending = EventRows(expert_names.tolist(), speculative=speculative)
        self.speculative = speculative
        self.schema = events_schema(speculative=speculative)

    def table(self) -> pa.Table:
        """The buffered rows as an Arrow table (columns built in bulk by :class:`EventRows`)."""
        columns = self.pending.columns()
        return pa.Table.from_arrays([columns[name] for name in self.schema.names], schema=self.schema)

    def flush(self) -> None:
        if len(self.pending):
            self.stream.write_table(self.table())


class Recorder:
    """Collects the outcome of every request and every switch/batch event of one run."""

    def __init__(self, out_dir: Path, expert_names: Sequence[str], expert_params: Sequence[float],
                 router_params: float, on_progress: Callable[[int], None] | None = None, *,
                 speculative: bool = False) -> None:
        """``speculative``: events.parquet gets the draft and verify time of each iteration."""
        self.out_dir = out_dir
        self.expert_names = np.asarray(expert_names, dtype=object)
        self.expert_text = ab.Vocabulary(self.expert_names.tolist())
        self.expert_params = np.asarray(expert_params, dtype=np.float64)
        self.router_params = router_params
        self.requests = _ParquetStream(out_dir / "requests.parquet")
        self.events = _EventBuffer(_ParquetStream(out_dir / "events.parquet"), self.expert_names,
                                   speculative=speculative)
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

    def complete(self, block: RequestBlock, i: int, last_token_s: float, end_s: float) -> None:
        """A request's last token came at ``last_token_s``; it completes at ``end_s`` (after the
        serving stack's end-of-request work)."""
        block.complete(i, last_token_s, end_s)
        self.n_completed += 1
        self.last_end_s = max(self.last_end_s, end_s)
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
        self.requests.write_table(self.block_table(block))
        self.open_blocks.pop(block.first_id, None)

    def block_table(self, b: RequestBlock) -> pa.Table:
        """The requests.parquet rows of one block (see docs/metrics.md for each column).

        Float columns are stored as the earlier DataFrame route stored them: NaN as null."""
        out = b.output_arrays()
        end_s, first_token_s, routed_s = out["end_s"], out["first_token_s"], out["routed_s"]
        last_token_s = out["last_token_s"]
        completed = out["outcome"] == COMPLETED
        decode_steps = np.maximum(b.output_tokens - 1, 1)
        tpot = np.where(completed & (b.output_tokens > 1), (last_token_s - first_token_s) / decode_steps,
                        np.nan)
        e2e = np.where(completed, end_s - b.arrival_s, np.nan)
        switch_wait = np.where(completed, out["switch_wait_s"], np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            switch_share = np.where(e2e > 0, switch_wait / e2e, np.nan)
        columns = {
            "request_id": np.arange(b.first_id, b.first_id + b.n, dtype=np.int64),
            "arrival_s": b.arrival_s,
            "category": ab.text(b.category.tolist()),
            "expert": self.expert_text.take(b.expert),
            "fallback": ab.booleans(b.fallback),
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
            "last_token_s": last_token_s,
            "end_s": end_s,
            "active_params": self.expert_params[b.expert] + self.router_params,
            "outcome": _OUTCOME_TEXT.take(out["outcome"]),
            "reason": ab.text(b.reason),
        }
        return pa.Table.from_arrays(
            [values if isinstance(values, pa.Array) else ab.numbers(values, nan_as_null=True)
             for values in columns.values()], schema=requests_schema())

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

    def speculative_times(self, draft_s: float, verify_s: float) -> None:
        """The draft and verify time of the iteration whose row the group records next."""
        spec = self.events.pending.speculative
        if spec is not None:
            spec[len(self._event_rows)] = (draft_s, verify_s)

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
                self.requests.write_table(self.block_table(block).slice(0, keep))
                self.open_blocks.pop(block.first_id)
        self.events.flush()
        self.requests.close(requests_schema())
        self.events.stream.close(events_schema(empty=True, speculative=self.events.speculative))
