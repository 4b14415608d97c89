"""The example endpoint: the example model behind Domino's ``predict(**data)``, captured for Model Monitor.

The schema's ``model_type`` decides what is returned: a classifier's label plus ``prediction_probability`` in the
schema's class order, or a regressor's number alone, each under the target's name.

Deploy this file as a Model API with ``predict`` as its function. It loads ``model.pkl`` (``$MODEL_PATH``, else
found in the working directory, next to this script or in the project root) and ``monitoring_schema.json``
(``$MONITORING_SCHEMA``, else next to this script or where ``prediction_capture_example`` looks), and captures
every prediction through ``prediction_capture_example.MonitoredModel`` (importable once the project is installed,
``pip install -e .``; in a Domino project without the install, keep the template beside this script).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from prediction_capture_example import MonitoredModel, find_schema

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parent

MODEL_FILE_NAME = "model.pkl"
SCHEMA_FILE_NAME = "monitoring_schema.json"

_model: Any = None
_monitored: MonitoredModel | None = None


def model_path() -> Path:
    if os.environ.get("MODEL_PATH"):
        return Path(os.environ["MODEL_PATH"])
    for folder in (Path.cwd(), HERE, PROJECT_ROOT):
        if (folder / MODEL_FILE_NAME).is_file():
            return folder / MODEL_FILE_NAME
    raise FileNotFoundError(f"{MODEL_FILE_NAME} was not found in {Path.cwd()}, {HERE} or {PROJECT_ROOT}; "
                            "run 2_export_model.py (or example/train.py), or set MODEL_PATH")


def schema_path() -> Path:
    if not os.environ.get("MONITORING_SCHEMA") and (HERE / SCHEMA_FILE_NAME).is_file():
        return HERE / SCHEMA_FILE_NAME
    return find_schema()


def loaded() -> tuple[Any, MonitoredModel]:
    global _model, _monitored
    if _model is None:
        import joblib

        _monitored = MonitoredModel.from_schema_file(schema_path())
        _model = joblib.load(model_path())
    return _model, _monitored


def as_frame(monitored: MonitoredModel, features: dict[str, Any]) -> Any:
    """One row in the schema's feature order; a missing numeric value becomes NaN for the pipeline's imputer."""
    import pandas as pd

    row = {name: (math.nan if value is None and monitored.feature_types.get(name) == "numerical" else value)
           for name, value in features.items()}
    return pd.DataFrame([row], columns=monitored.feature_names)


def predict(**kwargs: Any) -> dict[str, Any]:
    model, monitored = loaded()
    event_id = kwargs.pop("event_id", None)
    features = monitored.features_from(kwargs)
    frame = as_frame(monitored, features)
    prediction = model.predict(frame)[0]
    probabilities = None
    if monitored.is_classifier and hasattr(model, "predict_proba"):
        probabilities = monitored.ordered_probabilities(model.predict_proba(frame)[0], model.classes_)
    return monitored.respond(features, prediction, probabilities, event_id)
