"""What a run knows only while it runs, written to ``run_info.json`` so its summary can be recomputed.

Most of a summary comes from ``requests.parquet`` and ``events.parquet``; a few figures exist only in
live objects (the memory plan, peak HBM use, HBM hits, the workload reader's counts, wall time). The
runner records them here, next to the Parquet files, and :class:`RunSummary` reads them back, so
``sn40l-sim summarize RUN_DIR`` needs the folder and nothing else.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from sn40l_sim.errors import InputError
from sn40l_sim.safe_load import read_json

RUN_INFO = "run_info.json"


def doc(text: str) -> Any:
    """A dataclass field's description (``docs/metrics.md`` is tested against these)."""
    return field(metadata={"doc": text})


@dataclass(frozen=True, kw_only=True)
class MemoryUse:
    """Each memory's capacity and its peak use over the run (largest over groups), in bytes."""

    hbm_capacity_bytes_per_group: float = doc("one group's HBM: per-device capacity x `tensor_parallel`")
    router_bytes: float = doc("the router model's weights, always resident in each group's HBM")
    kv_reservation_bytes: float = doc("HBM set aside for KV at start (the floor; also the cap "
                                      "without `kv_growth`)")
    peak_hbm_used_bytes: float = doc("the run's peak HBM use, largest over groups (never above the "
                                     "capacity)")
    peak_kv_bytes: float = doc("the run's peak KV cache in HBM, largest over groups")
    backing_capacity_bytes_per_group: float = doc("one group's share of the backing store (DDR on "
                                                  "SN40L, host DRAM on DGX)")
    backing_used_bytes_max: float = doc("backing store the placed experts use, largest over groups")
    n_expert_replicas: int = doc("copies placed beyond the primaries (`serving.replicas`)")


@dataclass(frozen=True, kw_only=True)
class RunInfo:
    """The live-object figures of one run (see the module docstring)."""

    platform: str
    n_experts: int
    n_servable_experts: int
    expert_cache_bytes: float
    memory: MemoryUse
    hbm_hits: int
    hbm_misses: int
    workload: dict[str, Any]
    interrupted: bool
    wall_s: float
    # What the energy, cost and goodput figures need (metrics/economics.py); defaults for callers
    # that do not model them.
    n_nodes: int = 1
    n_devices_per_node: int = 1
    tensor_parallel: int = 1
    # Each serving group's TP degree when expert groups run at different degrees (None: every
    # group at ``tensor_parallel``): device-busy seconds weigh each batch by its group's degree.
    group_tensor_parallel: list[int] | None = None
    power_w: dict[str, float] | None = None  # device_idle/device_busy/node_idle/node_busy, watts
    node_usd_per_hour: float | None = None
    slo_ttft_s: float = 1.0
    slo_tbt_s: float = 0.1
    warnings: list[str] = field(default_factory=list)
    # Speculative decoding's totals over groups (None: plain decoding): n_tokens, n_sequence_steps,
    # draft_s, verify_s (see engine/serving_group.py's Speculation).
    speculative: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def read(cls, run_dir: Path) -> RunInfo:
        """The run info of a results folder; a folder without one (older runs) is an input error."""
        path = run_dir / RUN_INFO
        if not path.exists() and not path.is_symlink():
            raise InputError("no such file: the folder is not a run of this version of sn40l-sim "
                             "(rerun the scenario)", file=str(path))
        data = read_json(path)
        if not isinstance(data, dict):
            raise InputError(f"expected a JSON object, got {type(data).__name__}", file=str(path))
        required = {f.name for f in fields(cls)
                    if f.default is MISSING and f.default_factory is MISSING}
        missing = sorted(required - set(data))
        if missing:
            raise InputError(f"missing {', '.join(missing)}", file=str(path))
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        for f in fields(cls):
            if f.name in values and f.name != "memory":
                _check_type(values[f.name], str(f.type), path, f.name)
        memory = data["memory"]
        if not isinstance(memory, dict):
            raise InputError(f"expected an object, got {type(memory).__name__}", file=str(path),
                             field="memory")
        for f in fields(MemoryUse):
            if f.name not in memory:
                raise InputError("missing", file=str(path), field=f"memory.{f.name}")
            _check_type(memory[f.name], str(f.type), path, f"memory.{f.name}")
        values["memory"] = MemoryUse(**{f.name: memory[f.name] for f in fields(MemoryUse)})
        return cls(**values)


_SCALARS: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}


def _check_type(value: Any, annotation: str, path: Path, name: str) -> None:
    """A run_info.json value of its field's type (the file is untrusted: a damaged or edited one is
    named, not a TypeError deep inside the summary)."""
    kind = annotation.split("|")[0].strip()
    if value is None and "None" in annotation:
        return
    if kind in _SCALARS:
        ok = isinstance(value, _SCALARS[kind]) and (kind == "bool" or not isinstance(value, bool))
    elif kind.startswith("dict"):
        ok = isinstance(value, dict)
    elif kind.startswith("list[int]"):
        ok = isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool)
                                             for v in value)
    elif kind.startswith("list"):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    else:
        ok = True
    if not ok:
        raise InputError(f"expected {annotation}, got {type(value).__name__} {str(value)[:40]!r}",
                         file=str(path), field=name)
