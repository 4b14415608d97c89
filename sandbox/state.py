"""The sandbox's state: one folder, one JSON document of records plus the files Domino would keep on disk."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class SandboxState:
    """Records kept in ``<root>/state.json`` (saved after every change, so they survive restarts)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        for folder in (self.training_set_root, self.objects_root, self.capture_dir, self.prediction_data_dir,
                       self.models_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._file = self.root / "state.json"
        self._data: dict[str, Any] = json.loads(self._file.read_text()) if self._file.exists() else {}

    @property
    def training_set_root(self) -> Path:
        """What ``DOMINO_TRAINING_SET_PATH`` points at: the client writes the parquet files here itself."""
        return self.root / "trainingsets"

    @property
    def objects_root(self) -> Path:
        """The object store behind data sources: ``<objects_root>/<datasource id>/<key>``."""
        return self.root / "objects"

    @property
    def capture_dir(self) -> Path:
        """``PREDICTION_DATA_DIRECTORY`` of every model process: capture logs land here."""
        return self.root / "capture"

    @property
    def datasets_dir(self) -> Path:
        """What ``DOMINO_DATASETS_DIR`` points at, as in a Domino workspace: the project's datasets are mounted
        under ``<datasets_dir>/local/<name>``."""
        return self.root / "datasets"

    @property
    def prediction_data_dir(self) -> Path:
        """The ``prediction_data`` dataset that ingestion writes (``<version>/$$date$$=…/$$hour$$=…``), where a
        workspace mounts it: ``$DOMINO_DATASETS_DIR/local/prediction_data``."""
        return self.datasets_dir / "local" / "prediction_data"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @contextmanager
    def transaction(self) -> Iterator[dict[str, Any]]:
        """Read-modify-write the records under one lock; saved atomically on success."""
        with self._lock:
            yield self._data
            self._save()

    @contextmanager
    def reading(self) -> Iterator[dict[str, Any]]:
        with self._lock:
            yield self._data

    def collection(self, data: dict[str, Any], name: str) -> dict[str, Any]:
        return data.setdefault(name, {})

    def next_id(self, data: dict[str, Any], prefix: str) -> str:
        counters = data.setdefault("_counters", {})
        counters[prefix] = counters.get(prefix, 0) + 1
        # 24 hex chars, like Domino's Mongo ids, but readable and stable across restarts
        return f"{prefix[:4]:<4}".replace(" ", "0").encode().hex()[:8] + f"{counters[prefix]:016x}"

    def _save(self) -> None:
        # 0600: the records hold the Model API access tokens and the object store's signing secret
        tmp = self._file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(self._data, indent=1, default=str))
        tmp.replace(self._file)
