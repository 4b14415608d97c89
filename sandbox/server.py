"""Run the sandbox: serve in the foreground, start it in the background, stop it, and call its admin verbs.

Files in the state folder: ``sandbox.pid`` (the serving process), ``sandbox.env`` (``export NAME=value`` lines
for a shell or a test), ``sandbox.log`` (the background server's output), ``state.json`` and data folders.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

from dmm.errors import ApiError, UsageError
from dmm.http import ApiClient, api_key_headers, make_session
from sandbox.listeners import start_extra_listeners
from sandbox.model_zygote import SERVER_MODULE, ZYGOTE_ENV, ZYGOTE_MODULE, ZygoteProcess, launch
from sandbox.pids import alive
from sandbox.profiles import SERVICE_ACCOUNT_TOKEN_ENV, access_token
from sandbox.settings import SandboxSettings
from sandbox.state import SandboxState

DEFAULT_STATE_DIR = Path(".sandbox")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8790
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
API_KEYS_ENV = "DMM_SANDBOX_API_KEYS"  # how ``start`` hands the keys to ``serve`` without showing them in ``ps``
ADMIN_KEY_ENV = "DMM_SANDBOX_ADMIN_KEY"  # the admin verbs' key where the profile exports no DOMINO_USER_API_KEY
PID_FILE, ENV_FILE, LOG_FILE = "sandbox.pid", "sandbox.env", "sandbox.log"
SIGNATURE_PARAM = re.compile(r"([?&]signature=)[^&\s]*")


def check_loopback(host: str) -> None:
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise UsageError(f"The sandbox only listens on a loopback address, not {host!r}",
                         "Use --host 127.0.0.1 (the default)")


def free_port(host: str = DEFAULT_HOST) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def exported_env(state_dir: Path, url: str, settings: SandboxSettings,
                 listeners: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a Domino workspace would set, pointed at this sandbox (see docs/internals.md), as the profile has it:
    ``listeners`` (the proxy's and the internal host's variables) override the defaults."""
    env = _workspace_env(state_dir, url, settings)
    profile = settings.profile
    env.update(listeners or {})
    if not profile.user_api_keys:  # keys disabled: Domino does not export one; the admin verbs still need it
        del env["DOMINO_USER_API_KEY"]
        env[ADMIN_KEY_ENV] = settings.api_keys[0]
    if profile.service_account_token:
        env[SERVICE_ACCOUNT_TOKEN_ENV] = access_token(settings.api_keys[0], "service-account")
    env["DMM_SANDBOX_PROFILE"] = profile.name
    return env


def _workspace_env(state_dir: Path, url: str, settings: SandboxSettings) -> dict[str, str]:
    state_dir = Path(state_dir).resolve()
    port = url.rsplit(":", 1)[-1]
    return {
        "DOMINO_API_HOST": url,
        "DOMINO_USER_API_KEY": settings.api_keys[0],
        "DOMINO_PROJECT_ID": settings.project_id,
        "DOMINO_PROJECT_OWNER": settings.project_owner,
        "DOMINO_PROJECT_NAME": settings.project_name,
        "DOMINO_TRAINING_SET_PATH": str(state_dir / "trainingsets"),
        "DOMINO_DATASOURCE_PROXY_HOST": url,
        # The client builds a Flight client eagerly but object stores never use it; nothing listens here.
        "DOMINO_DATASOURCE_PROXY_FLIGHT_HOST": f"grpc://127.0.0.1:{port}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{state_dir / 'mlflow.db'}",
        # Where a workspace mounts the project's datasets; ingestion writes prediction_data under local/ there.
        "DOMINO_DATASETS_DIR": str(state_dir / "datasets"),
        "DMM_SANDBOX_URL": url,
    }


def format_env(env: Mapping[str, str]) -> str:
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())


def read_env(state_dir: Path) -> dict[str, str]:
    path = Path(state_dir) / ENV_FILE
    if not path.exists():
        raise UsageError(f"No sandbox environment in {state_dir}", "Start one with: python -m sandbox start "
                         f"--state {state_dir}")
    env = {}
    for line in path.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            name, _, value = line[len("export "):].partition("=")
            env[name] = shlex.split(value)[0] if value else ""
    return env


def _redacting_handler():
    """Werkzeug's request handler, logging signed object URLs without their signature (a credential)."""
    from werkzeug.serving import WSGIRequestHandler

    class RedactingHandler(WSGIRequestHandler):
        def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's signature
            super().log(type, message, *(SIGNATURE_PARAM.sub(r"\1***", arg) if isinstance(arg, str) else arg
                                         for arg in args))

    return RedactingHandler


def _write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


# ---------------------------------------------------------------------------------------------- serve


def serve(state_dir: Path, settings: SandboxSettings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          on_ready=None) -> None:
    """Serve until SIGTERM or Ctrl-C, then run ``app.config["SHUTDOWN_HOOKS"]`` (stops model processes)."""
    from werkzeug.serving import make_server

    from sandbox.app import create_app

    check_loopback(host)
    state = SandboxState(state_dir)
    app = create_app(state, settings)
    try:
        server = make_server(host, port, app, threaded=True, request_handler=_redacting_handler())
    except OSError as error:
        raise UsageError(f"Cannot listen on {host}:{port} ({error.strerror})",
                         "Pick another --port or stop whatever uses it") from None
    url = f"http://{host}:{server.server_port}"
    try:
        extra = start_extra_listeners(app, settings.profile, settings.api_keys[0], host, url, _redacting_handler())
    except OSError as error:
        server.server_close()
        raise UsageError(f"Cannot open the profile's extra listeners on {host} ({error.strerror})",
                         "Free a port or use --profile keys") from None
    env = exported_env(state.root, url, settings, extra.env)
    _write_private(state.root / ENV_FILE, format_env(env))
    pid_file = state.root / PID_FILE
    pid_file.write_text(f"{os.getpid()}\n")

    def _interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        if on_ready is not None:
            on_ready(url, env)
        server.serve_forever()  # werkzeug's serve_forever returns on KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        extra.close()
        server.server_close()
        for hook in reversed(app.config.get("SHUTDOWN_HOOKS", [])):
            try:
                hook()
            except Exception as error:  # one failing hook must not keep the others from running
                print(f"sandbox: shutdown hook {hook!r} failed: {error}", file=sys.stderr)
        if pid_file.exists() and pid_file.read_text().strip() == str(os.getpid()):
            pid_file.unlink()


# ---------------------------------------------------------------------------------------------- start / stop


def running_pid(state_dir: Path) -> int | None:
    """The pid of this state folder's sandbox if that process is alive and is a sandbox server."""
    path = Path(state_dir) / PID_FILE
    try:
        pid = int(path.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    if b"sandbox" in cmdline and b"serve" in cmdline:
        return pid
    # A sandbox forked by the tests' zygote (sandbox/model_zygote.py) keeps the zygote's command line, as do the
    # zygote and its models: of those, only this folder's server works in it
    try:
        ours = ZYGOTE_MODULE.encode() in cmdline and os.readlink(f"/proc/{pid}/cwd") == str(Path(state_dir).resolve())
    except OSError:
        return None
    return pid if ours else None


def start(state_dir: Path, serve_args: list[str], api_keys: tuple[str, ...], port: int | None = None,
          host: str = DEFAULT_HOST, timeout: float = START_TIMEOUT_S) -> dict[str, str]:
    """Start ``serve`` as a detached process, wait until it answers, return its exported environment."""
    check_loopback(host)
    state_dir = Path(state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    if running_pid(state_dir) is not None:
        raise UsageError(f"A sandbox is already running for {state_dir}",
                         f"Stop it first with: python -m sandbox stop --state {state_dir}")
    (state_dir / ENV_FILE).unlink(missing_ok=True)
    port = port or free_port(host)
    command = [sys.executable, "-m", "sandbox", "serve", "--state", str(state_dir), "--host", host,
               "--port", str(port), *serve_args]
    child_env = {**os.environ, API_KEYS_ENV: "\n".join(api_keys)}
    process: subprocess.Popen | ZygoteProcess
    if os.environ.get(ZYGOTE_ENV):  # the tests' preloaded interpreter forks it (sandbox/model_zygote.py)
        process = ZygoteProcess(launch(os.environ[ZYGOTE_ENV], command[3:], str(state_dir), child_env,
                                       state_dir / LOG_FILE, module=SERVER_MODULE))
    else:
        with open(state_dir / LOG_FILE, "ab") as log:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=child_env,
                                       start_new_session=True, cwd=state_dir)
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (state_dir / LOG_FILE).read_text(errors="replace").strip().splitlines()[-3:]
            code = "" if isinstance(process, ZygoteProcess) else f" with code {process.returncode}"  # zygote's child
            raise ApiError(f"The sandbox exited at start{code}: {' | '.join(tail)}",
                           f"See {state_dir / LOG_FILE}")
        try:
            requests.get(f"{url}/health", timeout=2)  # any HTTP answer (even an injected fault) means it is up
            if (state_dir / ENV_FILE).exists():
                return read_env(state_dir)
        except requests.RequestException:
            pass
        time.sleep(0.02)  # a refused connection costs next to nothing; a sandbox forked by a zygote is up in ~0.2 s
    _terminate(process.pid, STOP_TIMEOUT_S)
    raise ApiError(f"The sandbox did not answer within {timeout:.0f} s", f"See {state_dir / LOG_FILE}")


def _terminate(pid: int, timeout: float) -> bool:
    """SIGTERM, wait; SIGKILL the process group only if it ignores that. True if it stopped on SIGTERM."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)
    return False


def stop(state_dir: Path, timeout: float = STOP_TIMEOUT_S) -> bool:
    """Stop the state folder's sandbox. False if none was running; raises if it had to be killed."""
    pid = running_pid(state_dir)
    if pid is None:
        (Path(state_dir) / PID_FILE).unlink(missing_ok=True)
        return False
    clean = _terminate(pid, timeout)
    (Path(state_dir) / PID_FILE).unlink(missing_ok=True)
    if not clean:
        raise ApiError(f"The sandbox (pid {pid}) did not stop within {timeout:.0f} s and was killed",
                       f"See {Path(state_dir) / LOG_FILE}")
    return True


# ---------------------------------------------------------------------------------------------- admin verbs


def admin(state_dir: Path, verb: str, payload: Mapping[str, Any] | None = None, method: str = "POST") -> Any:
    """Call ``/sandbox/<verb>`` on the state folder's running sandbox with its API key."""
    env = read_env(state_dir)
    key = env.get(ADMIN_KEY_ENV) or env["DOMINO_USER_API_KEY"]
    client = ApiClient(env["DMM_SANDBOX_URL"], make_session(headers=api_key_headers(key)),
                       timeout=300, service_name="the sandbox")
    if method == "GET":
        return client.get(f"/sandbox/{verb}", what=f"sandbox {verb}")
    return client.post(f"/sandbox/{verb}", json=dict(payload or {}), what=f"sandbox {verb}")


def parse_verb_options(tokens: list[str]) -> dict[str, Any]:
    """``--KEY VALUE`` pairs; a VALUE that parses as JSON is used as such (numbers, booleans, objects)."""
    payload: dict[str, Any] = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if not token.startswith("--") or len(token) == 2:
            raise UsageError(f"Unexpected argument {token!r}", "Pass options as --KEY VALUE or --json '{...}'")
        key, has_value, value = token[2:].partition("=")
        if not has_value:
            if index + 1 >= len(tokens):
                raise UsageError(f"Option {token} has no value", "Pass options as --KEY VALUE")
            index += 1
            value = tokens[index]
        try:
            payload[key] = json.loads(value)
        except ValueError:
            payload[key] = value
        index += 1
    return payload

