"""What a sweep's finished points depend on besides their overrides, as one hash.

A point's id hashes its overrides only (so a rerun can skip it). Its result also depends on the
base scenario, the hardware profiles it names (by name or path, compared as parsed settings so a
reworded comment does not count), the trace files it reads, and the simulator's code. A resumed
sweep whose fingerprint differs would silently mix results of two models, so the driver refuses it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sn40l_sim.studies.sweep.grid import canonical
from sn40l_sim.studies.sweep.spec import SweepSpec

SAMPLE_BYTES = 1 << 20  # a trace is hashed by its size and its first and last MiB (traces can be GBs)


def _values(spec: SweepSpec, base: dict[str, Any], dotted: str) -> Iterator[Any]:
    """Every value a field takes in the sweep: the base scenario's, then set, cases and grid."""
    node: Any = base
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is not None:
        yield node
    for overrides in (spec.set, *spec.cases):
        if dotted in overrides:
            yield overrides[dotted]
    yield from spec.grid.get(dotted, [])


def _profiles(spec: SweepSpec, base: dict[str, Any], source: Path) -> dict[str, Any]:
    from sn40l_sim.config.load import load_model
    from sn40l_sim.config.platform_config import PlatformConfig
    from sn40l_sim.config.profiles import resolve_profile_path

    out: dict[str, Any] = {}
    values = [*_values(spec, base, "platform"), *_values(spec, base, "platform.base")]
    for value in values:  # a profile's name, or the profile an overriding mapping is based on
        name = value.get("base") if isinstance(value, dict) else value
        if isinstance(name, str) and name not in out:  # inline mappings are in base/overrides already
            path = resolve_profile_path(name, source.parent)  # read afresh: the loader caches by path
            out[name] = load_model(PlatformConfig, path).model_dump(mode="json")
    return out


def _file_sample(path: Path) -> str:
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(SAMPLE_BYTES))
        if size > 2 * SAMPLE_BYTES:
            handle.seek(size - SAMPLE_BYTES)
            digest.update(handle.read(SAMPLE_BYTES))
    return digest.hexdigest()


def _traces(spec: SweepSpec, base: dict[str, Any], source: Path, data_dir: Path) -> dict[str, str]:
    from sn40l_sim.errors import InputError
    from sn40l_sim.workload.data_dir import resolve_data_path

    out: dict[str, str] = {}
    for name in _values(spec, base, "workload.trace"):
        if isinstance(name, str) and name not in out:
            try:
                out[name] = _file_sample(resolve_data_path(name, data_dir, source.parent))
            except InputError:
                out[name] = "missing"  # the points that need it fail with this message themselves
    return out


def _code() -> str:
    """The package's sources and shipped data (catalogue, datasets), so a code change counts even
    when the version number does not move."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".yaml") and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(package)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _models_files(spec: SweepSpec, base: dict[str, Any], source: Path) -> dict[str, str]:
    """The scenario's own models files (``models_file``), by content."""
    out: dict[str, str] = {}
    for name in _values(spec, base, "models_file"):
        path = source.parent / name if isinstance(name, str) else None
        if path is not None and name not in out:
            out[name] = _file_sample(path) if path.is_file() else "missing"
    return out


def fingerprint(spec: SweepSpec, base: dict[str, Any], source: Path, data_dir: Path) -> str:
    """16 hex digits over the base scenario, the profiles, traces and models files it uses, and
    the code."""
    text = canonical({"base": base, "profiles": _profiles(spec, base, source),
                      "models": _models_files(spec, base, source),
                      "traces": _traces(spec, base, source, data_dir), "code": _code()})
    return hashlib.sha256(text.encode()).hexdigest()[:16]
