"""Model Monitor custom metrics, as python-domino's ``custom_metrics_client()`` calls them.

``POST /api/metricValues/v1`` (201), ``GET /api/metricValues/v1/<modelMonitoringId>/<metric>`` with both
timestamp bounds required (every item carries ``tags`` and the envelope ``metadata``, which the generated client
requires), ``POST /api/metricAlerts/v1`` (200). Failures answer ``{"requestId", "errors": [...]}``.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from numbers import Real
from typing import Any

from flask import Blueprint, jsonify, request

from dmm.dates import parse_rfc3339
from sandbox.errors import RouteError
from sandbox.routes.common import current_state, json_object

blueprint = Blueprint("metrics", __name__, url_prefix="/api")

VALUES = "metric_values"
ALERTS = "metric_alerts"
CONDITIONS = ("lessThan", "lessThanEqual", "greaterThan", "greaterThanEqual", "between")


@blueprint.errorhandler(RouteError)
def _refuse(error: RouteError):
    """Custom metrics answer ``{"requestId", "errors": [...]}``."""
    return jsonify({"requestId": str(uuid.uuid4()), "errors": error.messages}), error.status


def parse_timestamp(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (with a time zone offset or ``Z``), else ``None`` (``dmm.dates``: also on 3.10)."""
    return parse_rfc3339(value)


def _is_number(value: Any) -> bool:
    # JSON has no NaN or Infinity: Python's parser accepts those bare tokens, Domino's does not.
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _non_empty_string(item: dict[str, Any], key: str, where: str, problems: list[str]) -> None:
    if not isinstance(item.get(key), str) or not item[key]:
        problems.append(f"{where}.{key} is required and must be a non-empty string")


def _validate_value(item: Any, where: str) -> list[str]:
    if not isinstance(item, dict):
        return [f"{where} must be an object"]
    problems: list[str] = []
    _non_empty_string(item, "modelMonitoringId", where, problems)
    _non_empty_string(item, "metric", where, problems)
    if not _is_number(item.get("value")):
        problems.append(f"{where}.value is required and must be a number")
    if parse_timestamp(item.get("referenceTimestamp")) is None:
        problems.append(f"{where}.referenceTimestamp is required and must be an RFC 3339 timestamp with a time "
                        "zone, e.g. 2024-01-31T12:00:00Z")
    tags = item.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, dict) and isinstance(tag.get("key"), str)
                                             and isinstance(tag.get("value"), str) for tag in tags):
        problems.append(f"{where}.tags must be a list of {{key, value}} string pairs")
    return problems


@blueprint.post("/metricValues/v1")
def log_metric_values():
    values = json_object().get("newMetricValues")
    if not isinstance(values, list) or not values:
        raise RouteError(400, "newMetricValues is required and must be a non-empty list")
    problems = [problem for index, item in enumerate(values)
                for problem in _validate_value(item, f"newMetricValues[{index}]")]
    if problems:
        raise RouteError(400, *problems)
    state = current_state()
    with state.transaction() as data:
        stored = data.setdefault(VALUES, [])
        stored.extend({"modelMonitoringId": item["modelMonitoringId"], "metric": item["metric"],
                       "value": item["value"], "referenceTimestamp": item["referenceTimestamp"],
                       "tags": item.get("tags", [])} for item in values)
    return jsonify({}), 201


@blueprint.get("/metricValues/v1/<model_monitoring_id>/<metric>")
def read_metric_values(model_monitoring_id: str, metric: str):
    bounds = {}
    problems = []
    for name in ("startingReferenceTimestampInclusive", "endingReferenceTimestampInclusive"):
        bounds[name] = parse_timestamp(request.args.get(name))
        if bounds[name] is None:
            problems.append(f"query parameter {name} is required and must be an RFC 3339 timestamp with a time zone")
    if problems:
        raise RouteError(400, *problems)
    start, end = bounds["startingReferenceTimestampInclusive"], bounds["endingReferenceTimestampInclusive"]
    with current_state().reading() as data:
        matches = [item for item in data.get(VALUES, [])
                   if item["modelMonitoringId"] == model_monitoring_id and item["metric"] == metric
                   and start <= parse_timestamp(item["referenceTimestamp"]) <= end]
    matches.sort(key=lambda item: parse_timestamp(item["referenceTimestamp"]))
    return jsonify({"metricValues": [{"referenceTimestamp": item["referenceTimestamp"], "value": item["value"],
                                      "tags": item["tags"]} for item in matches],
                    "metadata": {"requestId": str(uuid.uuid4()), "notices": []}})


def _validate_alert(body: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    _non_empty_string(body, "modelMonitoringId", "body", problems)
    _non_empty_string(body, "metric", "body", problems)
    if not _is_number(body.get("value")):
        problems.append("body.value is required and must be a number")
    if body.get("description") is not None and not isinstance(body["description"], str):
        problems.append("body.description must be a string")
    target = body.get("targetRange")
    if not isinstance(target, dict):
        return problems + ["body.targetRange is required and must be an object with a condition"]
    condition = target.get("condition")
    if condition not in CONDITIONS:
        problems.append(f"targetRange.condition must be one of {', '.join(CONDITIONS)}")
    limits = {name: target.get(name) for name in ("lowerLimit", "upperLimit") if target.get(name) is not None}
    problems.extend(f"targetRange.{name} must be a number" for name, value in limits.items() if not _is_number(value))
    if condition == "between":
        if len(limits) != 2:
            problems.append("targetRange.between needs both lowerLimit and upperLimit")
        elif not problems and limits["lowerLimit"] > limits["upperLimit"]:
            problems.append("targetRange.lowerLimit must not exceed upperLimit")
    return problems


@blueprint.post("/metricAlerts/v1")
def trigger_alert():
    body = json_object()
    problems = _validate_alert(body)
    if problems:
        raise RouteError(400, *problems)
    with current_state().transaction() as data:
        data.setdefault(ALERTS, []).append({key: body.get(key) for key in
                                            ("modelMonitoringId", "metric", "value", "targetRange", "description")})
    return jsonify({})
