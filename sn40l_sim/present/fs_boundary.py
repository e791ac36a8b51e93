"""The one boundary between the tool and the file system: paths checked before work starts, and
every OS error turned into one located line.

A results folder is checked before anything is simulated (is it a folder, can it be created and
written, is every name short enough), so a bad ``--output`` costs nothing and leaves nothing behind.
Paths are made absolute here, from the current folder, and never ``~``-expanded: a folder named
``~`` is a folder named ``~`` (libraries that expand ``~`` in a path they are given see only
absolute paths). An OS error that still happens while writing (a full disk, a file-size limit, a
folder removed underneath) becomes :func:`os_error`'s one line: exit status 2 for a problem of the
path, 1 (:class:`~sn40l_sim.errors.MachineFaultError`) for a fault of the machine.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from sn40l_sim.errors import InputError, MachineFaultError

NAME_MAX_BYTES = 255  # one path component (Linux, macOS)
PATH_MAX_BYTES = 4096  # a whole path (Linux)
# errno values that are the machine's fault, not the path's: exit status 1
MACHINE_ERRNOS = frozenset(getattr(errno, n) for n in ("ENOSPC", "EFBIG", "EDQUOT", "EIO", "ENOMEM",
                                                        "ENFILE", "EMFILE") if hasattr(errno, n))
_WHY = {errno.ENOSPC: "no space left on the device (the disk is full)",
        errno.EFBIG: "file too large (a file-size limit, e.g. `ulimit -f`)",
        errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
        errno.EROFS: "read-only file system", errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.EISDIR: "is a folder, not a file", errno.ENOENT: "no such file or folder",
        errno.ELOOP: "a symbolic link loop", errno.ENAMETOOLONG: "name too long"}


def os_error(exc: OSError, what: str | None = None) -> InputError:
    """One located line for an OS error: the file it concerns and why, in words.

    ``what`` names the argument or file role (``--output``); a full disk or a file-size limit is a
    :class:`MachineFaultError` (exit status 1), everything else an :class:`InputError` (exit status 2).
    """
    why = _WHY.get(exc.errno or -1) or exc.strerror or str(exc) or type(exc).__name__
    where = exc.filename if exc.filename is not None else None
    if where is None:  # pyarrow puts the path in the message: "Failed to open local file '...'"
        text = str(exc)
        if "'" in text:
            where = text.split("'")[1]
    cls = MachineFaultError if exc.errno in MACHINE_ERRNOS else InputError
    return cls(why, file=str(where) if where else None, field=what)


def cwd() -> Path:
    """The current folder; a deleted one is an InputError, not a FileNotFoundError from deep inside."""
    try:
        return Path(os.getcwd())  # noqa: PTH109 - Path.cwd() raises the same, less clearly
    except OSError:
        raise InputError("the current folder no longer exists (it was deleted or moved); cd to an "
                         "existing folder, or give an absolute path") from None


def absolute(path: Path | str) -> Path:
    """``path`` made absolute from the current folder, without expanding ``~`` or resolving links;
    ``..`` is taken lexically (``x/../out`` is ``out``, and no folder ``x`` is made on the way)."""
    path = Path(path)
    return Path(os.path.normpath(path if path.is_absolute() else cwd() / path))


def _check_names(path: Path, what: str) -> None:
    text = str(path)
    if not text or not text.strip():
        raise InputError("an empty path", field=what)
    if "\x00" in text:
        raise InputError("a path cannot hold a NUL character", field=what)
    raw = os.fsencode(text)
    if len(raw) >= PATH_MAX_BYTES:
        raise InputError(f"path of {len(raw):,} bytes; the system's limit is {PATH_MAX_BYTES - 1:,}",
                         field=what)
    for part in path.parts:
        if not part.strip():
            raise InputError(f"a folder or file name of only blanks ({part!r})", field=what)
        if len(os.fsencode(part)) > NAME_MAX_BYTES:
            raise InputError(f"a name of {len(os.fsencode(part)):,} bytes ({part[:24]}...); the "
                             f"system's limit is {NAME_MAX_BYTES} per folder or file name", field=what)


def _stat(path: Path) -> os.stat_result | None:
    """``os.stat`` of ``path`` (links followed), None when nothing is there; a symbolic link loop
    or a link to nothing is an error of the path."""
    try:
        return path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise InputError(f"{path} is a symbolic link to nothing ({path.readlink()})") from None
        return None
    except NotADirectoryError:
        return None  # a part above is a file: found when the walk reaches it
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"{path} is a symbolic link loop") from None
        raise os_error(exc) from None


def check_writable_dir(path: Path | str, what: str) -> Path:
    """``path`` as an absolute folder the tool may create and write into, checked before any work.

    The folder need not exist; the nearest part of it that does must be a folder this user can
    write into, and no part may be a file, a dangling or looping symbolic link, or a too-long name.
    """
    try:
        folder = absolute(path)
        _check_names(folder, what)
        current = folder
        while True:
            info = _stat(current)
            if info is not None:
                if not stat.S_ISDIR(info.st_mode):
                    kind = ("a file" if stat.S_ISREG(info.st_mode)
                            else "not a folder (a device, pipe or socket)")
                    raise InputError(f"{current} is {kind}; {what} must be a folder (or a new name)")
                if not os.access(current, os.W_OK | os.X_OK):
                    raise InputError(f"the folder {current} is not writable (permission denied)")
                return folder
            if current.parent == current:
                raise InputError(f"no existing folder above {folder}")
            current = current.parent
    except InputError as exc:
        raise (exc if exc.field else InputError(exc.message, field=what)) from None


def check_output_file(path: Path | str, what: str) -> Path:
    """``path`` as an absolute file the tool may (over)write: its folder exists and is writable,
    and the path is not a folder."""
    target = absolute(path)
    _check_names(target, what)
    try:
        info = _stat(target)
    except InputError as exc:
        raise InputError(exc.message, field=what) from None
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"{target} is a folder; {what} needs a file name", field=what)
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISCHR(info.st_mode)):  # a FIFO would block
            raise InputError(f"{target} is a pipe or socket, not a file", field=what)
        if not os.access(target, os.W_OK):
            raise InputError(f"{target} is not writable (permission denied)", field=what)
        return target
    parent = target.parent
    try:
        parent_info = _stat(parent)
    except InputError as exc:
        raise InputError(exc.message, field=what) from None
    if parent_info is None or not stat.S_ISDIR(parent_info.st_mode):
        raise InputError(f"the folder {parent} does not exist", field=what)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"the folder {parent} is not writable (permission denied)", field=what)
    return target


def check_readable_dir(path: Path | str, what: str) -> Path:
    """``path`` as an absolute existing folder this user can read."""
    folder = absolute(path)
    _check_names(folder, what)
    try:
        info = _stat(folder)
    except InputError as exc:
        raise InputError(exc.message, field=what) from None
    if info is None:
        raise InputError(f"{folder}: no such folder", field=what)
    if not stat.S_ISDIR(info.st_mode):
        raise InputError(f"{folder} is not a folder", field=what)
    if not os.access(folder, os.R_OK | os.X_OK):
        raise InputError(f"the folder {folder} is not readable (permission denied)", field=what)
    return folder


def make_unique_dir(base: Path, stamp: str) -> Path:
    """``base/stamp``, or ``base/stamp-2``, ``-3``...: created atomically (``mkdir`` either makes
    the folder or fails), so runs started in the same second by several processes never share one."""
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(exc) from None
    for n in range(1, 10_000):
        path = base / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise os_error(exc) from None
        return path
    raise InputError(f"10,000 folders named {stamp}-* already exist", file=str(base))


def write_user_file(path: Path, text: str) -> None:
    """Write a file the user named (``--json FILE``): a regular file through a temporary file and a
    rename (never half a file), but a device such as ``/dev/null`` or ``/dev/stdout`` directly, as
    a rename would replace the device itself with a file."""
    try:
        info = path.stat()
    except OSError:
        info = None
    if info is not None and not stat.S_ISREG(info.st_mode):
        with path.open("w", encoding="utf-8") as handle:
            handle.write(text)
        return
    tmp = path.with_name(path.name + ".partial")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
