"""The label journal: step 4 writes down every label the moment its request is sent and again when the answer
arrives, so that no prediction the model may have captured is left without its label, whatever stops step 4.

One JSON Lines file per run, ``<config folder>/label_journals/<run id>.jsonl``, appended and flushed one record
at a time (a ``kill -9`` loses at most the line being written; a torn last line is ignored when read):

- ``{"t": "run", "run_id", "model_id", "datasource", "key", "label_column", "created_at"}`` first;
- ``{"t": "sent", "i", "event_id", "label", "at"}`` before a request leaves: step 4 sends its own ``event_id``, so
  a retried request is the same prediction, and the label is known before the answer;
- ``{"t": "answer", "i", "event_id", "timestamp"}`` when the model answered (``event_id`` is the one it returned);
- ``{"t": "failed", "i", "reached": bool}`` when a request failed; ``reached`` is false only when the model cannot
  have seen it (a 4xx answer: refused before predict ran);
- ``{"t": "closed", "reason"}`` when sending stopped (done, interrupted).

The labels of a journal are every answered request, plus every request that may have reached the model without an
answer (lost answer, timeout, 5xx, interrupted in flight): a label for a prediction that was never captured matches
nothing, whereas a captured prediction without a label is lost for good. ``ground_truth_csv`` turns them into the
same bytes every time, so step 4 and a later ``finish_journals`` (steps 4 and 5) produce and recognise the same file.
A journal is finished when the ledger has registered its key; it is then left as a record.

While step 4 lives it holds an exclusive ``flock`` on its journal (taken at ``create``, let go by ``release`` or by
the process ending, ``kill -9`` included). Recovery (``finish_journals``, steps 4 and 5) takes the same lock without
waiting, holds it while it finishes a journal, and skips a journal whose lock is taken: a step 4 still sending, or
another step finishing it. Without that, a step 5 started mid-run would upload and register a partial file.
"""

from __future__ import annotations

import datetime
import fcntl
import io
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JOURNAL_FOLDER = "label_journals"
GROUND_TRUTH_COLUMNS = ("event_id", "timestamp")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def journal_folder(ledger_path: str | os.PathLike[str]) -> Path:
    """Journals live beside the ledger (next to the config), where every step finds them."""
    return Path(ledger_path).parent / JOURNAL_FOLDER


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock of the open file ``fd`` without waiting: False when another open file (a live
    process) holds it; True also where the file system offers no lock at all (as before locks existed)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return True


@contextmanager
def claimed(path: Path) -> Iterator[bool]:
    """Hold ``path``'s lock for the block (True), or False at once when a live writer or finisher holds it. Opened
    for writing (never created, never written): on NFS ``flock`` of a read-only file fails."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        yield _try_lock(fd)
    finally:
        os.close(fd)  # lets the lock go


class LabelJournal:
    """An open journal that threads append to; every record is one flushed line. Its writer holds the journal's
    lock from ``create`` to ``release`` (``close`` writes the last record but keeps the lock: step 4 still uploads)."""

    def __init__(self, path: Path, handle: Any) -> None:
        self.path = path
        self._handle = handle
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def create(cls, folder: Path, run_id: str, *, model_id: str | None, datasource: str | None, key: str | None,
               label_column: str) -> LabelJournal:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{run_id}.jsonl"
        handle = open(path, "x", encoding="utf-8")  # noqa: SIM115 - closed by .release()
        _try_lock(handle.fileno())  # a new file: nobody else can hold it yet
        journal = cls(path, handle)
        journal._append({"t": "run", "run_id": run_id, "model_id": model_id, "datasource": datasource, "key": key,
                         "label_column": label_column, "created_at": _now()}, sync=True)
        return journal

    def sent(self, index: int, event_id: str, label: Any) -> None:
        self._append({"t": "sent", "i": index, "event_id": event_id, "label": label, "at": _now()})

    def answered(self, index: int, event_id: str, timestamp: str | None) -> None:
        self._append({"t": "answer", "i": index, "event_id": event_id, "timestamp": timestamp})

    def failed(self, index: int, reached: bool) -> None:
        self._append({"t": "failed", "i": index, "reached": reached})

    def close(self, reason: str) -> None:
        """The last record: sending stopped. The lock is kept until ``release``."""
        with self._lock:
            if self._handle.closed or self._closed:
                return
            self._closed = True
        self._append({"t": "closed", "reason": reason}, sync=True)

    def release(self) -> None:
        """Close the file, letting its lock go: recovery may now finish this journal."""
        with self._lock:
            self._handle.close()

    def _append(self, record: dict[str, Any], sync: bool = False) -> None:
        line = json.dumps(record, default=str, allow_nan=False) + "\n"
        with self._lock:
            self._handle.write(line)
            self._handle.flush()  # in the OS's hands: survives kill -9 of this process
            if sync:
                os.fsync(self._handle.fileno())


@dataclass
class JournalContents:
    path: Path
    header: dict[str, Any]
    sent: dict[int, dict[str, Any]] = field(default_factory=dict)
    answers: dict[int, dict[str, Any]] = field(default_factory=dict)
    failed: dict[int, bool] = field(default_factory=dict)
    closed: str | None = None

    @property
    def key(self) -> str | None:
        return self.header.get("key")

    @property
    def run_id(self) -> str:
        return str(self.header.get("run_id") or self.path.stem)

    def labels(self) -> list[tuple[str, Any, str]]:
        """``(event_id, label, timestamp)`` for every request that was answered or may have reached the model."""
        rows = []
        for index in sorted(self.sent):
            sent = self.sent[index]
            answer = self.answers.get(index)
            if answer is not None:
                rows.append((str(answer.get("event_id") or sent["event_id"]), sent["label"],
                             str(answer.get("timestamp") or sent.get("at") or "")))
            elif self.failed.get(index, True):  # failed after reaching it, or no word at all (in flight)
                rows.append((str(sent["event_id"]), sent["label"], str(sent.get("at") or "")))
        return rows

    @property
    def answered_count(self) -> int:
        return len(self.answers)


def read_journal(path: Path) -> JournalContents | None:
    """The records of one journal; ``None`` when it has no readable header. A torn last line is skipped."""
    contents: JournalContents | None = None
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # the line being written when the process died
            kind = record.get("t") if isinstance(record, dict) else None
            if kind == "run" and contents is None:
                contents = JournalContents(path, record)
            elif contents is None:
                continue
            elif kind == "sent":
                contents.sent[int(record["i"])] = record
            elif kind == "answer":
                contents.answers[int(record["i"])] = record
            elif kind == "failed":
                contents.failed[int(record["i"])] = bool(record.get("reached", True))
            elif kind == "closed":
                contents.closed = str(record.get("reason"))
    return contents


def iter_journals(folder: Path) -> Iterator[JournalContents]:
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.jsonl")):
        contents = read_journal(path)
        if contents is not None:
            yield contents


def ground_truth_csv(rows: list[tuple[str, Any, str]], label_column: str) -> bytes:
    """``event_id, <label column>, timestamp`` as CSV bytes, the same for the same rows every time."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["event_id", label_column, "timestamp"])
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8")


# ---- finishing: from a journal to an uploaded file the ledger knows ------------------------------------------------

@dataclass(frozen=True)
class Finished:
    """What ``finish_journal`` did with one journal: ``uploaded``, ``found`` (its upload had succeeded but the answer
    was lost: the data source holds the same bytes, so it is recorded, not uploaded again), ``recorded`` (already in
    the ledger), ``empty`` (no label to upload), ``different`` (the data source holds other bytes under its key:
    left alone, said) or ``busy`` (its lock is held: step 4 is still sending, or another step is finishing it)."""

    path: Path
    key: str | None
    rows: int
    action: str


def content_digest(content: bytes) -> str:
    import hashlib

    return hashlib.sha256(content).hexdigest()


def finish_journal(contents: JournalContents, datasources: Any, ledger: Any, *, check_stored: bool = True) -> Finished:
    """Upload a journal's labels under its key unless the ledger or the data source already has them; record it.
    ``check_stored=False`` skips asking the data source first (step 4's own, fresh run: nothing can be there yet).

    Raises the data source's ``DmmError`` when it cannot be reached: the journal stays for the next run."""
    from dmm.errors import NotFoundError

    key, datasource = contents.key, contents.header.get("datasource")
    rows = contents.labels()
    if not key or not datasource:
        return Finished(contents.path, key, len(rows), "empty")
    if key in ledger.uploads:
        return Finished(contents.path, key, len(rows), "recorded")
    if not rows:
        return Finished(contents.path, key, 0, "empty")
    content = ground_truth_csv(rows, str(contents.header.get("label_column")))
    stored = None
    if check_stored:
        try:
            stored = datasources.download_bytes(datasource, key)
        except NotFoundError:
            stored = None
    if stored is not None and stored != content:
        return Finished(contents.path, key, len(rows), "different")
    if stored is None:
        datasources.upload_bytes(datasource, key, content)
    ledger.record_upload(key, datasource, len(rows), contents.run_id, digest=content_digest(content))
    ledger.save()
    return Finished(contents.path, key, len(rows), "uploaded" if stored is None else "found")


def unfinished_journals(folder: Path, ledger: Any, datasource: str | None = None) -> list[JournalContents]:
    """Journals whose labels are not yet in the ledger as uploaded (those with a key, for ``datasource``)."""
    return [contents for contents in iter_journals(folder)
            if contents.key and contents.key not in ledger.uploads
            and (datasource is None or contents.header.get("datasource") == datasource)]


def finish_journals(folder: Path, datasources: Any, ledger: Any, datasource: str | None = None) -> list[Finished]:
    """Finish every unfinished journal nobody holds (steps 4 and 5 call this first); a held one is ``busy``."""
    done = []
    for contents in unfinished_journals(folder, ledger, datasource):
        with claimed(contents.path) as mine:
            if not mine:
                done.append(Finished(contents.path, contents.key, len(contents.labels()), "busy"))
                continue
            latest = read_journal(contents.path)  # its writer may have added lines since it was read
            ledger.refresh()  # another step may have finished it just before the lock was free
            done.append(finish_journal(latest or contents, datasources, ledger))
    return done


def finished_lines(done: list[Finished]) -> list[str]:
    """What finishing did, for a script to print."""
    lines = []
    for item in done:
        if item.action == "uploaded":
            lines.append(f"Recovered {item.rows} label(s) of an unfinished run from {item.path}: "
                         f"uploaded as {item.key}")
        elif item.action == "found":
            lines.append(f"Recovered {item.path}: its upload had reached the data source ({item.key}) but the answer "
                         "was lost; recorded, not uploaded again")
        elif item.action == "busy":
            lines.append(f"Skipped the label journal {item.path}: step 4 is still running (or another step is "
                         "finishing it) and holds it; its labels are uploaded and registered once it ends, or by "
                         "running python 5_upload_ground_truth.py again then")
        elif item.action == "different":
            lines.append(f"Warning: {item.key} in the data source differs from the labels in {item.path}; left "
                         "alone (check it, then register the journal's labels with --file if needed)")
    return lines
