"""Prediction capture for a Domino Model API: copy this file next to your endpoint's script.

Domino calls ``predict(**kwargs)`` with the keys of the request's ``data`` object as keyword arguments. For
Domino Model Monitor to match everything by name, this template:

- reads ``monitoring_schema.json`` (written by step 1) for the feature names in order, the target column (the
  prediction is captured and returned under that name) and, for classifiers, the class labels;
- captures each prediction with ``domino_data_capture`` after converting numpy/pandas values to plain Python
  (NaN and infinity become null, so every captured line is strict JSON);
- generates an ``event_id`` (or uses the caller's ``event_id``) and returns it with a UTC timestamp, so the
  caller can write ground truth that joins on it;
- never lets a capture problem fail the prediction: it is logged instead;
- keeps one capture client, converts each value once per prediction, and reuses the library's logger setup
  (``domino_data_capture`` otherwise builds a new logger manager, opening the log file, on every call; the lines
  it writes are the same either way).

Development mode: outside a deployed Model API (``HOSTNAME`` not ``model-<version>-…``) ``domino_data_capture``
prints each record to stderr and also appends it to ``/tmp/dummy.log`` (its ``get_scrape_location`` fallback;
the file handler's level lets the console records through). That file grows without bound in a long-running
workspace: delete it when you no longer need it.

To use it with your model, keep ``MonitoredModel`` and replace the body marked "REPLACE THIS" in ``predict``.
The schema is found through ``$MONITORING_SCHEMA``, else next to this file, ``./``, ``/mnt/code``, ``/mnt`` or
``/mnt/artifacts``. Only the standard library and ``domino_data_capture`` are required (numpy is optional).
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SCHEMA_FILE_NAME = "monitoring_schema.json"
SCHEMA_ENV = "MONITORING_SCHEMA"
CAPTURE_LOGGER_NAME = "domino_data_capture.logger"

log = logging.getLogger("prediction_capture")


def schema_search_paths() -> list[Path]:
    """Where the schema is looked for, in order."""
    paths = []
    if os.environ.get(SCHEMA_ENV):
        paths.append(Path(os.environ[SCHEMA_ENV]))
    folders = (Path(__file__).resolve().parent, Path.cwd(), Path("/mnt/code"), Path("/mnt"), Path("/mnt/artifacts"))
    for folder in folders:
        paths.append(folder / SCHEMA_FILE_NAME)
    return list(dict.fromkeys(paths))  # this file's folder is often the current one


def find_schema() -> Path:
    for path in schema_search_paths():
        if path.is_file():
            return path
    searched = ", ".join(str(p) for p in schema_search_paths())
    raise FileNotFoundError(f"{SCHEMA_FILE_NAME} was not found (searched {searched}). Copy the file written by "
                            f"1_register_training_set.py next to this script, or set {SCHEMA_ENV} to its path.")


_PLAIN_TYPES = frozenset({str, bool, int, type(None)})


def to_jsonable(value: Any) -> Any:
    """Plain-Python, strict-JSON form of a value: numpy/pandas scalars and arrays unwrapped, NaN/inf -> None."""
    kind = type(value)
    if kind in _PLAIN_TYPES:  # the common case, decided without the isinstance chain below
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return value
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas.NA, pandas.NaT
        return None
    if hasattr(value, "isoformat"):  # datetime, date, time, pandas.Timestamp
        return value.isoformat()
    if hasattr(value, "tolist"):  # numpy arrays and scalars, pandas Series/Index
        return to_jsonable(value.tolist())
    if hasattr(value, "item"):
        return to_jsonable(value.item())
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    try:
        number = float(value)  # Decimal, Fraction
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) else None


def _single(value: Any) -> Any:
    """``model.predict(one_row)`` returns a one-element array; capture and return the element."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def _unwrap_row(value: Any) -> Any:
    """``predict_proba(one_row)`` returns ``[[p0, p1, ...]]``; keep the row."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        return value[0]
    return value


def utc_now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


class _Features(dict):
    """Features ``features_from`` already put in schema order and converted, so ``respond`` does not redo it."""


class MonitoredModel:
    """The names from the monitoring schema plus prediction capture that never fails the prediction."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.feature_names: list[str] = [f["name"] for f in schema["features"]]
        self.prediction_name: str = schema["target"]["name"]
        self.model_type: str = schema.get("model_type", "classification")
        self.class_labels: list[Any] = list(schema["target"].get("class_labels") or [])
        self.feature_types: dict[str, str] = {f["name"]: f.get("value_type", "numerical") for f in schema["features"]}
        self._client: Any = None
        self._client_error: str | None = None

    @classmethod
    def from_schema_file(cls, path: str | os.PathLike[str] | None = None) -> MonitoredModel:
        return cls(load_schema(Path(path) if path else find_schema()))

    @property
    def is_classifier(self) -> bool:
        return self.model_type == "classification"

    def features_from(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The request's features in the schema's order, as plain Python; a missing one is the caller's error."""
        missing = [name for name in self.feature_names if name not in inputs]
        if missing:
            raise ValueError(f"Missing feature(s) {', '.join(missing)}: send every feature of the monitoring schema "
                             f"in 'data' ({', '.join(self.feature_names)})")
        return _Features((name, to_jsonable(inputs[name])) for name in self.feature_names)

    def ordered_probabilities(self, probabilities: Sequence[Any], model_classes: Sequence[Any]) -> list[Any]:
        """Reorder ``predict_proba`` output (in ``model.classes_`` order) into the schema's class-label order."""
        values = _unwrap_row(to_jsonable(probabilities))
        by_class = {str(to_jsonable(c)): p for c, p in zip(model_classes, values, strict=False)}
        if not self.class_labels:
            return list(by_class.values())
        return [by_class.get(str(label)) for label in self.class_labels]

    def capture(self, features: Mapping[str, Any], prediction: Any, probabilities: Any = None,
                event_id: Any = None) -> dict[str, str]:
        """Record one prediction for Domino Model Monitor; returns the ``event_id`` and ``timestamp`` used."""
        return self._record(self.features_from(features), _single(to_jsonable(prediction)),
                            _unwrap_row(to_jsonable(probabilities)), event_id)

    def _record(self, ordered: Mapping[str, Any], prediction: Any, probabilities: Any,
                event_id: Any) -> dict[str, str]:
        """``capture`` for values already converted (``features_from``, ``to_jsonable``): nothing converted twice."""
        event_id = str(event_id) if event_id not in (None, "") else str(uuid.uuid4())
        timestamp = utc_now_iso()
        try:
            client = self._capture_client()
            if client is not None:
                client.capturePrediction(list(ordered.values()), [prediction], event_id=event_id,
                                         timestamp=timestamp, prediction_probability=probabilities)
        except Exception as exc:  # capture must never fail the prediction
            log.warning("Prediction capture failed for event %s (the prediction is still returned): %r", event_id, exc)
        return {"event_id": event_id, "timestamp": timestamp}

    def respond(self, features: Mapping[str, Any], prediction: Any, probabilities: Any = None,
                event_id: Any = None) -> dict[str, Any]:
        """Capture, then build what the endpoint returns: the prediction under the target's name, and the join key."""
        prediction = _single(to_jsonable(prediction))
        probabilities = _unwrap_row(to_jsonable(probabilities))
        ordered = features if isinstance(features, _Features) else self.features_from(features)
        captured = self._record(ordered, prediction, probabilities, event_id)
        result: dict[str, Any] = {self.prediction_name: prediction}
        if self.is_classifier and probabilities is not None:
            result["prediction_probability"] = probabilities
        result.update(captured)
        return result

    def _capture_client(self) -> Any:
        """Built on first use; a construction failure (e.g. HOSTNAME="model") is logged once and disables capture."""
        if self._client is not None or self._client_error is not None:
            return self._client
        try:
            from domino_data_capture.data_capture_client import DataCaptureClient

            self._client = DataCaptureClient(self.feature_names, [self.prediction_name])
        except Exception as exc:
            self._client_error = repr(exc)
            log.warning("Prediction capture is disabled: DataCaptureClient could not be created (%r)", exc)
            return None
        _stop_capture_echo()
        _reuse_capture_logger()
        return self._client


def _stop_capture_echo() -> None:
    """Keep captured records out of the root logger: otherwise an application's logging setup (or the library's
    own ``logging.error`` on a bad record) echoes every captured line to stderr. The logger must be created with
    the library's logger class, which the library would otherwise set on first capture."""
    from domino_data_capture.logger import PredictionLogger

    previous = logging.getLoggerClass()
    logging.setLoggerClass(PredictionLogger)
    try:
        logging.getLogger(CAPTURE_LOGGER_NAME).propagate = False
    finally:
        logging.setLoggerClass(previous)


def _reuse_capture_logger() -> None:
    """Build ``domino_data_capture``'s logger manager once per log file instead of on every capture.

    ``capturePrediction`` calls ``PredictionLoggerManager(get_scrape_location(), is_dev_mode)`` each time, which
    creates a ``WatchedFileHandler`` (an ``open()`` of the log) and a console handler, then attaches them only if the
    process-wide logger ``domino_data_capture.logger`` has none yet (its ``logger.py``). Every call after the first
    therefore writes through the same logger and handlers; reusing the manager for the same file and mode keeps
    those lines byte for byte and skips the discarded handlers. If the library's layout differs, nothing changes.
    """
    from domino_data_capture import data_capture_client as library

    build = getattr(library, "PredictionLoggerManager", None)
    if build is None or getattr(build, "reused_per_file", False):
        return
    managers: dict[tuple[str, bool], Any] = {}

    def reused(filename: str, is_dev_mode: bool) -> Any:
        key = (filename, bool(is_dev_mode))
        if key not in managers:
            managers[key] = build(filename, is_dev_mode)
        return managers[key]

    reused.reused_per_file = True  # type: ignore[attr-defined]
    library.PredictionLoggerManager = reused


class SchemaFileError(ValueError):
    """The monitoring schema file cannot be used; the message names the file and the fix."""


_SCHEMA_FIX = "Copy the monitoring_schema.json that 1_register_training_set.py wrote next to this script again"


def _schema_problem(data: Any) -> str | None:
    """Why ``data`` is not a monitoring schema (the keys this template reads), or None."""
    if not isinstance(data, dict):
        return f"it holds a JSON {type(data).__name__}, not an object"
    features = data.get("features")
    if not isinstance(features, list) or not features:
        return "it has no \"features\" list"
    if not all(isinstance(f, dict) and isinstance(f.get("name"), str) for f in features):
        return "a feature has no \"name\""
    target = data.get("target")
    if not isinstance(target, dict) or not isinstance(target.get("name"), str):
        return "it has no \"target\" with a \"name\""
    return None


def load_schema(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The schema file's JSON, checked for every key ``MonitoredModel`` reads; ``SchemaFileError`` names the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SchemaFileError(f"The monitoring schema {path} is not UTF-8 text. {_SCHEMA_FIX}.") from None
    except OSError as exc:
        raise SchemaFileError(f"The monitoring schema {path} could not be read ({exc.strerror or exc}). "
                              f"{_SCHEMA_FIX}.") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaFileError(f"The monitoring schema {path} is not valid JSON (line {exc.lineno}: {exc.msg}); it may "
                              f"have been cut short. {_SCHEMA_FIX}.") from None
    problem = _schema_problem(data)
    if problem:
        raise SchemaFileError(f"{path} is not a monitoring schema ({problem}). {_SCHEMA_FIX}.")
    return data


# --------------------------------------------------------------------------------------------------------------
# The endpoint. Domino calls predict(**data).

_monitored: MonitoredModel | None = None


def monitored_model() -> MonitoredModel:
    global _monitored
    if _monitored is None:
        _monitored = MonitoredModel.from_schema_file()
    return _monitored


def toy_model(monitored: MonitoredModel, features: Mapping[str, Any]) -> tuple[Any, list[float] | None]:
    """A stand-in model driven by the schema alone, so this file runs unchanged anywhere."""
    numbers = [float(v) for v in features.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    score = sum(numbers) / len(numbers) if numbers else 0.0
    if not monitored.is_classifier:
        return score, None
    labels = monitored.class_labels or [0, 1]
    chosen = int(abs(score)) % len(labels)
    rest = 0.2 / (len(labels) - 1) if len(labels) > 1 else 0.0
    probabilities = [0.8 if i == chosen else rest for i in range(len(labels))] if len(labels) > 1 else [1.0]
    return labels[chosen], probabilities


def predict(**kwargs: Any) -> dict[str, Any]:
    monitored = monitored_model()
    event_id = kwargs.pop("event_id", None)
    features = monitored.features_from(kwargs)

    # ---- REPLACE THIS with your model: compute the prediction (and, for classifiers, the probabilities in
    # ---- monitored.class_labels order; monitored.ordered_probabilities(model.predict_proba(X)[0], model.classes_)).
    prediction, probabilities = toy_model(monitored, features)
    # ---- end of the part to replace

    return monitored.respond(features, prediction, probabilities, event_id)


def demo(argv: Sequence[str] | None = None) -> int:
    """``python prediction_capture_example.py``: one prediction for an all-zero row, as the endpoint returns it."""
    import argparse
    import sys

    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    try:
        example = monitored_model()
    except (FileNotFoundError, SchemaFileError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 2
    row = {f: 0 for f in example.feature_names}
    print(json.dumps(predict(**row), indent=2))
    return 0


def _load_at_model_start() -> None:
    """Domino loads the model by importing this file: a schema that is found but unusable stops it there, with one
    error naming the file, rather than as a KeyError in the first predict(). A schema not found yet is reported by
    the first predict() (and by ``demo``), so importing this file elsewhere needs none."""
    try:
        find_schema()
    except FileNotFoundError:
        return
    monitored_model()


# --------------------------------------------------------------------------------------------------------------
# A model deployed from the Model Registry (Domino 6). Such an endpoint runs no predict() of yours: Domino loads the
# registered MLflow model, enforces its signature and returns the pyfunc's output, a list of rows (Domino's field
# notes, github.com/dominodatalab/Fraud-Detection-Workshop monitoring_blueprints/DOMINO_PLATFORM_NOTES.md §2c, and
# their templates/model_pyfunc_with_capture.py: capture must be baked into the pyfunc). CapturingModel wraps your
# model so that each row is captured like predict() above and answered with its event_id:
#
#     mlflow.pyfunc.log_model(<"name" in MLflow 3, "artifact_path" in 2>="model",
#                             python_model=prediction_capture_example.CapturingModel(),
#                             artifacts={"model": "runs:/<run id>/model", "schema": "monitoring_schema.json"},
#                             code_paths=["prediction_capture_example.py"],
#                             signature=prediction_capture_example.capture_signature(schema),
#                             registered_model_name="churn-model")
#
# (python 2_export_model.py ... --wrap-capture NAME does exactly this), then deploy that version from the Model
# Registry. Requests carry the features and, optionally, an "event_id" column (the caller's id for the prediction);
# each answer row holds event_id, the prediction under the target's name, timestamp and (classifiers)
# prediction_probability. The inner model is loaded with its own flavour (scikit-learn: predict_proba is used).
# CapturingModel is built on first use, so importing this file still needs no mlflow.

_capturing_model_class: Any = None


def _signature_type(feature: Mapping[str, Any]) -> str:
    """MLflow column type for a schema feature, from the training column's dtype, as ``infer_signature`` on the
    training frame would give it: MLflow's enforcement refuses int64 for a double column and floats for a long one,
    so the types must be those the callers send (the training data's). Booleans are long: a registry endpoint takes
    them as 0/1. Anything else is a string."""
    dtype = str(feature.get("dtype") or "").lower()
    if dtype.startswith(("int", "uint", "bool")):
        return "long"
    if dtype.startswith("float") or (not dtype and feature.get("value_type", "numerical") == "numerical"):
        return "double"
    return "string"


def capture_signature(schema: Mapping[str, Any]) -> Any:
    """The wrapped model's input signature: the schema's features in order, plus an optional ``event_id``."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    columns: list[Any] = [ColSpec(_signature_type(f), f["name"]) for f in schema["features"]]
    columns.append(ColSpec("string", "event_id", required=False))
    return ModelSignature(inputs=Schema(columns))


def _load_inner_model(path: str) -> Any:
    from mlflow.models import Model

    flavors = Model.load(path).flavors
    if "sklearn" in flavors:
        import mlflow.sklearn

        return mlflow.sklearn.load_model(path)
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(path)


def capturing_model_class() -> Any:
    """``CapturingModel``, an ``mlflow.pyfunc.PythonModel`` (made once, importable by name for MLflow's pickling)."""
    global _capturing_model_class
    if _capturing_model_class is not None:
        return _capturing_model_class
    import mlflow.pyfunc

    _capturing_model_class = _define_capturing_model(mlflow.pyfunc.PythonModel)
    return _capturing_model_class


def _define_capturing_model(base: Any) -> Any:
    # MLflow 3 warns that predict() has no type hints: on purpose, it would read them as a signature
    class CapturingModel(base):
        def load_context(self, context: Any) -> None:
            self.monitored = MonitoredModel.from_schema_file(context.artifacts["schema"])
            self.model = _load_inner_model(context.artifacts["model"])

        def predict(self, context, model_input, params=None):  # untyped: MLflow 3 reads hints as a signature
            import pandas as pd

            monitored = self.monitored
            frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
            features = frame[monitored.feature_names]
            predictions = to_jsonable(self.model.predict(features))
            probabilities: list[Any] = [None] * len(frame)
            if monitored.is_classifier and hasattr(self.model, "predict_proba"):
                classes = getattr(self.model, "classes_", monitored.class_labels)
                probabilities = [monitored.ordered_probabilities(row, classes)
                                 for row in to_jsonable(self.model.predict_proba(features))]
            ids = frame["event_id"].tolist() if "event_id" in frame.columns else [None] * len(frame)
            rows = []
            for position, record in enumerate(features.to_dict("records")):
                event_id = ids[position]
                event_id = None if event_id is None or event_id != event_id else event_id  # NaN: none sent
                answer = monitored.respond(record, predictions[position], probabilities[position], event_id)
                rows.append({"event_id": answer.pop("event_id"), **answer})
            return pd.DataFrame(rows)

    CapturingModel.__module__ = __name__
    CapturingModel.__qualname__ = "CapturingModel"
    return CapturingModel


def __getattr__(name: str) -> Any:
    if name == "CapturingModel":
        return capturing_model_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    raise SystemExit(demo())
else:
    _load_at_model_start()
