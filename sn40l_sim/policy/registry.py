"""Named strategies: schedulers, eviction policies, ... looked up by the name a scenario gives.

A registry maps a name to a class (or factory). Registration is a decorator next to the class
(``@SCHEDULERS.register("fcfs")``), so adding a policy is one new class in one file. A duplicate
name is a programming error (``ValueError`` at import time); an unknown name is a user error
(:class:`~sn40l_sim.errors.InputError` with a "did you mean" and the list of known names).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from sn40l_sim.errors import unknown_name_error

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> strategy table for one kind of policy (``kind`` appears in error messages)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that files the decorated object under ``name``; a name can be used once."""
        if not name or name != name.strip():
            raise ValueError(f"{self.kind} name must be non-empty, without surrounding spaces: "
                             f"{name!r}")

        def decorate(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = entry
            return entry

        return decorate

    def get(self, name: str) -> T:
        """The strategy registered as ``name``; an unknown name says what is known."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            pass
        raise unknown_name_error(self.kind, name, self.names())

    def names(self) -> list[str]:
        """Registered names, sorted (a stable order for messages and docs)."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)
