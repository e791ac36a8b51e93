"""Errors a user can fix: bad scenario files, bad traces, unknown names.

The CLI turns every :class:`InputError` into one line on stderr and exit status 2, never a
traceback, so each error carries where the problem is (file, line, field) and what was expected.
"""

from __future__ import annotations


class InputError(Exception):
    """A problem with user input, located as precisely as we can.

    ``file``, ``line`` and ``field`` are optional; ``str()`` joins what is known, e.g.
    ``scenario.yaml:12: serving.max_batch: expected an integer >= 1, got -3``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.field = field

    def located(self, *, file: str | None = None, line: int | None = None) -> InputError:
        """Return a copy with a file/line filled in where this error had none."""
        return InputError(
            self.message,
            file=self.file or file,
            line=self.line if self.line is not None else line,
            field=self.field,
        )

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line is not None else "")
        elif self.line is not None:
            where = f"line {self.line}"
        parts = [p for p in (where, self.field) if p]
        prefix = ": ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message
