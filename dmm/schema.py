"""The monitoring schema: the single source of truth for names, written by step 1 and read by every later step.

``monitoring_schema.json`` holds the features in order with their value types, the target (which is also the
name the prediction is captured under), the model type, the class labels, and the key and timestamp columns.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from dmm.errors import ConfigError, UsageError
from dmm.files import write_json

SCHEMA_FILE_NAME = "monitoring_schema.json"
SCHEMA_FORMAT_VERSION = 1
REQUIRED_KEYS = ("training_set", "model_type", "target", "features")  # what from_dict reads

ValueType = Literal["numerical", "categorical"]
ModelType = Literal["classification", "regression"]


@dataclass(frozen=True)
class Feature:
    name: str
    value_type: ValueType
    dtype: str = ""
    example: Any = None


@dataclass(frozen=True)
class MonitoringSchema:
    training_set_name: str
    training_set_version: int | None
    model_type: ModelType
    target: str
    features: tuple[Feature, ...]
    class_labels: tuple[Any, ...] = ()
    key_columns: tuple[str, ...] = ()
    timestamp_column: str | None = None
    excluded_columns: tuple[str, ...] = field(default_factory=tuple)
    # {"model_id": the monitor (or None), "version": N}: the training-set version that monitor was created from, kept
    # when step 1 registers a newer version, so step 6 can say the monitor still uses N (it cannot be asked: §2)
    monitor_pin: dict[str, Any] | None = None

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def prediction_name(self) -> str:
        """Domino's integrated monitoring matches the captured prediction to the training set's target by name."""
        return self.target

    @property
    def ground_truth_column(self) -> str:
        """The label column of ground-truth files: a name of its own, as in Domino's sample (``y`` -> ``y_gt``).

        Model Monitor refuses a ground-truth variable named like a variable the model already has (the
        prediction carries the target's name), so the label cannot simply reuse it.
        """
        return f"{self.target}_gt"

    @property
    def target_value_type(self) -> ValueType:
        return "categorical" if self.model_type == "classification" else "numerical"

    def feature(self, name: str) -> Feature:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    def sample_row(self) -> dict[str, Any]:
        """One input row built from the schema's example values, for live checks of an endpoint."""
        return {f.name: f.example for f in self.features}

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_FORMAT_VERSION,
            "training_set": {"name": self.training_set_name, "version": self.training_set_version,
                             **({"monitor": dict(self.monitor_pin)} if self.monitor_pin else {})},
            "model_type": self.model_type,
            "target": {"name": self.target, "value_type": self.target_value_type,
                       "class_labels": list(self.class_labels)},
            "features": [asdict(f) for f in self.features],
            "key_columns": list(self.key_columns),
            "timestamp_column": self.timestamp_column,
            "excluded_columns": list(self.excluded_columns),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MonitoringSchema:
        try:
            return cls(
                training_set_name=data["training_set"]["name"],
                training_set_version=data["training_set"].get("version"),
                model_type=data["model_type"],
                target=data["target"]["name"],
                class_labels=tuple(data["target"].get("class_labels") or ()),
                features=tuple(Feature(**f) for f in data["features"]),
                key_columns=tuple(data.get("key_columns") or ()),
                timestamp_column=data.get("timestamp_column"),
                excluded_columns=tuple(data.get("excluded_columns") or ()),
                monitor_pin=data["training_set"].get("monitor") or None,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise UsageError(f"The monitoring schema is incomplete or malformed ({exc!r})",
                             "Recreate it by running 1_register_training_set.py again",
                             code="schema-malformed") from None

    def save(self, path: str | os.PathLike[str]) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MonitoringSchema:
        from dmm.paths import read_text

        path = Path(path)
        if not path.exists() and not path.is_symlink():
            raise UsageError(f"No monitoring schema at {path}",
                             "Run 1_register_training_set.py first; it writes monitoring_schema.json",
                             code="schema-missing")
        text = read_text(path, "The monitoring schema", thing="schema")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"The monitoring schema {path} is not valid JSON (line {exc.lineno}: {exc.msg}); "
                             "it may have been cut short", "Recreate it by running 1_register_training_set.py again",
                             code="schema-invalid-json") from None
        missing = [key for key in REQUIRED_KEYS if key not in data] if isinstance(data, dict) else list(REQUIRED_KEYS)
        if missing:
            raise UsageError(f"{path} is not a monitoring schema (it has no {', '.join(missing)})",
                             "Point to the monitoring_schema.json that 1_register_training_set.py wrote, or run "
                             "that step again", code="schema-malformed")
        try:
            return cls.from_dict(data)
        except UsageError as error:
            raise UsageError(f"The monitoring schema {path} is malformed: {error.message}", error.advice,
                             code=error.code) from None


def default_schema_path() -> Path:
    """Next to the config when one can be found (so later steps find it), else the current folder."""
    from dmm.config import find_config_path

    try:
        return find_config_path().parent / SCHEMA_FILE_NAME
    except ConfigError:  # no config yet (the usual case before step 3)
        return Path.cwd() / SCHEMA_FILE_NAME


def check_schema_path(path: str | os.PathLike[str], flag: str = "--schema-out") -> Path:
    """Raise ``UsageError`` unless the schema can be written at ``path`` (checked before anything is registered)."""
    from dmm.dataio import check_output_dir
    from dmm.paths import refuse_link_loop

    path = Path(path)
    refuse_link_loop(path, flag)
    if path.is_dir():
        raise UsageError(f"The schema path {path} is a folder", f"Pass a file path with {flag}",
                         code="schema-path-is-a-folder")
    check_output_dir(path.parent, flag)
    return path
