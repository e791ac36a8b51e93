"""Typed checks of records the tool wrote itself and reads back (``run_info.json``): a damaged or
hand-edited file is an input error naming the first bad field, not a traceback from deep inside."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from sn40l_sim.errors import InputError

T = TypeVar("T")


def check_record(cls: type[T], data: dict[str, Any], path: Path) -> T:
    """``data`` as an instance of the dataclass ``cls``, strictly typed (pydantic stays in config/)."""
    try:
        return TypeAdapter(cls).validate_json(json.dumps(data), strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InputError(f"{first['msg']}{more}", file=str(path), field=where) from None
