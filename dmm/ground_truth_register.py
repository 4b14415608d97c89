"""One ground-truth registration: its payload, and Model Monitor's 400s answered the way Domino's own tutorial does.

Whether a registration should declare the ``row_identifier``/``ground_truth`` variables is first decided from
``GET /model/{id}/variables/summary``, whose shape no public source documents (domino-api.md §2.2). So the answer
decides in the end: Domino's tutorial (dominodatalab/model-monitoring-setup, ``5_upload_ground_truth.py``,
``upload_config`` and ``retry_with_variable_removal``/``retry_without_row_identifier``) treats two 400s as
expected and re-sends:

- "Variable(s) with name [...] is/are already configured": the named variables are dropped and the rest re-sent
  (another process registered them first, or the endpoint declared ``event_id`` on the prediction side);
- "can be only 1 row_identifier": the model already has its row identifier (an endpoint monitor declares the
  capture's ``event_id``), so the ``row_identifier`` variable is dropped;

and in the end sends ``datasetDetails`` only. A 400 that asks for nothing we can drop is raised. 409 ("already
registered") is the caller's success. The dataset name never changes between attempts: a 400 registered nothing.
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dmm.datasources import bucket_key
from dmm.errors import ApiError

if TYPE_CHECKING:
    from dmm.config import MonitoringConfig
    from dmm.schema import MonitoringSchema

ALREADY_CONFIGURED = "already configured"
ONLY_ONE_ROW_IDENTIFIER = "only 1 row_identifier"
_NAMES = re.compile(r"Variable\(s\) with name \[([^\]]*)\]", re.IGNORECASE)
_ONE_NAME = re.compile(r"Variable '([^']+)' (?:is )?already", re.IGNORECASE)
NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
MAX_DATASET_NAME = 100


def dataset_name(key: str) -> str:
    """A Model Monitor dataset name that is a pure function of the file key."""
    stem = key[:-4] if key.lower().endswith(".csv") else key
    name = NAME_UNSAFE.sub("_", stem.replace("/", "__")).strip("_")
    if len(name) > MAX_DATASET_NAME:
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        name = f"{name[:MAX_DATASET_NAME - 13]}_{digest}"
    return name


def variables_payload(schema: MonitoringSchema, id_column: str, label_column: str) -> list[dict[str, Any]]:
    return [
        {"name": id_column, "variableType": "row_identifier", "valueType": "string"},
        {"name": label_column, "variableType": "ground_truth", "valueType": schema.target_value_type,
         "forPredictionOutput": schema.prediction_name},
    ]


def registration_payload(config: MonitoringConfig, key: str, variables: list[dict[str, Any]] | None,
                         subfolder: str = "") -> dict[str, Any]:
    """``key`` is the object's key in the Domino data source; Model Monitor is given its bucket-relative path."""
    payload: dict[str, Any] = {}
    if variables:
        payload["variables"] = variables
    payload["datasetDetails"] = {
        "name": dataset_name(key),
        "datasetType": "file",
        "datasetConfig": {"path": bucket_key(subfolder, key), "fileFormat": "csv"},
        "datasourceName": config.model_monitor_datasource,  # Model Monitor's name of the bucket (may differ)
        "datasourceType": config.ground_truth_datasource_type,
    }
    return payload


def ground_truth_variables(variables: list[dict[str, Any]], prediction_name: str) -> list[dict[str, Any]]:
    """The model's ground-truth variables that label our prediction (or any, when DMM omits the link)."""
    return [v for v in variables if v.get("variableType") == "ground_truth"
            and v.get("forPredictionOutput") in (None, "", prediction_name)]


@dataclass
class Attempted:
    """What was finally sent, the server's answer, and one sentence per re-send (for the step's summary)."""

    payload: dict[str, Any]
    answer: Any = None
    adjustments: list[str] = field(default_factory=list)

    @property
    def declared(self) -> list[str]:
        return [v["name"] for v in self.payload.get("variables") or []]


def configured_names(message: str) -> list[str] | None:
    """The variable names of an "already configured" answer; None when the answer names none we can read."""
    found = _NAMES.search(message)
    if found:
        inside = found.group(1)
        quoted = re.findall(r"['\"]([^'\"]+)['\"]", inside)
        return quoted or [name.strip() for name in inside.split(",") if name.strip()]
    single = _ONE_NAME.findall(message)
    return single or None


def fewer_variables(payload: dict[str, Any], message: str) -> tuple[dict[str, Any], str] | None:
    """The payload to re-send after a 400 ``message`` (and why), or None when the 400 is not one of the two."""
    variables = list(payload.get("variables") or [])
    if not variables:
        return None
    lowered = message.lower()
    if ALREADY_CONFIGURED in lowered:
        names = configured_names(message)
        kept = [v for v in variables if v["name"] not in names] if names else []
        reason = (f"Model Monitor already had {', '.join(names)}" if names
                  else "Model Monitor said the variables are already configured")
    elif ONLY_ONE_ROW_IDENTIFIER in lowered:
        kept = [v for v in variables if v.get("variableType") != "row_identifier"]
        reason = "the model already has its row identifier (the endpoint's event_id)"
    else:
        return None
    if len(kept) == len(variables):  # nothing we sent was named: fall back to datasetDetails only
        kept = []
    retry = copy.deepcopy(payload)
    if kept:
        retry["variables"] = kept
    else:
        retry.pop("variables", None)
    sent = ", ".join(v["name"] for v in kept) if kept else "datasetDetails only"
    return retry, f"{reason}; re-sent with {sent}"


def register_with_fallback(monitor: Any, model_id: str, payload: dict[str, Any]) -> Attempted:
    """Register ``payload``; after each of the tutorial's two 400s re-send with fewer variables (at most one
    re-send per variable, then ``datasetDetails`` only). Other errors, 409 included, are the caller's."""
    attempt = Attempted(copy.deepcopy(payload))
    while True:
        try:
            attempt.answer = monitor.register_dataset(model_id, "ground_truth", attempt.payload)
            return attempt
        except ApiError as error:
            if error.status != 400:
                raise
            retry = fewer_variables(attempt.payload, f"{error.server_message or ''} {error.message}")
            if retry is None:
                raise
            attempt.payload, why = retry
            attempt.adjustments.append(why)
