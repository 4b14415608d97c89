"""Domino's small platform routes: version, health, project lookup, and the token proxy's access token."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from sandbox.routes.common import current_settings, error_response, request_api_key

blueprint = Blueprint("core", __name__)

@blueprint.get("/version")
def version():
    """python-domino reads ``version`` (>= 5.3.1 for custom metrics) in its constructor."""
    return jsonify({"version": current_settings().domino_version, "buildId": "sandbox", "commitId": "sandbox"})


@blueprint.get("/health")
def health():
    """Public liveness probe used by ``python -m sandbox start`` (no auth, like a load balancer check)."""
    return jsonify({"status": "ok"})


@blueprint.get("/v4/gateway/projects/findProjectByOwnerAndName")
def find_project():
    settings = current_settings()
    owner = request.args.get("ownerName", "")
    name = request.args.get("projectName", "")
    if (owner, name) != (settings.project_owner, settings.project_name):
        return error_response(404, f"Project {owner}/{name} not found")
    return jsonify({"id": settings.project_id, "name": settings.project_name,
                    "ownerUsername": settings.project_owner, "ownerId": settings.project_owner})


@blueprint.get("/access-token")
def access_token():
    """Domino's token proxy (``DOMINO_API_PROXY``) answers a plain-text JWT; here it is the caller's own API key,
    which every route accepts as a Bearer token. Only an authenticated caller gets one."""
    return request_api_key(), 200, {"Content-Type": "text/plain; charset=utf-8"}
