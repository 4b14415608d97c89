"""One Model API process: imports a user's script and serves its predict function as Domino's model harness does.

``python -m sandbox.model_host --script PATH --port 0 --ready-file F [--function predict]``, or
``--model-uri models:/<name>/<version> [--rows-as-records]`` for a model deployed from the Model Registry
(``sandbox.registry_model``: the pyfunc with its signature enforced, answering a list of rows). The launcher sets
``HOSTNAME=model-<versionId>-<suffix>`` and ``PREDICTION_DATA_DIRECTORY`` as a Domino model container has them, so
``DataCaptureClient`` inside the script writes real capture logs. POST / takes ``{"data": {...}}`` (keyword
arguments) or ``{"parameters": [...]}`` (positional) and answers Domino's envelope.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import string
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from dmm.cli import run
from dmm.errors import UsageError
from sandbox.pids import alive

REQUEST_ID_ALPHABET = string.ascii_uppercase + string.digits


def load_function(script: Path, function: str) -> Callable[..., Any]:
    """Imports ``script`` the way Domino does: working directory = its folder, folder on ``sys.path``."""
    os.chdir(script.parent)
    sys.path.insert(0, str(script.parent))
    spec = importlib.util.spec_from_file_location(script.stem, script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[script.stem] = module
    spec.loader.exec_module(module)
    predict = getattr(module, function, None)
    if not callable(predict):
        raise UsageError(f"{script} defines no function {function}()", "Pass the function's name with --function")
    return predict


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as JSON values (the harness serialises what predict returns)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def make_handler(predict: Callable[..., Any] | None, release: dict[str, Any],
                 registry: Callable[[Any], tuple[int, dict[str, Any]]] | None = None) -> type[BaseHTTPRequestHandler]:
    """``predict``: a file-based endpoint's function; ``registry``: a registered model's responder (one is given)."""

    class ModelHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the sandbox's pooled session reuses connections

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
            return

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body, default=_plain).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
            self._answer(200, {"status": "Running", "release": release})

        def do_POST(self) -> None:  # noqa: N802
            request_id = "".join(secrets.choice(REQUEST_ID_ALPHABET) for _ in range(16))
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw or b"null")
            except ValueError as error:
                self._answer(400, {"error": f"The request body is not valid JSON: {error}", "request_id": request_id})
                return
            if registry is not None:
                self._registry(registry, body, request_id)
                return
            assert predict is not None
            if isinstance(body, dict) and isinstance(body.get("data"), dict):
                args, kwargs = [], body["data"]
            elif isinstance(body, dict) and isinstance(body.get("parameters"), list):
                args, kwargs = body["parameters"], {}
            else:
                self._answer(400, {"error": 'The request body must be {"data": {...}} or {"parameters": [...]}',
                                   "request_id": request_id})
                return
            started = time.perf_counter()
            try:
                result = predict(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 - the user's code failed; its error is the answer
                self._answer(500, {"error": f"{type(error).__name__}: {error}",
                                   "traceback": traceback.format_exc(limit=5), "request_id": request_id})
                return
            elapsed = int((time.perf_counter() - started) * 1000)
            try:
                self._answer(200, {"model_time_in_ms": elapsed, "release": release, "request_id": request_id,
                                   "result": result})
            except (TypeError, ValueError) as error:
                self._answer(500, {"error": f"The prediction result could not be serialised: {error}",
                                   "request_id": request_id})

        def _registry(self, respond: Callable[[Any], tuple[int, dict[str, Any]]], body: Any, request_id: str) -> None:
            if not isinstance(body, dict) or "data" not in body:
                self._answer(400, {"error": 'The request body must be {"data": {...}}', "request_id": request_id})
                return
            started = time.perf_counter()
            status, fields = respond(body["data"])
            if status != 200:
                self._answer(status, {**fields, "request_id": request_id})
                return
            elapsed = int((time.perf_counter() - started) * 1000)
            self._answer(200, {"model_time_in_ms": elapsed, "release": release, "request_id": request_id, **fields})

    return ModelHandler


def _exit_with_parent(parent_pid: int, forked: bool = False) -> None:
    """A model process never outlives the sandbox that started it, even when the sandbox is killed. A process forked
    by ``sandbox.model_zygote`` is not the sandbox's child: it watches the sandbox's pid (``--parent-pid``)."""
    while (alive(parent_pid) if forked else os.getppid() == parent_pid):
        time.sleep(1)
    os._exit(0)


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def serve(script: Path | None, port: int, ready_file: Path, function: str, version_id: str, version_number: int,
          host: str = "127.0.0.1", model_uri: str | None = None, rows_as_records: bool = False,
          parent_pid: int | None = None) -> None:
    release = {"harness_version": "0.1", "model_version": version_id, "model_version_number": version_number}
    if model_uri:
        from sandbox.registry_model import load_registered, make_registry_predict

        handler = make_handler(None, release, make_registry_predict(load_registered(model_uri), rows_as_records))
    else:
        assert script is not None
        handler = make_handler(load_function(script.resolve(), function), release)
    server = ModelServer((host, port), handler)
    watched = (parent_pid, True) if parent_pid else (os.getppid(), False)
    threading.Thread(target=_exit_with_parent, args=watched, daemon=True).start()
    pending = ready_file.with_suffix(".tmp")
    pending.write_text(str(server.server_address[1]))
    pending.replace(ready_file)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--script", type=Path, help="a file-based endpoint: the script defining the function")
    source.add_argument("--model-uri", help="a registered model: models:/<name>/<version>")
    parser.add_argument("--rows-as-records", action="store_true",
                        help="a registered model's rows as {column: value} (default: bare values)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file", required=True, type=Path, help="the bound port is written here")
    parser.add_argument("--function", default="predict")
    parser.add_argument("--version-id", default=None, help="default: the second part of HOSTNAME")
    parser.add_argument("--version-number", type=int, default=1)
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="exit when this process ends (default: when the parent process ends)")
    args = parser.parse_args(argv)
    hostname = os.environ.get("HOSTNAME", "")
    version_id = args.version_id or (hostname.split("-")[1] if hostname.count("-") >= 1 else "")
    args.ready_file = args.ready_file.resolve()
    serve(args.script, args.port, args.ready_file, args.function, version_id, args.version_number,
          model_uri=args.model_uri, rows_as_records=args.rows_as_records, parent_pid=args.parent_pid)
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
