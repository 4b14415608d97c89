"""Writing files so that a reader never sees half of one, and turning values into what strict JSON accepts.

``write_atomic`` (and ``write_json``) write to a temporary file in the target's own folder, flush it to disk,
then rename it over the target, so the target is either the old file or the whole new one. On any failure
(including Ctrl-C) the temporary file is removed and the target is left as it was. ``atomic_path`` gives the
same guarantee to a writer that needs a path (joblib, pandas). The caller creates the folder.

``json_safe`` is the one JSON cleaner: numpy and pandas values become Python ones, NaN, infinities and
missing values become ``None``, dates and timestamps become ISO-8601 strings.
"""

from __future__ import annotations

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


def write_atomic(path: str | os.PathLike[str], data: bytes | str, *, private: bool = False,
                 encoding: str = "utf-8") -> Path:
    """Replace ``path`` with ``data`` all at once; ``private`` makes the file mode 0600 (for files holding secrets)."""
    path = Path(path)
    payload = data.encode(encoding) if isinstance(data, str) else data
    tmp, fd = _open_temp(path, private)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
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
