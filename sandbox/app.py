"""The sandbox's Flask application: auth on every route, faults on demand, one blueprint per Domino service."""

from __future__ import annotations

import hmac
import random
import time

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

from sandbox.settings import SandboxSettings
from sandbox.state import SandboxState

# Blueprints whose name is a route group; each module exposes ``blueprint``.
BLUEPRINT_MODULES = (
    "sandbox.routes.core",
    "sandbox.routes.trainingsets",
    "sandbox.routes.datasources",
    "sandbox.routes.monitor",
    "sandbox.routes.modelapi",
    "sandbox.routes.metrics",
    "sandbox.routes.admin",
    "sandbox.routes.admin_models",
)

# Routes that carry their own auth (signed object URLs, Basic auth on Model APIs) or none (health).
PUBLIC_BLUEPRINTS = {"objectstore", "modelapi"}
PUBLIC_ENDPOINTS = {"core.health"}


def _authorised(settings: SandboxSettings) -> bool:
    key = request.headers.get("X-Domino-Api-Key", "")
    bearer = request.headers.get("Authorization", "")
    token = bearer[7:] if bearer.startswith("Bearer ") else ""
    return any(hmac.compare_digest(candidate, allowed)
               for allowed in settings.api_keys for candidate in (key, token) if candidate)


def create_app(state: SandboxState, settings: SandboxSettings) -> Flask:
    app = Flask("sandbox")
    app.config["STATE"] = state
    app.config["SETTINGS"] = settings
    app.json.sort_keys = False
    # Callables run by sandbox/server.py when the server exits (e.g. stopping model processes).
    app.config["SHUTDOWN_HOOKS"] = []
    rng = random.Random(settings.seed)

    import importlib

    for module_name in BLUEPRINT_MODULES:
        module = importlib.import_module(module_name)
        for blueprint in getattr(module, "blueprints", [module.blueprint]):
            app.register_blueprint(blueprint)

    @app.before_request
    def _auth_and_faults():
        group = request.blueprint or "core"
        g.route_group = group
        fault = settings.fault_for(group)
        if fault.latency_ms:
            time.sleep(fault.latency_ms / 1000)
        if fault.fail_rate and rng.random() < fault.fail_rate:
            return jsonify({"errors": ["sandbox: injected fault"], "message": "sandbox: injected fault"}), 503
        if group in PUBLIC_BLUEPRINTS or request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if not _authorised(settings):
            return jsonify({"errors": ["Unauthorized: missing or invalid X-Domino-Api-Key or Bearer token"],
                            "message": "Unauthorized"}), 401
        return None

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        return jsonify({"errors": [error.description], "message": error.description}), error.code

    return app
