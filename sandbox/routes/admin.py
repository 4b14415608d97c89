"""Sandbox control verbs (``POST /sandbox/<verb>``, API key required): what a user does in Domino's UI.

Here: ``create-datasource``, ``faults`` and ``status``. Model verbs (deploy, attach-training-set, ingest) live in
``sandbox/routes/admin_models.py``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from sandbox.errors import RouteError
from sandbox.routes.common import current_settings, current_state, json_object
from sandbox.routes.datasources import create_datasource
from sandbox.settings import ROUTE_GROUPS, Fault, SandboxSettings

blueprint = Blueprint("admin", __name__, url_prefix="/sandbox")

MAX_LATENCY_MS = 60_000


@blueprint.post("/create-datasource")
def create_datasource_verb():
    body = json_object()
    unknown = set(body) - {"name", "type", "bucket", "subfolder"}
    if "name" not in body or unknown:
        raise RouteError(400, "body must be {\"name\": ..., \"type\": \"s3\", \"bucket\"?: ..., \"subfolder\"?: ...}"
                         + (f"; unknown key(s): {', '.join(sorted(unknown))}" if unknown else ""))
    record, created = create_datasource(current_state(), body["name"], body.get("type", "s3"), body.get("bucket"),
                                        body.get("subfolder", ""))
    return jsonify({"id": record["id"], "name": record["name"], "type": record["type"],
                    "dataSourceType": record["dataSourceType"], "created": created})


# JSON key -> (Fault field, kind, upper bound)
FAULT_KEYS = {"failRate": ("fail_rate", float, 1), "latencyMs": ("latency_ms", int, MAX_LATENCY_MS),
              "jitterMs": ("jitter_ms", int, MAX_LATENCY_MS), "throttleRate": ("throttle_rate", float, 1),
              "retryAfterS": ("retry_after_s", int, 3600), "actThenFailRate": ("act_then_fail_rate", float, 1)}


def parse_fault(group: str, spec: Any) -> Fault:
    """Validate one ``{failRate, latencyMs, jitterMs, throttleRate, retryAfterS, actThenFailRate}`` entry of
    ``POST /sandbox/faults`` (keys left out take their defaults: no fault)."""
    if group != "*" and group not in ROUTE_GROUPS:
        raise RouteError(400, f"unknown route group {group!r}: use one of {', '.join(ROUTE_GROUPS)} or '*'")
    if not isinstance(spec, dict) or set(spec) - set(FAULT_KEYS):
        raise RouteError(400, f"fault for {group!r} must be an object with keys among {', '.join(FAULT_KEYS)}")
    values: dict[str, Any] = {}
    for key, value in spec.items():
        name, kind, upper = FAULT_KEYS[key]
        allowed = (int, float) if kind is float else (int,)
        if isinstance(value, bool) or not isinstance(value, allowed) or not 0 <= value <= upper:
            raise RouteError(400, f"{key} for {group!r} must be {'a number' if kind is float else 'an integer'} "
                                  f"from 0 to {upper}")
        values[name] = kind(value)
    return Fault(**values)


def _faults_view(settings: SandboxSettings) -> dict[str, Any]:
    return {group: fault.to_json() for group, fault in settings.faults.items()}


@blueprint.post("/faults")
def set_faults():
    body = json_object()
    faults = {group: parse_fault(group, spec) for group, spec in body.items()}  # validate all before changing any
    settings = current_settings()
    settings.faults.update(faults)
    return jsonify({"faults": _faults_view(settings)})


@blueprint.get("/status")
def status():
    with current_state().reading() as data:
        counts = {name: len(value) for name, value in data.items()
                  if not name.startswith("_") and isinstance(value, (dict, list))}
        training_sets = data.get("training_sets", {})
        counts["training_set_versions"] = sum(len(record["versions"]) for record in training_sets.values())
    settings = current_settings()
    return jsonify({"status": "running", "stateDir": str(current_state().root), "projectId": settings.project_id,
                    "counts": counts, "faults": _faults_view(settings)})
