"""What every route module needs: the app's state and settings, the JSON body, the common error envelope."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request

from sandbox.errors import RouteError
from sandbox.settings import SandboxSettings
from sandbox.state import SandboxState


def current_state() -> SandboxState:
    return current_app.config["STATE"]


def current_settings() -> SandboxSettings:
    return current_app.config["SETTINGS"]


def error_response(status: int, *messages: str) -> tuple[Response, int]:
    """Domino's usual failure body: ``{"errors": [...], "message": "..."}``."""
    return jsonify({"errors": list(messages), "message": "; ".join(messages)}), status


def json_body() -> Any:
    """The parsed JSON body, whatever its type; ``{}`` when there is none."""
    body = request.get_json(silent=True)
    if body is None and request.get_data():
        raise RouteError(400, "The request body is not valid JSON")
    return {} if body is None else body


def json_object(empty_ok: bool = False) -> dict[str, Any]:
    """The JSON body, which must be an object (an empty body is ``{}`` when ``empty_ok``)."""
    body = request.get_json(silent=True)
    if body is None and empty_ok and not request.get_data():
        return {}
    if not isinstance(body, dict):
        raise RouteError(400, "request body must be a JSON object")
    return body


def request_api_key() -> str:
    """The caller's API key: ``X-Domino-Api-Key``, else an ``Authorization: Bearer`` token; ``""`` when neither."""
    return request.headers.get("X-Domino-Api-Key", "") or bearer_token()


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    return header[len("Bearer "):] if header.startswith("Bearer ") else ""
