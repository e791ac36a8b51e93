"""Where trace files live: the data directory, and how a scenario's relative path finds a file.

Public traces are not shipped with the package. A relative trace path in a scenario is looked up
next to the scenario first (a user's own file), then in the data directory, whose folders are the
known datasets (``azure-llm-2023/...``). A missing file names the dataset to fetch.
"""

from __future__ import annotations

import os
from pathlib import Path

from sn40l_sim.errors import InputError

ENV_VAR = "SN40L_SIM_DATA"


def default_data_dir() -> Path:
    """The user cache folder: ``$XDG_CACHE_HOME/sn40l-sim/data`` or ``~/.cache/sn40l-sim/data``."""
    cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "sn40l-sim" / "data"


def resolve_data_dir(cli_value: str | None = None) -> Path:
    """The data directory: ``--data-dir``, else ``$SN40L_SIM_DATA``, else the user cache folder.

    The folder need not exist yet (``data fetch`` creates it). Relative values are relative to
    the current directory, as usual for command-line paths.
    """
    value = cli_value or os.environ.get(ENV_VAR) or None
    path = Path(value).expanduser() if value else default_data_dir()
    return path.absolute()


def resolve_data_path(relative: str, data_dir: Path, base_dir: Path | None = None) -> Path:
    """Find a data file named in a scenario.

    An absolute path, or a path relative to the scenario's folder (``base_dir``), that exists
    wins; else ``data_dir / relative``. Otherwise an InputError says where it looked and, when
    the path belongs to a known dataset, which ``sn40l-sim data fetch`` command provides it.
    """
    path = Path(relative).expanduser()
    if path.is_absolute():
        if path.is_file():
            return path
        raise InputError(f"data file {relative!r} not found")
    if base_dir is not None and (base_dir / path).is_file():
        return (base_dir / path).absolute()
    candidate = data_dir / path
    if candidate.is_file():
        return candidate.absolute()
    raise InputError(_missing_message(relative, path, data_dir, base_dir))


def _missing_message(relative: str, path: Path, data_dir: Path, base_dir: Path | None) -> str:
    from sn40l_sim.workload.datasets import find_known_file

    looked = f"the data directory {data_dir}"
    if base_dir is not None:
        looked = f"{base_dir.absolute()} and {looked}"
    message = f"data file {relative!r} not found (looked in {looked})"
    known = find_known_file(path.as_posix())
    if known is not None:
        dataset, stored = known
        fix = f"run 'sn40l-sim data fetch {dataset}'"
        if stored != path.as_posix():
            fix = f"the file is '{stored}' of dataset {dataset!r}; {fix}"
        return f"{message}; {fix} (or point --data-dir / ${ENV_VAR} at a folder that has it)"
    if not data_dir.is_dir():
        return (f"{message}; the data directory does not exist: set --data-dir or ${ENV_VAR}, "
                "or run 'sn40l-sim data list' to see the datasets it can fetch")
    return message
