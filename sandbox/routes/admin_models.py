"""Admin verbs that do what a user does in Domino's UI around models (``POST /sandbox/<verb>``, API key required):
``deploy`` a predict function, or a registered MLflow model (``registeredModelName`` + ``registeredModelVersion``,
the names of Domino's model-serving API, field notes §2a), as a Model API, ``attach-training-set`` (creates the
endpoint monitor), ``ingest`` capture logs, and ``monitor-options`` (the switchable [uncertain] monitor behaviours).
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from sandbox import ingest as ingestion
from sandbox import monitor_options
from sandbox.errors import RouteError
from sandbox.model_processes import processes_of
from sandbox.routes.common import current_state, json_object
from sandbox.routes.monitor import create_model_record
from sandbox.store import DMM_MODELS, MODEL_APIS, training_set_files, training_set_version

blueprint = Blueprint("admin_models", __name__, url_prefix="/sandbox")
READY_TIMEOUT_S = 60
MODEL_TYPES = ("classification", "regression")


@blueprint.record_once
def _start_deployed_models(setup) -> None:
    """On (re)start, every deployed model's latest version runs again; the server's exit stops them all."""
    app = setup.app
    processes = processes_of(app)
    app.config.setdefault("SHUTDOWN_HOOKS", []).append(processes.stop_all)
    with app.config["STATE"].reading() as data:
        versions = [record["versions"][str(record["latestVersion"])] for record in data.get(MODEL_APIS, {}).values()]
    for version in versions:
        processes.start(version)


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RouteError(400, f"{key} is required (a non-empty string)")
    return value.strip()


def _source(body: dict[str, Any], workdir: str | None) -> dict[str, Any]:
    """What the version runs: a script (file-based endpoint) or a registered model version (Domino 6 registry)."""
    if "registeredModelName" in body:
        number = body.get("registeredModelVersion")
        if isinstance(number, bool) or not isinstance(number, (int, str)) or not str(number).isdigit():
            raise RouteError(400, "registeredModelVersion must be a version number")
        return {"source": "Registry", "registeredModelName": _text(body, "registeredModelName"),
                "registeredModelVersion": str(number),
                "trackingUri": f"sqlite:///{current_state().root / 'mlflow.db'}",
                "rowsAsRecords": bool(monitor_options.OPTIONS["registry_rows_as_records"])}
    script = Path(_text(body, "script"))
    script = (Path(workdir) / script if workdir and not script.is_absolute() else script).resolve()
    if not script.is_file() or script.suffix != ".py":
        raise RouteError(400, f"script {script} is not a Python file")
    return {"source": "File", "script": str(script), "function": body.get("function", "predict")}


@blueprint.post("/deploy")
def deploy():
    body = json_object(empty_ok=True)
    name = _text(body, "name")
    workdir = body.get("workdir")
    if workdir is not None and (not isinstance(workdir, str) or not Path(workdir).is_dir()):
        raise RouteError(400, f"workdir {workdir!r} is not a folder")
    source = _source(body, workdir)
    env = body.get("env") or {}
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise RouteError(400, "env must be an object of string values")
    state = current_state()
    with state.transaction() as data:
        models = data.setdefault(MODEL_APIS, {})
        record = next((m for m in models.values() if m["name"] == name), None)
        if record is None:
            model_id = state.next_id(data, "mapi")
            record = models[model_id] = {"modelId": model_id, "name": name, "accessToken": secrets.token_urlsafe(24),
                                         "createdAt": int(time.time()), "latestVersion": 0, "versions": {}}
        number = record["latestVersion"] + 1
        default_workdir = str(Path(source["script"]).parent) if "script" in source else None
        version = {"versionId": state.next_id(data, "mver"), "number": number, **source,
                   "workdir": str(Path(workdir).resolve()) if workdir else default_workdir, "env": env,
                   "createdAt": int(time.time())}
        previous = record["versions"].get(str(record["latestVersion"]))
        record["versions"][str(number)] = version
        record["latestVersion"] = number
        answer = {"modelId": record["modelId"], "versionId": version["versionId"], "versionNumber": number,
                  "accessToken": record["accessToken"],
                  "endpointUrl": f"{request.host_url.rstrip('/')}/models/{record['modelId']}/latest/model"}
    processes = processes_of(current_app)
    if previous:
        processes.stop(previous["versionId"])
    processes.start(version)
    if not processes.wait_ready(version["versionId"], READY_TIMEOUT_S):
        raise RouteError(500, f"The model process of {name} did not start: "
                              f"{processes.log_tail(version['versionId']) or 'no output'}")
    return jsonify(answer)


@blueprint.post("/attach-training-set")
def attach_training_set():
    body = json_object(empty_ok=True)
    model_id, set_name = _text(body, "modelId"), _text(body, "trainingSetName")
    model_type = body.get("modelType")
    if model_type not in MODEL_TYPES:
        raise RouteError(400, f"modelType must be one of {list(MODEL_TYPES)}")
    number = body.get("trainingSetVersion")
    if not isinstance(number, int) or isinstance(number, bool):
        raise RouteError(400, "trainingSetVersion must be an integer version number")
    state = current_state()
    with state.transaction() as data:
        model = data.get(MODEL_APIS, {}).get(model_id)
        if model is None:
            raise RouteError(404, f"Model API {model_id} not found")
        version = model["versions"][str(model["latestVersion"])]
        training = training_set_version(data, set_name, number)
        if training is None:
            raise RouteError(404, f"Training set {set_name} version {number} not found")
        variables = _endpoint_variables(training, model_type)
        files = training_set_files(state, training)
        if not files or training.get("pending"):
            raise RouteError(400, f"Training set {set_name} version {number} has no data yet (still pending)")
        attached = [m for m in data.get(DMM_MODELS, {}).values()
                    if m["sourceDetails"].get("workbenchModelVersionId") == version["versionId"]]
        if attached:
            raise RouteError(409, f"Model API {model_id} version {version['number']} already has monitor "
                                  f"{attached[0]['id']}")
        metadata = {"name": model["name"], "modelType": model_type, "version": str(version["number"]),
                    "description": f"Endpoint monitor for {model['name']}", "author": "sandbox",
                    "sourceType": "domino_workbench",
                    "sourceDetails": {"workbenchModelId": model_id, "workbenchModelVersionId": version["versionId"]}}
        record = create_model_record(state, data, variables, metadata, None, files[0].parent, "parquet")
        record["trainingSet"] = {"name": set_name, "version": number}
        # the baseline's columns, which ingestion looks for in the captured data (sandbox/ingest.py)
        excluded = set(training.get("excludeColumns") or [])
        record["_baselineColumns"] = [c for c in training["allColumns"] if c not in excluded]
        return jsonify({"dmmModelId": record["id"]})


def _endpoint_variables(training: dict[str, Any], model_type: str) -> list[dict[str, Any]]:
    """Variables as Domino's UI derives them: features from the training set, the prediction named after the
    target, ``event_id`` (the capture's) as row identifier. Ordinal columns are skipped, as Model Monitor does."""
    meta = training.get("monitoringMeta") or {}
    targets = training.get("targetColumns") or []
    if len(targets) != 1:
        raise RouteError(400, f"The training set version needs exactly one target column, has {targets}")
    target = targets[0]
    categorical = set(meta.get("categoricalColumns") or [])
    if model_type == "classification" and target not in categorical:
        raise RouteError(400, f"For a classification model the target {target} must be listed in "
                              f"monitoringMeta.categoricalColumns of the training set version")
    skipped = set(training.get("keyColumns") or []) | set(targets) | set(training.get("excludeColumns") or []) \
        | set(meta.get("timestampColumns") or []) | set(meta.get("ordinalColumns") or [])
    features = [{"name": column, "variableType": "feature",
                 "valueType": "categorical" if column in categorical else "numerical"}
                for column in training["allColumns"] if column not in skipped]
    if not features:
        raise RouteError(400, "The training set version has no feature columns")
    prediction = {"name": target, "variableType": "prediction",
                  "valueType": "categorical" if model_type == "classification" else "numerical"}
    return features + [prediction, {"name": "event_id", "variableType": "row_identifier", "valueType": "string"}]


@blueprint.post("/ingest")
def ingest():
    json_object(empty_ok=True)
    return jsonify(ingestion.ingest(current_state()))


@blueprint.post("/monitor-options")
def set_monitor_options():
    try:
        return jsonify(monitor_options.update(json_object(empty_ok=True)))
    except ValueError as error:
        raise RouteError(400, str(error)) from None
