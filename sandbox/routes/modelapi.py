"""Domino Model APIs: ``POST /models/<id>/latest/model`` and ``/models/<id>/labels/<label>/model`` (HTTP Basic auth
with the model's access token as user and password), and the async pair under ``/api/modelApis/async/v1`` (Bearer
access token). Requests are forwarded to the model's own process (``sandbox.model_host``) over a pooled session.
"""

from __future__ import annotations

import hmac
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from flask import Blueprint, Response, current_app, jsonify, request
from requests.adapters import HTTPAdapter

from sandbox.model_processes import processes_of
from sandbox.routes.common import bearer_token, current_state
from sandbox.store import MODEL_APIS

blueprint = Blueprint("modelapi", __name__)
FORWARD_TIMEOUT_S = 120
ASYNC_RESULTS_KEPT = 10_000

_session = requests.Session()
_session.mount("http://", HTTPAdapter(pool_connections=8, pool_maxsize=128, max_retries=0))
_async_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="async-model")
_async_results: dict[str, dict[str, Any]] = {}
_async_lock = threading.Lock()


def _error(status: int, message: str, **headers: str):
    response = jsonify({"errors": [message], "message": message, "requestId": uuid.uuid4().hex[:16].upper()})
    response.status_code = status
    response.headers.update(headers)
    return response


def _deployed(model_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    with current_state().reading() as data:
        record = data.get(MODEL_APIS, {}).get(model_id)
        if record is None:
            return None, None
        return record, record["versions"][str(record["latestVersion"])]


def _token_matches(record: dict[str, Any], candidate: str | None) -> bool:
    return bool(candidate) and hmac.compare_digest(candidate, record["accessToken"])


def _forward(port: int, body: bytes) -> requests.Response:
    return _session.post(f"http://127.0.0.1:{port}/", data=body, headers={"Content-Type": "application/json"},
                         timeout=FORWARD_TIMEOUT_S)


@blueprint.post("/models/<model_id>/latest/model")
@blueprint.post("/models/<model_id>/labels/<label>/model")
def invoke(model_id: str, label: str | None = None):
    record, version = _deployed(model_id)
    auth = request.authorization
    # Credentials first, then the id: an unauthenticated caller cannot tell which model ids exist (issue 9, point 10)
    if record is None and auth is not None and auth.type == "basic" and auth.username and auth.password:
        return _error(404, f"Model {model_id} not found")
    if (record is None or auth is None or auth.type != "basic" or not _token_matches(record, auth.username)
            or not _token_matches(record, auth.password)):
        return _error(401, "Unauthorized: use HTTP Basic auth with the model's access token as username and password",
                      **{"WWW-Authenticate": 'Basic realm="Domino Model API"'})
    assert version is not None
    port = processes_of(current_app).port(version["versionId"])
    if port is None:
        return _error(503, f"Model {model_id} version {version['number']} is not running yet")
    try:
        answer = _forward(port, request.get_data())
    except requests.RequestException as error:
        return _error(503, f"Model {model_id} did not answer: {error}")
    return Response(answer.content, status=answer.status_code, content_type="application/json")


# ---------------------------------------------------------------------------------------------------------- async

def _bearer_ok(record: dict[str, Any]) -> bool:
    return _token_matches(record, bearer_token())


def _run_async(prediction_id: str, port: int, parameters: Any) -> None:
    with _async_lock:
        _async_results[prediction_id]["status"] = "running"
    try:
        answer = _forward(port, json.dumps({"data": parameters}).encode())
        envelope = answer.json()
        outcome = ({"status": "succeeded", "result": envelope.get("result")} if answer.ok
                   else {"status": "failed", "errors": [envelope.get("error", answer.text)]})
    except (requests.RequestException, ValueError) as error:
        outcome = {"status": "failed", "errors": [str(error)]}
    with _async_lock:
        _async_results[prediction_id].update(outcome)


@blueprint.post("/api/modelApis/async/v1/<model_id>")
def submit_async(model_id: str):
    record, version = _deployed(model_id)
    if record is None:
        return _error(404 if bearer_token() else 401, f"Model {model_id} not found" if bearer_token() else
                      "Unauthorized: use Authorization: Bearer <the model's access token>")
    if not _bearer_ok(record):
        return _error(401, "Unauthorized: use Authorization: Bearer <the model's access token>")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("parameters"), dict):
        return _error(400, 'The request body must be {"parameters": {...}}')
    port = processes_of(current_app).port(version["versionId"])
    if port is None:
        return _error(503, f"Model {model_id} version {version['number']} is not running yet")
    prediction_id = uuid.uuid4().hex
    with _async_lock:
        if len(_async_results) >= ASYNC_RESULTS_KEPT:
            _async_results.pop(next(iter(_async_results)))
        _async_results[prediction_id] = {"asyncPredictionId": prediction_id, "modelId": model_id, "status": "queued"}
    _async_pool.submit(_run_async, prediction_id, port, body["parameters"])
    return jsonify({"asyncPredictionId": prediction_id})


@blueprint.get("/api/modelApis/async/v1/<model_id>/<prediction_id>")
def poll_async(model_id: str, prediction_id: str):
    record, _ = _deployed(model_id)
    if record is None:
        return _error(404 if bearer_token() else 401, f"Model {model_id} not found" if bearer_token() else
                      "Unauthorized: use Authorization: Bearer <the model's access token>")
    if not _bearer_ok(record):
        return _error(401, "Unauthorized: use Authorization: Bearer <the model's access token>")
    with _async_lock:
        result = _async_results.get(prediction_id)
        result = dict(result) if result and result["modelId"] == model_id else None
    if result is None:
        return _error(404, f"Prediction {prediction_id} not found")
    return jsonify(result)
