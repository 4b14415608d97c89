"""The sandbox's Flask application: auth on every route, faults on demand, one blueprint per Domino service."""

from __future__ import annotations

import hmac
import importlib
import random
import threading
import time

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

from sandbox.errors import RouteError
from sandbox.routes.common import bearer_token, error_response
from sandbox.settings import SandboxSettings
from sandbox.state import SandboxState

# Blueprints whose name is a route group; each module exposes ``blueprint``.
BLUEPRINT_MODULES = (
    "sandbox.routes.core",
    "sandbox.routes.jobs",
    "sandbox.routes.trainingsets",
    "sandbox.routes.datasources",
    "sandbox.routes.monitor",
    "sandbox.routes.monitor_checks",
    "sandbox.routes.modelapi",
    "sandbox.routes.metrics",
    "sandbox.routes.admin",
    "sandbox.routes.admin_models",
)

# Routes that carry their own auth (signed object URLs, Basic auth on Model APIs) or none (health).
PUBLIC_BLUEPRINTS = {"objectstore", "modelapi"}
PUBLIC_ENDPOINTS = {"core.health"}


# The sandbox's own control verbs (what a user does in Domino's UI) keep taking its API key in every profile.
ADMIN_BLUEPRINTS = {"admin", "admin_models"}


def _matches(candidate: str, allowed: tuple[str, ...]) -> bool:
    return bool(candidate) and any(hmac.compare_digest(candidate, value) for value in allowed)


def _authorised(settings: SandboxSettings) -> bool:
    api_key, token = request.headers.get("X-Domino-Api-Key", ""), bearer_token()
    if not token and request.blueprint == "datasource":
        # domino_data's ProxyClient (domino_data/auth.py) sends a JWT fetched from the token URL or read from the token
        # file as ``X-Domino-Jwt``, not as a Bearer header, to the data-source proxy: that proxy accepts it there.
        token = request.headers.get("X-Domino-Jwt", "")
    if settings.profile.user_api_keys or request.blueprint in ADMIN_BLUEPRINTS:
        return _matches(api_key, settings.api_keys) or _matches(token, settings.api_keys + settings.access_tokens)
    # user API keys disabled (sandbox/profiles.py `keyless`, `service-account`): the before_request hook has already
    # refused any request carrying a key, so only an access token is left to check
    return _matches(token, settings.access_tokens)


def create_app(state: SandboxState, settings: SandboxSettings) -> Flask:
    app = Flask("sandbox")
    app.config["STATE"] = state
    app.config["SETTINGS"] = settings
    app.json.sort_keys = False
    # Callables run by sandbox/server.py when the server exits (e.g. stopping model processes).
    app.config["SHUTDOWN_HOOKS"] = []
    rng = random.Random(settings.seed)
    dice_lock = threading.Lock()

    modules = [importlib.import_module(name) for name in BLUEPRINT_MODULES]  # all routes first, then register
    for module in modules:
        for blueprint in getattr(module, "blueprints", [module.blueprint]):
            app.register_blueprint(blueprint)

    @app.before_request
    def _auth_and_faults():
        group = request.blueprint or "core"
        g.route_group = group
        fault = settings.fault_for(group)
        with dice_lock:  # one seeded sequence across the server's threads
            jitter = rng.uniform(0, fault.jitter_ms) if fault.jitter_ms else 0.0
            fail = bool(fault.fail_rate) and rng.random() < fault.fail_rate
            throttle = bool(fault.throttle_rate) and rng.random() < fault.throttle_rate
            g.act_then_fail = bool(fault.act_then_fail_rate) and rng.random() < fault.act_then_fail_rate
        if fault.latency_ms or jitter:
            time.sleep((fault.latency_ms + jitter) / 1000)
        if fail:
            g.act_then_fail = False
            return error_response(503, "sandbox: injected fault")
        if throttle:
            g.act_then_fail = False
            body, status = error_response(429, "sandbox: injected rate limit")
            body.status_code = status
            body.headers["Retry-After"] = str(fault.retry_after_s)
            return body
        if group in PUBLIC_BLUEPRINTS or request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if not settings.profile.user_api_keys and request.headers.get("X-Domino-Api-Key") \
                and request.blueprint not in ADMIN_BLUEPRINTS:
            return jsonify({"errors": ["Unauthorized: user API keys are disabled on this deployment; authenticate "
                                       "with an access token (Authorization: Bearer) or the API proxy"],
                            "message": "Unauthorized"}), 401
        if not _authorised(settings):
            return jsonify({"errors": ["Unauthorized: missing or invalid X-Domino-Api-Key or Bearer token"],
                            "message": "Unauthorized"}), 401
        return None

    @app.after_request
    def _act_then_fail(response):
        # the route ran (state saved, prediction captured); only its answer is lost on the way back
        if g.get("act_then_fail") and response.status_code < 400:
            lost, status = error_response(502, "sandbox: injected fault after the request was handled")
            lost.status_code = status
            return lost
        return response

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        return error_response(error.code, error.description)

    @app.errorhandler(RouteError)
    def _refused(error: RouteError):
        return error_response(error.status, *error.messages)

    return app
