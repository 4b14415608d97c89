"""Domino Model Monitor's REST API v2 (``/model-monitor/v2/api``) and its scheduler (``/model-monitor/api/scheduler``).

Payload rules live in ``sandbox.monitor_rules``, stored data in ``sandbox.monitor_data``, analyses in
``sandbox.monitor_analysis``, switchable [uncertain] behaviours in ``sandbox.monitor_options``.
"""

from __future__ import annotations

import copy
import time
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
from flask import Blueprint, current_app, jsonify, request

from sandbox.errors import RouteError
from sandbox.monitor_data import INGESTED_AT, store_ground_truth
from sandbox.monitor_options import OPTIONS
from sandbox.monitor_rules import check_ground_truth, check_model_config, check_prediction, refuse
from sandbox.routes.common import current_state, json_body
from sandbox.state import SandboxState
from sandbox.store import (
    DMM_DATASOURCES,
    DMM_JOBS,
    DMM_MODELS,
    domino_datasource,
    file_columns,
    monitor_dir,
    object_file,
    public,
    read_table,
    row_count,
)

blueprint = Blueprint("monitor", __name__, url_prefix="/model-monitor")
API = "/v2/api"
SCHEDULER = "/api/scheduler"


def _now() -> int:
    return int(time.time())


def _model(data: dict[str, Any], model_id: str | None) -> dict[str, Any]:
    if not model_id:
        raise refuse("model_id is required")
    record = data.get(DMM_MODELS, {}).get(model_id)
    if record is None:
        raise RouteError(404, f"Model {model_id} not found")
    return record


def _snapshot(model_id: str | None) -> dict[str, Any]:
    """A copy of the model record, for analyses that read files: they run without holding the state lock."""
    with current_state().reading() as data:
        return copy.deepcopy(_model(data, model_id))


def _required_args(*names: str) -> dict[str, str]:
    missing = [name for name in names if request.args.get(name) in (None, "")]
    if missing:
        raise refuse(f"Required query parameter(s) {missing} missing")
    return {name: request.args[name] for name in names}


def _int_arg(name: str) -> int:
    try:
        return int(request.args[name])
    except ValueError:
        raise refuse(f"{name} must be an integer") from None


def render_model(record: dict[str, Any]) -> dict[str, Any]:
    shown = public(record)
    shown["groundTruthVariables"] = record.get("_groundTruthVariables", [])
    if not OPTIONS["model_reports_training_set"]:
        shown.pop("trainingSet", None)
    if not OPTIONS["model_reports_ingestion_errors"]:
        shown.pop("ingestionErrors", None)
    return shown


# ---------------------------------------------------------------------------------------------------- datasets

def _dataset_file(state: SandboxState, data: dict[str, Any], details: dict[str, Any]) -> tuple[Path, str]:
    """The file a datasetDetails names: a DMM data source, and the object in the Domino data source of that name."""
    name = details["datasourceName"]
    dmm_source = next((s for s in data.get(DMM_DATASOURCES, {}).values() if s["name"] == name), None)
    if dmm_source is None:
        raise refuse(f"Data source {name} is not registered in Model Monitor; add it under Model Monitor > "
                     f"Data Sources first")
    if OPTIONS["check_datasource_type"] and details["datasourceType"] != dmm_source["type"]:
        raise refuse(f"datasourceType {details['datasourceType']} does not match the type {dmm_source['type']} "
                     f"of data source {name}")
    key = details["datasetConfig"]["path"]
    path = bucket_object_file(state, data, dmm_source, key)
    if path is None:
        raise refuse(f"File {key} was not found in data source {name}")
    return path, details["datasetConfig"]["fileFormat"]


def bucket_object_file(state: SandboxState, data: dict[str, Any], dmm_source: dict[str, Any], key: str) -> Path | None:
    """The file at the bucket-relative ``key`` of a Model Monitor data source's bucket.

    Model Monitor's data source and Domino's are separate objects that may carry different names (a public Domino
    demo uploads through ``demo-bucket`` and registers ``se-demo-bucket``); what joins them is the bucket. A Domino
    data source with a subfolder keeps its keys under ``<subfolder>/`` of the bucket, and Model Monitor reads
    bucket-relative paths. A Model Monitor data source whose config names no bucket that any Domino data source
    has is read through the Domino data source of the same name (the sandbox's older, lenient reading)."""
    bucket = (dmm_source.get("config") or {}).get("bucket")
    sources = [record for record in data.get("datasources", {}).values()
               if record.get("bucket", record["name"]) == bucket]
    if not sources:
        same_name = domino_datasource(data, dmm_source["name"])
        sources = [same_name] if same_name else []
    for record in sources:
        subfolder = record.get("subfolder", "")
        if subfolder and not key.startswith(subfolder + "/"):
            continue
        found = object_file(state, record["id"], key[len(subfolder) + 1:] if subfolder else key)
        if found is not None:
            return found
    return None


def _check_columns(path: Path, file_format: str, wanted: list[str], key: str) -> None:
    try:
        columns = set(file_columns(path, file_format))
    except Exception as error:  # noqa: BLE001 - any unreadable file is the caller's problem, named as such
        raise refuse(f"File {key} could not be read as {file_format}: {error}") from None
    missing = [name for name in wanted if name not in columns]
    if missing:
        raise refuse(f"Column(s) {missing} declared in the variables are missing from file {key}")


def _check_dataset_name(model: dict[str, Any], details: dict[str, Any]) -> None:
    if details["name"] in model["_datasetNames"]:
        raise RouteError(409, f"Dataset with name {details['name']} is already registered for model {model['id']}")


def _add_job(state: SandboxState, data: dict[str, Any], model_id: str, **fields: Any) -> dict[str, Any]:
    now = _now()
    job = {"jobId": state.next_id(data, "dmmjob"), "modelId": model_id, "status": "SUCCEEDED",
           "createdAt": now, "completedAt": now, "errorCode": None, "message": "", **fields}
    data.setdefault(DMM_JOBS, {}).setdefault(model_id, []).append(job)
    return job


def create_model_record(state: SandboxState, data: dict[str, Any], variables: list[dict[str, Any]],
                        metadata: dict[str, Any], details: dict[str, Any] | None, training_path: Path,
                        training_format: str, run_cohort_analysis: bool = False) -> dict[str, Any]:
    """A new DMM model in ``data`` (shared with the attach-training-set admin verb)."""
    model_id = state.next_id(data, "dmmmodel")
    now = _now()
    record = {
        "id": model_id, "modelId": model_id, "name": metadata["name"], "version": metadata.get("version", "1"),
        "description": metadata.get("description", ""), "author": metadata.get("author", ""),
        "modelType": metadata["modelType"], "modelStatus": "active", "createdAt": now, "updatedAt": now,
        "sourceType": metadata.get("sourceType", "model_monitor"), "sourceDetails": metadata.get("sourceDetails", {}),
        "ingestionStatus": "training", "isDataDriftCheckScheduled": False, "isModelQualityCheckScheduled": False,
        "runCohortAnalysis": bool(run_cohort_analysis), "variables": variables, "trainingDatasetDetails": details,
        "predictionDatasets": [], "groundTruthDatasets": [], "ingestionErrors": [], "predictionRowCount": 0,
        "groundTruthRowCount": 0, "dataDriftChecks": [], "modelQualityChecks": [],
        "_trainingData": {"path": str(training_path.relative_to(state.root)), "format": training_format},
        "_predictionFiles": [], "_groundTruthFiles": [], "_groundTruthVariables": [],
        "_datasetNames": [details["name"]] if details else [], "_driftQuery": None, "_schedules": {},
    }
    data.setdefault(DMM_MODELS, {})[model_id] = record
    return record


# ------------------------------------------------------------------------------------------------------ models

@blueprint.put(f"{API}/model")
def register_model():
    body = json_body()
    variables, details, metadata = check_model_config(body)
    state = current_state()
    with state.transaction() as data:
        path, file_format = _dataset_file(state, data, details)
        declared = [v["name"] for v in variables]
        _check_columns(path, file_format, declared, details["datasetConfig"]["path"])
        record = create_model_record(state, data, variables, metadata, details, path, file_format,
                                     body.get("run_cohort_analysis", False))
        _add_job(state, data, record["id"], datasetName=details["name"], datasetType="training",
                 rowCount=row_count(path, file_format))
        shown = render_model(record)
        for key in ("id", "modelId"):
            if key not in OPTIONS["register_model_id_keys"]:
                shown.pop(key, None)
        return jsonify(shown)


@blueprint.get(f"{API}/model")
def get_model():
    if "model_id" not in request.args and "modelId" in request.args:
        status = OPTIONS["get_model_camel_case_status"]
        return jsonify({"message": "Internal Server Error", "errors": ["model_id is required"]}), status
    with current_state().reading() as data:
        return jsonify(render_model(_model(data, request.args.get("model_id"))))


@blueprint.get(f"{API}/models")
def list_models():
    _required_args("pageNumber", "pageSize", "numberOfLastChecksToFetch")
    page, size, checks = _int_arg("pageNumber"), _int_arg("pageSize"), _int_arg("numberOfLastChecksToFetch")
    if page < OPTIONS["page_number_base"] or size < 1 or checks < 0:
        raise refuse(f"pageNumber must be >= {OPTIONS['page_number_base']}, pageSize >= 1 and "
                     f"numberOfLastChecksToFetch >= 0")
    sort_on = request.args.get("sortOn", "created_at")
    if request.args.get("sortOrder", "-1") not in ("1", "-1"):
        raise refuse("sortOrder must be 1 (ascending) or -1 (descending)")
    descending = request.args.get("sortOrder", "-1") == "-1"
    search = request.args.get("searchQuery", "").lower()
    model_type = request.args.get("modelType")
    with current_state().reading() as data:
        models = [render_model(record) for record in data.get(DMM_MODELS, {}).values()]
    counts = {kind: sum(1 for m in models if m["modelType"] == kind) for kind in ("classification", "regression")}
    models = [m for m in models if search in m["name"].lower() and (not model_type or m["modelType"] == model_type)]
    key = {"name": "name", "created_at": "createdAt", "updated_at": "updatedAt"}.get(sort_on, "createdAt")
    models.sort(key=lambda m: (m[key], m["id"]), reverse=descending)
    first = (page - OPTIONS["page_number_base"]) * size
    items = models[first:first + size]
    for item in items:
        item["dataDriftChecks"] = item["dataDriftChecks"][-checks:] if checks else []
        item["modelQualityChecks"] = item["modelQualityChecks"][-checks:] if checks else []
    return jsonify({"modelDashboardItems": items, "classificationModelCount": counts["classification"],
                    "regressionModelCount": counts["regression"], "totalCount": len(models),
                    "pageNumber": page, "pageSize": size})


@blueprint.delete(f"{API}/model")
def delete_model():
    state = current_state()
    with state.transaction() as data:
        record = _model(data, request.args.get("model_id"))
        version_id = record["sourceDetails"].get("workbenchModelVersionId")
        processes = current_app.extensions.get("model_processes")
        if (OPTIONS["delete_conflict_while_running"] and version_id and processes
                and processes.is_running(version_id)):
            raise RouteError(409, f"Model {record['id']} cannot be deleted while its endpoint version "
                                    f"{version_id} is running")
        del data[DMM_MODELS][record["id"]]
        data.get(DMM_JOBS, {}).pop(record["id"], None)
        return jsonify(render_model(record))


@blueprint.get(f"{API}/get_model_summary")
def model_summary():
    with current_state().reading() as data:
        record = _model(data, request.args.get("model_id"))
        return jsonify({key: record[key] for key in (
            "id", "modelId", "name", "version", "modelType", "modelStatus", "createdAt", "sourceType",
            "sourceDetails", "ingestionStatus", "isDataDriftCheckScheduled", "isModelQualityCheckScheduled",
            "predictionRowCount", "groundTruthRowCount", "ingestionErrors")
            if key != "ingestionErrors" or OPTIONS["model_reports_ingestion_errors"]}
            | {"numberOfVariables": len(record["variables"]),
               "hasGroundTruth": bool(record["_groundTruthVariables"])})


@blueprint.get(f"{API}/model/<model_id>/variables/summary")
def variables_summary(model_id: str):
    with current_state().reading() as data:
        record = _model(data, model_id)
        summary = []
        for variable in record["variables"] + record["_groundTruthVariables"]:
            item = {key: variable[key] for key in ("name", "variableType", "valueType")}
            if "forPredictionOutput" in variable:
                item["forPredictionOutput"] = variable["forPredictionOutput"]
            summary.append(item)
        return jsonify(summary)


# ------------------------------------------------------------------------------------------------- datasources

@blueprint.get(f"{API}/datasources")
def list_datasources():
    with current_state().reading() as data:
        return jsonify([public(source) for source in data.get(DMM_DATASOURCES, {}).values()])


@blueprint.put(f"{API}/datasource")
def put_datasource():
    body = json_body()
    if not isinstance(body, dict):
        raise refuse("The data source must be a JSON object {name, type, config, credentials}")
    name = body.get("name")
    source_type = body.get("type", body.get("dataSourceType", body.get("datasourceType")))
    if not isinstance(name, str) or not name.strip():
        raise refuse("name is required")
    if source_type not in OPTIONS["datasource_types"]:
        raise refuse(f"type must be one of {OPTIONS['datasource_types']}, not {source_type!r}")
    state = current_state()
    with state.transaction() as data:
        sources = data.setdefault(DMM_DATASOURCES, {})
        existing = next((s for s in sources.values() if s["name"] == name), None)
        source_id = existing["id"] if existing else state.next_id(data, "dmmdatasource")
        sources[source_id] = {"id": source_id, "name": name, "type": source_type,
                              "config": body.get("config", {}), "updatedAt": _now()}  # credentials not kept
        return jsonify({"message": f"Data source {name} {'updated' if existing else 'added'}",
                        **public(sources[source_id])})


@blueprint.delete(f"{API}/datasource")
def delete_datasource():
    source_id = request.args.get("datasource_id")
    if not source_id:
        raise refuse("datasource_id is required")
    with current_state().transaction() as data:
        source = data.get(DMM_DATASOURCES, {}).pop(source_id, None)
        if source is None:
            raise refuse(f"Data source {source_id} not found")
        return jsonify(public(source))


# -------------------------------------------------------------------------------------------- register-dataset

@blueprint.put(f"{API}/model/<model_id>/register-dataset/<dataset_type>")
def register_dataset(model_id: str, dataset_type: str):
    if dataset_type not in ("prediction", "ground_truth"):
        raise refuse(f"dataset type must be prediction or ground_truth, not {dataset_type}")
    body = json_body()
    state = current_state()
    with state.transaction() as data:
        record = _model(data, model_id)
        check = check_ground_truth if dataset_type == "ground_truth" else check_prediction
        new_variables = check(record, body)
        details = body["datasetDetails"]
        _check_dataset_name(record, details)
        path, file_format = _dataset_file(state, data, details)
        store = _store_ground_truth if dataset_type == "ground_truth" else _store_predictions
        rows = store(state, record, new_variables, path, file_format, details["datasetConfig"]["path"])
        return jsonify(_book_dataset(state, data, record, details, dataset_type, rows, new_variables))


def _store_ground_truth(state: SandboxState, record: dict[str, Any], new_variables: list[dict[str, Any]],
                        path: Path, file_format: str, key: str) -> int:
    """Copies the labels into the monitor's store; returns the row count."""
    variables = record["_groundTruthVariables"] + new_variables
    row_ids = [v["name"] for v in variables + record["variables"] if v["variableType"] == "row_identifier"]
    row_id = row_ids[0]  # the ground truth's own, else the prediction side's (check_ground_truth made sure of one)
    truth = next(v["name"] for v in variables if v["variableType"] == "ground_truth")
    _check_columns(path, file_format, [row_id, truth], key)
    frame = read_table(path, file_format, [row_id, truth])
    stored = store_ground_truth(state, monitor_dir(state, record["id"]) / "ground_truth",
                                len(record["_groundTruthFiles"]) + 1, frame, row_id, truth)
    record["_groundTruthVariables"] = variables
    record["_groundTruthFiles"].append(str(stored))
    return len(frame)


def _store_predictions(state: SandboxState, record: dict[str, Any], new_variables: list[dict[str, Any]],
                       path: Path, file_format: str, key: str) -> int:
    """Copies the declared prediction columns into the monitor's store; returns the row count."""
    variables = record["variables"] + new_variables
    wanted = [v["name"] for v in variables]
    _check_columns(path, file_format, wanted, key)
    frame = read_table(path, file_format, wanted).assign(**{INGESTED_AT: pd.Timestamp.now(tz="UTC").isoformat()})
    folder = monitor_dir(state, record["id"]) / "predictions"
    folder.mkdir(parents=True, exist_ok=True)
    stored = folder / f"prediction_{uuid.uuid4().hex}.parquet"
    frame.to_parquet(stored, index=False)
    record["variables"] = variables
    record["_predictionFiles"].append(str(stored.relative_to(state.root)))
    record["ingestionStatus"] = "prediction"
    return len(frame)


DATASET_BOOKS = {  # dataset type -> (what it is called, the record's dataset list, the record's row count)
    "prediction": ("Prediction dataset", "predictionDatasets", "predictionRowCount"),
    "ground_truth": ("Ground truth dataset", "groundTruthDatasets", "groundTruthRowCount"),
}


def _book_dataset(state: SandboxState, data: dict[str, Any], record: dict[str, Any], details: dict[str, Any],
                  dataset_type: str, rows: int, new_variables: list[dict[str, Any]]) -> dict[str, Any]:
    """Lists a stored dataset on the model record and as a job; returns DMM's answer."""
    title, datasets, row_count_key = DATASET_BOOKS[dataset_type]
    record["_datasetNames"].append(details["name"])
    record[datasets].append({"name": details["name"], "path": details["datasetConfig"]["path"], "rowCount": rows,
                             "registeredAt": _now()})
    record[row_count_key] += rows
    _add_job(state, data, record["id"], datasetName=details["name"], datasetType=dataset_type, rowCount=rows)
    return {"message": f"{title} registered", "modelId": record["id"], "datasetName": details["name"],
            "datasetType": dataset_type, "rowCount": rows, "variables": new_variables}
