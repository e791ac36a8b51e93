"""Errors a user can fix: bad scenario files, bad traces, unknown names.

The CLI turns every :class:`InputError` into one line on stderr and exit status 2, never a
traceback, so each error carries where the problem is (file, line, field) and what was expected.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

_LINE_BREAKS = str.maketrans({c: repr(c)[1:-1] for c in
                              "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"})


def _one_line(text: str) -> str:
    """A problem is one line on stderr even when a key or value holds a line break."""
    return text.translate(_LINE_BREAKS)


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
        return _one_line(f"{prefix}: {self.message}" if prefix else self.message)


def did_you_mean(value: object, known: Sequence[str], *, cutoff: float = 0.6) -> str:
    """``"; did you mean 'y'?"`` for the known name closest to ``value``, or ``""`` (the one
    format every "unknown name" message shares)."""
    close = difflib.get_close_matches(str(value), list(known), n=1, cutoff=cutoff)
    return f"; did you mean {close[0]!r}?" if close else ""


def unknown_name_error(kind: str, value: object, known: Sequence[str]) -> InputError:
    """``unknown <kind> 'x'; did you mean 'y'? (known: ...)``: the closest known name, and all of them."""
    return InputError(f"unknown {kind} {value!r}{did_you_mean(value, known, cutoff=0.5)} "
                      f"(known: {', '.join(known)})")


MAX_SHOWN_PROBLEMS = 20


class CombinedInputError(InputError):
    """Several problems found at once (a scenario with three bad fields names all three).

    ``str()`` is one located line per problem, in file order, at most ``MAX_SHOWN_PROBLEMS`` (the
    last one shown says how many more there are), so a user fixes a file in one pass.
    """

    def __init__(self, problems: list[InputError]) -> None:
        if not problems:
            raise ValueError("CombinedInputError needs at least one problem")
        first = problems[0]
        super().__init__(first.message, file=first.file, line=first.line, field=first.field)
        self.problems = list(problems)

    def located(self, *, file: str | None = None, line: int | None = None) -> InputError:
        return CombinedInputError([p.located(file=file, line=line) for p in self.problems])

    def __str__(self) -> str:
        shown = [str(p) for p in self.problems[:MAX_SHOWN_PROBLEMS]]
        hidden = len(self.problems) - len(shown)
        if hidden:
            shown[-1] += f" (and {hidden} more problem(s) not shown)"
        return "\n".join(shown)


def combine(problems: list[InputError]) -> InputError:
    """One error for a list of problems: the problem itself when there is one, flattened."""
    flat: list[InputError] = []
    for problem in problems:
        flat.extend(problem.problems if isinstance(problem, CombinedInputError) else [problem])
    return flat[0] if len(flat) == 1 else CombinedInputError(flat)


class Interrupted(KeyboardInterrupt):
    """A run or sweep stopped by a signal, after writing what it kept.

    ``exit_status`` is the shell's convention, 128 + the signal number: 130 for SIGINT (Ctrl-C),
    143 for SIGTERM (``timeout``, batch schedulers, ``kill``).
    """

    def __init__(self, message: str, *, signum: int = 2) -> None:
        super().__init__(message)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum
