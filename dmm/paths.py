"""The read side of every file the toolkit is given or finds: the right shape, readable, UTF-8 where text is expected.

One place decides what a path that names a folder, a symbolic link that loops, a file the system refuses to read
or bytes that are not UTF-8 text are called, so the config, the schema, the ledger and the data files all answer
in one plain sentence with a stable code: ``<thing>-missing``, ``<thing>-not-a-file``, ``<thing>-unreadable``,
``<thing>-not-utf8`` (``thing`` is ``file``, ``config``, ``schema`` or ``ledger``) and ``file-link-loop``.
Writing (read-only folders, full disks) is ``dmm/files.py``'s.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from dmm.errors import UsageError


def _given(flag: str | None) -> str:
    return f" with {flag}" if flag else ""


def check_readable_file(path: str | os.PathLike[str], what: str, *, flag: str | None = None,
                        thing: str = "file") -> Path:
    """``path`` if it names an existing regular file (links followed), else a ``UsageError`` saying which it is.

    ``what`` names the file in the sentence ("The config", "The ground-truth file"); ``flag`` is where it was given.
    """
    path = Path(path)
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UsageError(f"{what} {path} is a symbolic link that leads back to itself (a link loop)",
                             f"Point the link at a real file, or pass the file's own path{_given(flag)}",
                             code="file-link-loop") from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise UsageError(f"{what} {path} does not exist", f"Check the path given{_given(flag)}",
                             code=f"{thing}-missing") from None
        raise UsageError(f"Cannot read {what.lower()} {path} ({exc.strerror or exc})",
                         "Check the file's permissions", code=f"{thing}-unreadable") from None
    if path.is_dir():
        raise UsageError(f"{what} {path} is a folder, not a file", f"Pass the path of the file itself{_given(flag)}",
                         code=f"{thing}-not-a-file")
    if not path.is_file():
        raise UsageError(f"{what} {path} is not a regular file", f"Pass the path of a file{_given(flag)}",
                         code=f"{thing}-not-a-file")
    return path


def not_utf8(path: Path, what: str, exc: UnicodeDecodeError, thing: str = "file") -> UsageError:
    """The error for text that is not UTF-8, naming the first bad byte and where it is."""
    bad = exc.object[exc.start:exc.start + 1]
    byte = f"byte 0x{bad[0]:02x} " if isinstance(bad, (bytes, bytearray)) and bad else ""
    return UsageError(f"{what} {path} is not UTF-8 text ({byte}at position {exc.start})",
                      "Save it again with the UTF-8 encoding", code=f"{thing}-not-utf8")


def read_text(path: str | os.PathLike[str], what: str, *, flag: str | None = None, thing: str = "file") -> str:
    """The file's text (UTF-8, a leading byte-order mark dropped), or one ``UsageError`` naming the problem."""
    path = check_readable_file(path, what, flag=flag, thing=thing)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"Cannot read {what.lower()} {path} ({exc.strerror or exc})",
                         "Check the file's permissions", code=f"{thing}-unreadable") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise not_utf8(path, what, exc, thing) from None


def is_link_loop(path: str | os.PathLike[str]) -> bool:
    """True when following ``path`` (or a folder on its way) loops back on itself."""
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def refuse_link_loop(path: str | os.PathLike[str], flag: str) -> None:
    """A ``UsageError`` (``file-link-loop``) when ``path`` is, or runs through, a symbolic link that loops."""
    if is_link_loop(path):
        raise UsageError(f"{path} is a symbolic link that leads back to itself (a link loop)",
                         f"Remove or fix the link, or pass another path with {flag}", code="file-link-loop")


def check_output_file(path: str | os.PathLike[str], flag: str, *, code: str = "output-is-a-folder") -> Path:
    """``path`` if a file can be written there: not a folder, in a folder that is (or can be made) writable."""
    from dmm.dataio import check_output_dir

    path = Path(path)
    refuse_link_loop(path, flag)
    if path.is_dir():
        raise UsageError(f"{path} is a folder, so the file cannot be written there",
                         f"Pass a file path with {flag}, or move the folder away", code=code)
    check_output_dir(path.parent, flag)
    return path
