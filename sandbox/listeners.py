"""The profile's extra listeners (``sandbox/profiles.py`` cites the evidence for each):

- the API proxy (``DOMINO_API_PROXY``): answers ``GET /access-token`` with the access token as plain text and
  forwards every other request to the sandbox with ``Authorization: Bearer <token>``; ``/model-monitor`` only when
  the profile says the proxy fronts it (404 otherwise);
- the internal host (``DOMINO_API_HOST`` in ``internal-host``): the same application without ``/model-monitor``.

Each runs a werkzeug server in a daemon thread of the serving process; ``ExtraListeners.close()`` stops them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import requests
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from sandbox.profiles import Profile, access_token

MODEL_MONITOR_PREFIX = "/model-monitor"
# headers that describe one hop, not the message (RFC 9110 §7.6.1), plus those requests recomputes
HOP_HEADERS = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
               "transfer-encoding", "upgrade", "host", "content-length", "content-encoding"}
WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def _not_served(where: str) -> Response:
    body = {"errors": [f"{MODEL_MONITOR_PREFIX} is not served by {where}"], "message": "Not Found"}
    return Response(json.dumps(body), status=404, mimetype="application/json")


def proxy_app(target_url: str, token: str, fronts_model_monitor: bool) -> WSGIApp:
    """Domino's local API proxy, as python-domino's ``ProxyAuth`` and domino_data's ``get_jwt_token`` use it."""
    session = requests.Session()
    session.trust_env = False  # never route the sandbox's own hop through a machine-wide HTTP proxy

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        incoming = Request(environ)
        if incoming.path == "/access-token":
            response = Response(token, mimetype="text/plain")
        elif incoming.path.startswith(MODEL_MONITOR_PREFIX) and not fronts_model_monitor:
            response = _not_served("the API proxy")
        else:
            headers = {name: value for name, value in incoming.headers.items()
                       if name.lower() not in HOP_HEADERS and name.lower() != "authorization"}
            headers["Authorization"] = f"Bearer {token}"
            path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or incoming.full_path
            try:
                answer = session.request(incoming.method, target_url + path, headers=headers,
                                         data=incoming.get_data(), allow_redirects=False, timeout=300)
            except requests.RequestException as error:
                body = {"errors": [f"the API proxy could not reach Domino: {type(error).__name__}"]}
                response = Response(json.dumps(body), status=502, mimetype="application/json")
            else:
                response = Response(answer.content, status=answer.status_code,
                                    headers=[(name, value) for name, value in answer.headers.items()
                                             if name.lower() not in HOP_HEADERS])
        return response(environ, start_response)

    return app


def internal_app(app: WSGIApp) -> WSGIApp:
    """The Domino REST routes on an internal address, without Model Monitor."""

    def wrapped(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(MODEL_MONITOR_PREFIX):
            return _not_served("the internal Domino API host")(environ, start_response)
        return app(environ, start_response)

    return wrapped


@dataclass
class ExtraListeners:
    """What ``start_extra_listeners`` started: the exported variables and the servers to stop."""

    env: dict[str, str] = field(default_factory=dict)
    servers: list[BaseWSGIServer] = field(default_factory=list)

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


def _serve_in_thread(host: str, app: WSGIApp, handler: Any) -> tuple[BaseWSGIServer, str]:
    server = make_server(host, 0, app, threaded=True, request_handler=handler)
    threading.Thread(target=server.serve_forever, name="sandbox-listener", daemon=True).start()
    return server, f"http://{host}:{server.server_port}"


def start_extra_listeners(app: WSGIApp, profile: Profile, api_key: str, host: str, url: str,
                          handler: Any = None) -> ExtraListeners:
    """Start the listeners ``profile`` needs on free ports; ``env`` holds the variables that point at them."""
    extra = ExtraListeners()
    try:
        if profile.api_proxy:
            server, proxy_url = _serve_in_thread(
                host, proxy_app(url, access_token(api_key, "proxy"), profile.proxy_fronts_model_monitor), handler)
            extra.servers.append(server)
            extra.env["DOMINO_API_PROXY"] = proxy_url
        if profile.internal_host:
            server, internal_url = _serve_in_thread(host, internal_app(app), handler)
            extra.servers.append(server)
            extra.env["DOMINO_API_HOST"] = internal_url
    except OSError:
        extra.close()
        raise
    return extra
