"""Writing files so that a reader never sees half of one, and turning values into what strict JSON accepts.

``write_atomic`` (and ``write_json``) write to a temporary file in the target's own folder, flush it to disk,
then rename it over the target, so the target is either the old file or the whole new one. On any failure
(including Ctrl-C) the temporary file is removed and the target is left as it was. ``atomic_path`` gives the
same guarantee to a writer that needs a path (joblib, pandas). The caller creates the folder.

``json_safe`` is the one JSON cleaner: numpy and pandas values become Python ones, NaN, infinities and
missing values become ``None``, dates and timestamps become ISO-8601 strings.
"""

from __future__ import annotations

import errno
import json
import math
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PRIVATE_MODE = 0o600


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def _open_temp(path: Path, private: bool) -> tuple[Path, int]:
    tmp = _temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE if private else 0o666)
    if private:  # exact, whatever the umask
        os.fchmod(fd, PRIVATE_MODE)
    return tmp, fd


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _named(error: OSError, path: Path) -> OSError:
    """The same error, naming the file it was about (a failed write or fsync names none)."""
    if error.filename or error.errno is None:
        return error
    return OSError(error.errno, error.strerror, str(path))


def write_atomic(path: str | os.PathLike[str], data: bytes | str, *, private: bool = False,
                 encoding: str = "utf-8") -> Path:
    """Replace ``path`` with ``data`` all at once; ``private`` makes the file mode 0600 (for files holding secrets)."""
    path = Path(path)
    payload = data.encode(encoding) if isinstance(data, str) else data
    try:
        tmp, fd = _open_temp(path, private)
    except OSError as error:
        raise _named(error, path) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise _named(error, path) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)
    return path


def write_json(path: str | os.PathLike[str], value: Any, *, indent: int | None = 2, sort_keys: bool = False,
               private: bool = False) -> Path:
    """``json_safe(value)`` as strict JSON (never ``NaN``) plus a final newline, written atomically."""
    text = json.dumps(json_safe(value), indent=indent, sort_keys=sort_keys, default=str, allow_nan=False)
    return write_atomic(path, text + "\n", private=private)


def write_together(files: dict[Path, bytes | str], *, private: bool = False, encoding: str = "utf-8") -> list[Path]:
    """Write several files as one: every temporary file is written and flushed first, then each is renamed over its
    target. A failure while writing (no space, read-only folder, Ctrl-C) removes every temporary file and leaves
    every target as it was, so a reader finds all the new files or none of them (renames need no space)."""
    written: list[tuple[Path, Path]] = []
    try:
        for path, data in files.items():
            payload = data.encode(encoding) if isinstance(data, str) else data
            tmp, fd = _open_temp(Path(path), private)
            written.append((tmp, Path(path)))
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
        for tmp, path in written:
            os.replace(tmp, path)
    except BaseException as error:
        for tmp, _ in written:
            tmp.unlink(missing_ok=True)
        if isinstance(error, OSError) and written:
            raise _named(error, written[-1][1]) from None
        raise
    for folder in {path.parent for _, path in written}:
        _sync_folder(folder)
    return [path for _, path in written]


OS_ERROR_ADVICE = {
    errno.ENOSPC: "free some space on that disk, or choose another folder",
    errno.EDQUOT: "free some space (the disk quota is used up), or choose another folder",
    errno.EROFS: "the file system is read-only: choose a writable folder",
    errno.EACCES: "you lack permission there: choose a folder you can write to, or fix its permissions",
    errno.EPERM: "you lack permission there: choose a folder you can write to, or fix its permissions",
}


def describe_os_error(error: OSError, path: str | os.PathLike[str] | None = None, *,
                      atomic: bool = True) -> tuple[str, str]:
    """One plain sentence naming the path and what the system said, and what to do about it. ``atomic``: the
    failed write was one of this module's, so nothing was half-written (and the sentence says so)."""
    where = path or error.filename or "a file"
    reason = error.strerror or type(error).__name__
    advice = OS_ERROR_ADVICE.get(error.errno or 0, "check the path and the folder's permissions and free space")
    message = f"Could not write {where} ({reason}); nothing was half-written" if atomic else \
        f"Could not use {where} ({reason})"
    return message, advice[0].upper() + advice[1:]


@contextmanager
def atomic_path(path: str | os.PathLike[str], *, private: bool = False) -> Iterator[Path]:
    """A temporary path to write to; renamed over ``path`` when the block ends, removed if it raises."""
    path = Path(path)
    tmp, fd = _open_temp(path, private)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def json_safe(value: Any) -> Any:
    """A copy of ``value`` that ``json.dumps(..., allow_nan=False)`` accepts.

    dict keys become strings, tuples and arrays lists, numpy/pandas scalars Python values, NaN/inf/NA/NaT
    ``None``, and dates, times and timestamps ISO-8601 strings. Anything else is returned unchanged.
    """
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):  # numpy.float64 too
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(item) for item in value]
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "tolist"):  # numpy arrays and scalars, pandas Series
        return json_safe(value.tolist())
    if hasattr(value, "item"):
        return json_safe(value.item())
    return value
