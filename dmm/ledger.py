"""The ledger: which ground-truth files were uploaded and registered, so a rerun does only what is missing.

Kept as ``monitoring_ledger.json`` next to the config; written atomically (temp file, then rename).

Steps 4 and 5 can run at once (step 4 holds its ledger for the whole of its sending). ``save`` therefore re-reads
the file under an exclusive ``flock`` on the ledger's folder and writes what is there plus what this process
changed since it read the ledger, so one step never saves a stale ledger over another's records.
"""

from __future__ import annotations

import copy
import datetime
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dmm.errors import UsageError
from dmm.files import write_json
from dmm.redact import redact_value

LEDGER_FORMAT_VERSION = 1
_PARTS = ("uploads", "registrations", "labels")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


@dataclass
class Ledger:
    path: Path
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    registrations: dict[str, dict[str, Any]] = field(default_factory=dict)
    # model id -> event id -> [label, key of the file that registered it]
    labels: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    # what the file held when this process read it: the difference is what this process changed
    _base: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._base = self._snapshot()

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Ledger:
        from dmm.paths import read_text

        path = Path(path)
        if not path.exists() and not path.is_symlink():
            return cls(path)
        text = read_text(path, "The ledger", thing="ledger")
        try:
            data = json.loads(text)
            return cls(path, uploads=dict(data.get("uploads") or {}),
                       registrations=dict(data.get("registrations") or {}), labels=dict(data.get("labels") or {}))
        except (json.JSONDecodeError, AttributeError, TypeError):
            raise UsageError(f"The ledger {path} is not valid JSON",
                             "Fix or delete it (it is rebuilt as uploads and registrations happen)",
                             code="ledger-invalid-json") from None

    def save(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(self.path):
            self._merge_saved()
            document = {"ledger_version": LEDGER_FORMAT_VERSION, "uploads": self.uploads,
                        "registrations": self.registrations, "labels": self.labels}
            written = write_json(self.path, redact_value(document), sort_keys=True)
            self._base = self._snapshot()
        return written

    def refresh(self) -> None:
        """Take in what other steps saved since this ledger was read, keeping this process's own changes."""
        with _locked(self.path):
            self._merge_saved()

    def _snapshot(self) -> dict[str, Any]:
        return copy.deepcopy({part: getattr(self, part) for part in _PARTS})

    def _merge_saved(self) -> None:
        """The file as saved now, with every entry this process changed since it read the file laid over it."""
        if not self.path.is_file():
            return
        saved = Ledger.load(self.path)  # thrown away after: its parts are taken over as they are, not copied
        base, disk = self._base, {part: getattr(saved, part) for part in _PARTS}
        for part in ("uploads", "registrations"):
            mine = getattr(self, part)
            disk[part].update({k: v for k, v in mine.items() if base[part].get(k) != v or k not in disk[part]})
        for model_id, events in self.labels.items():
            known, theirs = base["labels"].get(model_id, {}), disk["labels"].setdefault(model_id, {})
            theirs.update({e: v for e, v in events.items() if known.get(e) != v or e not in theirs})
        for part in _PARTS:
            setattr(self, part, disk[part])
        self._base = saved._base  # its own copy of what the file held

    def record_upload(self, key: str, datasource: str, rows: int, run_id: str, digest: str | None = None) -> None:
        """``digest``: the sha256 of the uploaded bytes, so step 5 can tell if the object was changed afterwards."""
        self.uploads[key] = {"datasource": datasource, "rows": int(rows), "run_id": run_id, "uploaded_at": _now()}
        if digest:
            self.uploads[key]["sha256"] = digest

    def record_registration(self, key: str, dataset_name: str, model_id: str,
                            labels: Mapping[str, Any] | None = None) -> None:
        """``labels``: the ``{event_id: label}`` this registration gave Model Monitor (what makes a rerun, or the same
        labels under another file name, register nothing)."""
        self.registrations[key] = {"dataset_name": dataset_name, "model_id": model_id, "registered_at": _now()}
        for event_id, label in (labels or {}).items():
            self.labels.setdefault(model_id, {})[str(event_id)] = [label, key]

    def record_covered(self, key: str, model_id: str, by: str) -> None:
        """``key`` needs no registration of its own: every label in it is registered (``by`` says how)."""
        self.registrations[key] = {"dataset_name": None, "model_id": model_id, "registered_at": _now(),
                                   "covered_by": by}

    def registered_label(self, model_id: str, event_id: str) -> tuple[bool, Any]:
        """(whether the event id has a registered label for the model, that label)."""
        entry = self.labels.get(model_id, {}).get(str(event_id))
        return (entry is not None, entry[0] if entry is not None else None)

    def is_registered(self, key: str) -> bool:
        return key in self.registrations

    def pending_registrations(self) -> list[str]:
        """Keys uploaded but not yet registered, oldest first."""
        pending = [key for key in self.uploads if key not in self.registrations]
        return sorted(pending, key=lambda k: (self.uploads[k].get("uploaded_at", ""), k))

    def uploads_oldest_first(self) -> dict[str, dict[str, Any]]:
        """Every uploaded ground-truth file: ``{key: {datasource, rows, run_id, uploaded_at}}``, oldest first."""
        return dict(sorted(self.uploads.items(), key=lambda item: (str(item[1].get("uploaded_at", "")), item[0])))


@contextmanager
def _locked(ledger: Path) -> Iterator[None]:
    """An exclusive ``flock`` on the ledger's folder (the ledger itself is replaced on every save, and a lock file
    beside it would be one more file in the user's folder). Where the folder cannot be locked (NFS, as a Domino
    dataset on EFS, refuses ``flock`` on a read-only descriptor), the save goes on unlocked, as before locks existed."""
    try:
        fd: int | None = os.open(ledger.parent, os.O_RDONLY)
    except OSError:
        fd = None  # a folder that cannot be opened: the write itself says what is wrong
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:
                pass
        yield
    finally:
        if fd is not None:
            os.close(fd)
