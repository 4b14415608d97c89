"""What step 6's checks learn, memoised on one ``CheckContext`` for the later checks and the preview.

The context reaches Domino only through a ``dmm.services.Services`` (``DominoServices`` in a run, a fake in tests),
built from the config once the config check has loaded it. Nothing is read or contacted until a check asks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dmm.checks.result import CheckResult
from dmm.config import MonitoringConfig, load_config
from dmm.errors import DmmError
from dmm.prediction_files import (
    PredictionFile,
    default_roots,
    list_prediction_files,
    read_footers,
    resolve_prediction_dir,
)
from dmm.schema import MonitoringSchema
from dmm.services import DominoServices, Services

if TYPE_CHECKING:
    import pandas as pd

    from dmm.checks.ground_truth import GroundTruth
    from dmm.ledger import Ledger
    from dmm.monitor import ModelMonitorClient

DEFAULT_WINDOW = timedelta(days=7)

ConfigLoader = Callable[[str | None, Mapping[str, str] | None], MonitoringConfig]
Connect = Callable[[MonitoringConfig], Services]


@dataclass(frozen=True)
class CheckInputs:
    """What the user told step 6."""

    config_path: str | None = None
    env: Mapping[str, str] | None = None
    prediction_data: str | Path | None = None
    ground_truth_file: str | Path | None = None
    start: datetime | None = None
    end: datetime | None = None
    probe: bool = True  # False with --no-probe: the endpoint check sends nothing


def connect_to_domino(env: Mapping[str, str] | None = None) -> Connect:
    """The real services for a loaded config."""
    return lambda config: DominoServices(config, env)


class Memo:
    """Values computed once on first use and shared by the checks and the preview."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def get(self, key: str, compute: Callable[[], Any]) -> Any:
        if key not in self._values:
            self._values[key] = compute()
        return self._values[key]

    def peek(self, key: str) -> Any:
        """The value if computed, else None; computes nothing."""
        return self._values.get(key)

    def put(self, key: str, value: Any) -> None:
        self._values[key] = value


@dataclass
class CheckContext:
    inputs: CheckInputs = field(default_factory=CheckInputs)
    connect: Connect | None = None  # config -> services; default: DominoServices over inputs.env
    load_config: ConfigLoader = load_config
    memo: Memo = field(default_factory=Memo)
    results: dict[str, CheckResult] = field(default_factory=dict)

    # The window every look at predictions uses.
    @property
    def end(self) -> datetime:
        return self.inputs.end or datetime.now(timezone.utc)

    @property
    def start(self) -> datetime:
        return self.inputs.start or self.end - DEFAULT_WINDOW

    @property
    def env(self) -> Mapping[str, str]:
        return os.environ if self.inputs.env is None else self.inputs.env

    @property
    def config(self) -> MonitoringConfig:
        return self.memo.get("config", lambda: self.load_config(self.inputs.config_path, self.inputs.env))

    @property
    def services(self) -> Services:
        connect = self.connect or connect_to_domino(self.inputs.env)
        return self.memo.get("services", lambda: connect(self.config))

    @property
    def schema(self) -> MonitoringSchema:
        return self.memo.get("schema", lambda: MonitoringSchema.load(Path(self.config.schema_path)))

    @property
    def monitor(self) -> ModelMonitorClient:
        return self.services.monitor

    @property
    def model(self) -> dict[str, Any]:
        return self.memo.get("model", lambda: self.monitor.get_model(self.config.model_monitor_id))

    @property
    def variables(self) -> list[dict[str, Any]]:
        return self.memo.get("variables", lambda: list(self.monitor.variables(self.config.model_monitor_id) or []))

    @property
    def training_version(self) -> Any:
        name, number = self.schema.training_set_name, self.schema.training_set_version
        if number is None:
            raise DmmError(f"{self.config.schema_path} names no training set version",
                           "Run 1_register_training_set.py again; it records the version it created")
        return self.memo.get("training_version", lambda: self.services.training_set_version(name, number))

    @property
    def training_frame(self) -> pd.DataFrame:
        return self.memo.get("training_frame", lambda: self.training_version.load_raw_pandas())

    @property
    def prediction_dir(self) -> Path | None:
        return self.memo.get("prediction_dir", lambda: resolve_prediction_dir(
            self.inputs.prediction_data, self.model_version_id(), default_roots(self.env)))

    @property
    def prediction_files(self) -> list[PredictionFile]:
        def compute() -> list[PredictionFile]:
            folder = self.prediction_dir
            return list_prediction_files(folder, self.start, self.end) if folder else []
        return self.memo.get("prediction_files", compute)

    @property
    def prediction_footers(self) -> dict[Path, Any]:
        """The parquet footer of each prediction file, read once (the summary and the one pass share them)."""
        return self.memo.get("prediction_footers", lambda: read_footers(self.prediction_files))

    @property
    def ledger(self) -> Ledger:
        return self.services.ledger

    @property
    def ground_truth(self) -> GroundTruth | None:
        from dmm.checks.ground_truth import load_ground_truth

        return self.memo.get("ground_truth", lambda: load_ground_truth(self))

    def model_version_id(self) -> str | None:
        """The endpoint version whose captures the DMM model watches, when DMM says so."""
        try:
            details = (self.model or {}).get("sourceDetails") or {}
        except DmmError:
            return None
        return details.get("workbenchModelVersionId")

    def variable_named(self, variable_type: str) -> list[dict[str, Any]]:
        return [v for v in self.variables if v.get("variableType") == variable_type]
