"""The running Model API processes of one sandbox: start, find the port of, and stop ``sandbox.model_host``.

A version record (kept by the ``deploy`` admin verb in ``model_apis``) is
``{versionId, number, script, workdir, env, function}`` for a file-based endpoint, or
``{versionId, number, source: "Registry", registeredModelName, registeredModelVersion, trackingUri, rowsAsRecords,
workdir, env}`` for a model deployed from the Model Registry (served by ``sandbox.registry_model``).
Each process gets a fresh ``HOSTNAME=model-<versionId>-<5 chars>``, like a restarted Domino model pod, and
``PREDICTION_DATA_DIRECTORY``. It is a fresh interpreter, unless ``$DMM_SANDBOX_MODEL_ZYGOTE`` names the socket of a
``sandbox.model_zygote`` (the tests start one per worker): then it is forked from that preloaded interpreter, a
process of its own all the same, which exits with this sandbox.
"""

from __future__ import annotations

import os
import secrets
import string
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.model_zygote import ZYGOTE_ENV, ZygoteProcess, launch
from sandbox.state import SandboxState

STOP_GRACE_S = 5


@dataclass
class RunningModel:
    process: subprocess.Popen | ZygoteProcess
    ready_file: Path
    hostname: str
    port: int | None = None


def model_hostname(version_id: str) -> str:
    suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))
    return f"model-{version_id}-{suffix}"


class ModelProcesses:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._running: dict[str, RunningModel] = {}
        self._lock = threading.Lock()

    def start(self, version: dict[str, Any]) -> RunningModel:
        """Starts (or restarts) the process of one version without waiting for it to answer."""
        version_id = version["versionId"]
        self.stop(version_id)
        folder = self.state.models_dir / version_id
        folder.mkdir(parents=True, exist_ok=True)
        ready_file = folder / "port"
        ready_file.unlink(missing_ok=True)
        hostname = model_hostname(version_id)
        env = {**os.environ, **version.get("env", {}), "HOSTNAME": hostname,
               "PREDICTION_DATA_DIRECTORY": str(self.state.capture_dir)}
        command = [sys.executable, "-m", "sandbox.model_host", "--port", "0", "--ready-file", str(ready_file),
                   "--version-id", version_id, "--version-number", str(version["number"])]
        if version.get("source") == "Registry":
            env["MLFLOW_TRACKING_URI"] = version["trackingUri"]
            command += ["--model-uri", f"models:/{version['registeredModelName']}/{version['registeredModelVersion']}"]
            command += ["--rows-as-records"] if version.get("rowsAsRecords") else []
            workdir = version.get("workdir") or str(folder)
        else:
            command += ["--script", version["script"], "--function", version.get("function", "predict")]
            workdir = version.get("workdir") or str(Path(version["script"]).parent)
        process: subprocess.Popen | ZygoteProcess
        if os.environ.get(ZYGOTE_ENV):
            process = ZygoteProcess(launch(os.environ[ZYGOTE_ENV], [*command[3:], "--parent-pid", str(os.getpid())],
                                           workdir, env, folder / "process.log"))
        else:
            with open(folder / "process.log", "ab") as log:
                process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL)
        running = RunningModel(process, ready_file, hostname)
        with self._lock:
            self._running[version_id] = running
        return running

    def port(self, version_id: str) -> int | None:
        """The port of a version's process once it is up; None while starting, stopped or dead."""
        with self._lock:
            running = self._running.get(version_id)
        if running is None or running.process.poll() is not None:
            return None
        if running.port is None and running.ready_file.exists():
            running.port = int(running.ready_file.read_text())
        return running.port

    def wait_ready(self, version_id: str, timeout_s: float = 30) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.port(version_id) is not None:
                return True
            with self._lock:
                running = self._running.get(version_id)
            if running is None or running.process.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def is_running(self, version_id: str) -> bool:
        with self._lock:
            running = self._running.get(version_id)
        return running is not None and running.process.poll() is None

    def log_tail(self, version_id: str, lines: int = 20) -> str:
        log = self.state.models_dir / version_id / "process.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""

    def stop(self, version_id: str) -> None:
        with self._lock:
            running = self._running.pop(version_id, None)
        if running is None or running.process.poll() is not None:
            return
        running.process.terminate()
        try:
            running.process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            running.process.kill()
            running.process.wait()

    def stop_all(self) -> None:
        with self._lock:
            version_ids = list(self._running)
        for version_id in version_ids:
            self.stop(version_id)


def processes_of(app) -> ModelProcesses:
    """The app's process table, created on first use (the deploy verb and the Model API routes share it)."""
    if "model_processes" not in app.extensions:
        app.extensions["model_processes"] = ModelProcesses(app.config["STATE"])
    return app.extensions["model_processes"]
