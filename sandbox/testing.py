"""A sandbox running in the background for tests and demos: start it, talk to it, stop it."""

from __future__ import annotations

import importlib.util
import io
import os
import subprocess
import sys
from collections.abc import Sequence
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import requests

from dmm.errors import DmmError
from sandbox import server
from sandbox.profiles import DEFAULT_PROFILE, PROFILES, SERVICE_ACCOUNT_TOKEN_ENV, access_token

# The source tree (the project is installed editable): the numbered scripts, the template and the example live here.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEST_KEY = "sandbox-test-key-0123456789"
# Credentials and hosts a profile may export; the caller's own values must not leak into a sandbox run.
PROFILE_VARIABLES = ("DOMINO_USER_API_KEY", "DOMINO_API_PROXY", "DOMINO_TOKEN_FILE", "DOMINO_USER_HOST",
                     SERVICE_ACCOUNT_TOKEN_ENV)


def load_script(name: str) -> ModuleType:
    """A numbered script (``"1_register_training_set"``) as a module, loaded once from ``PROJECT_ROOT``.

    The scripts are files beside the installed packages, not modules of them, so tests load them by path rather
    than putting the project root on ``sys.path``. The module is registered under its file's stem, so
    ``mock.patch("1_register_training_set.<name>")`` reaches it.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, PROJECT_ROOT / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"{name}.py was not found in {PROJECT_ROOT}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


@dataclass
class RunningSandbox:
    """``python -m sandbox start`` on a free port; ``.env`` is ``os.environ`` with the exported variables (and
    without the credentials of ``PROFILE_VARIABLES`` that the profile does not export)."""

    state_dir: Path
    api_key: str = DEFAULT_TEST_KEY
    extra_args: Sequence[str] = ()
    profile: str = DEFAULT_PROFILE
    port: int | None = None
    url: str = ""
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> RunningSandbox:
        self.port = self.port or server.free_port()
        self._cli("start", "--port", str(self.port), "--api-key", self.api_key, "--profile", self.profile,
                  *self.extra_args)
        exported = server.read_env(self.state_dir)
        self.url = exported["DMM_SANDBOX_URL"]
        inherited = {name: value for name, value in os.environ.items() if name not in PROFILE_VARIABLES}
        self.env = {**inherited, **exported}
        return self

    @property
    def user_api_keys(self) -> bool:
        return PROFILES[self.profile].user_api_keys

    @property
    def access_token(self) -> str:
        """A Bearer token the sandbox accepts in a profile without user API keys (a service account's)."""
        return access_token(self.api_key, "service-account")

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every credential this sandbox accepts or hands out (for redaction and for tests that grep output)."""
        return (self.api_key, access_token(self.api_key, "proxy"), self.access_token)

    def stop(self) -> None:
        self._cli("stop")

    def restart(self) -> RunningSandbox:
        """Stop and start again on the same port and state folder (state must survive)."""
        self.stop()
        return self.start()

    @property
    def headers(self) -> dict[str, str]:
        """What the harness authenticates with: the API key, or a Bearer token where keys are disabled."""
        if self.user_api_keys:
            return {"X-Domino-Api-Key": self.api_key}
        return {"Authorization": f"Bearer {self.access_token}"}

    def admin(self, verb: str, **payload: Any) -> dict[str, Any]:
        """``POST /sandbox/<verb>`` (``GET`` for ``status``); raises ``requests.HTTPError`` on a refusal."""
        if verb == "status":
            response = requests.get(f"{self.url}/sandbox/status", headers=self.headers, timeout=60)
        else:
            response = requests.post(f"{self.url}/sandbox/{verb}", json=payload, headers=self.headers, timeout=300)
        response.raise_for_status()
        return response.json()

    def run_python(self, code: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run ``code`` in a fresh interpreter with the sandbox's environment (as a workspace script would)."""
        return subprocess.run([sys.executable, "-c", code], env=self.env, cwd=PROJECT_ROOT, capture_output=True,
                              text=True, timeout=timeout)

    def _cli(self, *args: str) -> None:
        """``python -m sandbox <verb> --state ...``, called in this process (the verb's own work, starting or stopping
        ``serve`` as a process of its own, is the same; an interpreter's start per call is not)."""
        from sandbox.__main__ import main as sandbox_main

        printed = io.StringIO()
        try:
            with redirect_stdout(printed):
                sandbox_main([args[0], "--state", str(self.state_dir), *args[1:]])
        except (DmmError, SystemExit) as error:
            log = Path(self.state_dir) / server.LOG_FILE
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"python -m sandbox {args[0]} failed: {error}\n{tail}") from error

    def __enter__(self) -> RunningSandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
