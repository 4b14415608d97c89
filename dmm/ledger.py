"""The ledger: which ground-truth files were uploaded and registered, so a rerun does only what is missing.

Kept as ``monitoring_ledger.json`` next to the config; written atomically (temp file, then rename).
"""

from __future__ import annotations

import datetime
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dmm.errors import UsageError
from dmm.files import write_json

LEDGER_FORMAT_VERSION = 1


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


@dataclass
class Ledger:
    path: Path
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    registrations: dict[str, dict[str, Any]] = field(default_factory=dict)

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
                       registrations=dict(data.get("registrations") or {}))
        except (json.JSONDecodeError, AttributeError, TypeError):
            raise UsageError(f"The ledger {path} is not valid JSON",
                             "Fix or delete it (it is rebuilt as uploads and registrations happen)",
                             code="ledger-invalid-json") from None

    def save(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return write_json(self.path, {"ledger_version": LEDGER_FORMAT_VERSION, "uploads": self.uploads,
                                      "registrations": self.registrations}, sort_keys=True)

    def record_upload(self, key: str, datasource: str, rows: int, run_id: str) -> None:
        self.uploads[key] = {"datasource": datasource, "rows": int(rows), "run_id": run_id, "uploaded_at": _now()}

    def record_registration(self, key: str, dataset_name: str, model_id: str) -> None:
        self.registrations[key] = {"dataset_name": dataset_name, "model_id": model_id, "registered_at": _now()}

    def is_registered(self, key: str) -> bool:
        return key in self.registrations

    def pending_registrations(self) -> list[str]:
        """Keys uploaded but not yet registered, oldest first."""
        pending = [key for key in self.uploads if key not in self.registrations]
        return sorted(pending, key=lambda k: (self.uploads[k].get("uploaded_at", ""), k))

    def uploads_oldest_first(self) -> dict[str, dict[str, Any]]:
        """Every uploaded ground-truth file: ``{key: {datasource, rows, run_id, uploaded_at}}``, oldest first."""
        return dict(sorted(self.uploads.items(), key=lambda item: (str(item[1].get("uploaded_at", "")), item[0])))
