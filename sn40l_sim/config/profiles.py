"""Find and load hardware profiles by name (``sn40l_node``) or path (``my/box.yaml``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from sn40l_sim.catalogue.hardware import PlatformSpec
from sn40l_sim.config.load import load_model, validate
from sn40l_sim.config.platform_config import PlatformConfig
from sn40l_sim.errors import InputError, unknown_name_error


def profile_dirs() -> list[Path]:
    """Where profiles are looked for: the repository's ``hw_profiles/``, then the installed copy."""
    package = Path(__file__).resolve().parent.parent
    return [package.parent / "hw_profiles", package / "_hw_profiles"]


def known_profiles() -> dict[str, Path]:
    """Profile name -> file, first directory wins."""
    found: dict[str, Path] = {}
    for folder in profile_dirs():
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                found.setdefault(path.stem, path)
    return found


def resolve_profile_path(name: str, relative_to: Path | None = None) -> Path:
    """A profile name or a path to a YAML file; unknown names suggest the closest match."""
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml"):
        if not candidate.is_absolute() and relative_to is not None:
            candidate = relative_to / candidate
        if candidate.is_file():
            return candidate
        raise InputError(f"hardware profile file {name!r} not found")
    profiles = known_profiles()
    if name in profiles:
        return profiles[name]
    raise unknown_name_error("platform", name, sorted(profiles))


@cache
def _load_path(path: Path) -> PlatformConfig:
    return load_model(PlatformConfig, path)


def load_platform_config(name: str, relative_to: Path | None = None) -> PlatformConfig:
    """The validated profile (pydantic), for overrides and the resolved scenario."""
    return _load_path(resolve_profile_path(name, relative_to).resolve())


def load_platform(name: str, relative_to: Path | None = None) -> PlatformSpec:
    """The frozen spec the cost model and engine use."""
    return load_platform_config(name, relative_to).to_spec()


def platform_from_mapping(data: dict[str, Any], source: str) -> PlatformSpec:
    """An inline platform mapping (in a scenario) validated like a profile file."""
    return validate(PlatformConfig, data, None, source).to_spec()
