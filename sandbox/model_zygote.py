"""A preloaded interpreter that forks the sandbox's Model API processes (``sandbox.model_host``) on request, the
sandbox servers themselves (``python -m sandbox serve``, ~1.2 s of Flask, pandas and pyarrow imports each), and
(a request whose ``module`` is a ``.py`` file) that file run as a script: the tests' step server.

A model process spends ~2.5 s of CPU importing pandas and scikit-learn (MLflow for a registered model) before it
loads its model; the test suite starts a few dozen. ``python -m sandbox.model_zygote SOCKET`` imports those
libraries once (``SOCKET MODULE...``: those modules instead, for a test of the zygote itself), then listens on the
Unix socket ``SOCKET``: each request (one JSON line: ``argv`` of ``sandbox.model_host``, ``cwd``, ``env``, ``log``)
forks a child that takes that working folder, environment and log as its own and runs ``sandbox.model_host``'s
``main`` as ``python -m sandbox.model_host`` would; the answer is the child's pid. The child is still a process of
its own, serving real HTTP on its own port; only the imports are skipped. A sandbox uses a zygote only when
``ZYGOTE_ENV`` names its socket (the tests set it; ``make demo`` and Domino itself start each model fresh), and
passes its own pid (``--parent-pid``) so the model still exits with it.

The zygote reaps its children as they exit (on SIGCHLD; their CPU time is counted as its children's, as a fresh
process's would be counted as the sandbox's); the sandbox, not their parent, watches them by pid (``ZygoteProcess``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dmm.errors import ApiError
from sandbox.pids import alive

# The environment variable naming a running zygote's socket (read by sandbox.model_processes).
ZYGOTE_ENV = "DMM_SANDBOX_MODEL_ZYGOTE"
# What a model process imports before its first answer: the example model's pipeline, the registry's pyfunc; then
# what a sandbox server imports (its routes, ingestion, the monitor's analysis).
PRELOAD = ("numpy", "pandas", "pyarrow", "sklearn.ensemble", "sklearn.pipeline", "sklearn.compose",
           "sklearn.impute", "sklearn.preprocessing", "joblib", "mlflow.pyfunc", "sandbox.model_host",
           "sandbox.registry_model", "sandbox.server", "sandbox.app", "sandbox.ingest", "sandbox.monitor_analysis",
           "dmm.analysis",
           # what tests/step_server.py imports (its PRELOAD), so that one forked from here (``module`` a ``.py`` file,
           # run as a script) imports nothing more: one preloaded interpreter per test worker instead of two
           "pyarrow.parquet", "scipy.stats", "sklearn.metrics", "requests", "httpx", "urllib3", "domino",
           "domino_data.training_sets.client", "domino_data.data_sources", "mlflow", "mlflow.sklearn",
           "dmm.checks.step", "dmm.analysis.engine", "dmm.analysis.drift", "dmm.analysis.quality", "dmm.ground_truth",
           "dmm.traffic", "dmm.training_set", "dmm.wizard")
ZYGOTE_MODULE = "sandbox.model_zygote"  # its command line's module, which its children keep
SERVER_MODULE = "sandbox"  # ``python -m sandbox serve ...``; any other request is a model host


def _become(request: Mapping[str, Any]) -> None:
    """In the forked child: take the request's folder, environment and log, run the model host (never returns)."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})  # blocked by ``_fork`` until now
        os.setsid()
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", closefd=False, buffering=1)
        sys.stderr = open(2, "w", closefd=False, buffering=1)
        sys.path[0] = os.getcwd()  # as ``python -m`` puts the working folder first
        if str(request.get("module", "")).endswith(".py"):  # a file run as a script: the tests' step server
            import runpy

            sys.argv = [request["module"], *request["argv"]]
            sys.path[0] = os.path.dirname(request["module"])
            runpy.run_path(request["module"], run_name="__main__")
            code = 0
        elif request.get("module") == SERVER_MODULE:
            import runpy

            sys.argv = ["-m", *request["argv"]]  # runpy puts the module's file first, as ``python -m`` does
            runpy.run_module(SERVER_MODULE, run_name="__main__", alter_sys=True)
            code = 0
        else:
            from dmm.cli import run
            from sandbox import model_host

            sys.argv = [str(model_host.__file__), *request["argv"]]
            code = run(model_host.main, list(request["argv"]))
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:  # noqa: BLE001 - the child reports and leaves; the zygote must not go on in it
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _reap(signum: int, frame: Any) -> None:
    """Collect every child that has exited (SIGCHLD may stand for several)."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def _exit(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def _fork(children: list[int]) -> int:
    """``os.fork()`` with SIGTERM blocked until the parent has recorded the child: a SIGTERM in between would
    otherwise run the zygote's handler (``_exit``) in the child, before ``_become`` resets it, and that child would
    end its siblings' sessions in ``serve``'s ``finally``; in the parent, a SIGTERM held back while forking ends the
    new child too. The child unblocks it in ``_become``, once its handler is the default one."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    pid = -1
    try:
        pid = os.fork()
        if pid == 0:
            return 0
        children.append(pid)
        return pid
    finally:
        if pid != 0:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def serve(socket_path: Path, preload: Sequence[str] = PRELOAD) -> None:
    """Fork a child per request until the process that started the zygote is gone (or SIGTERM); then end every
    child still running (each leads its own session: its models go with it), so an interrupted test run leaves
    no sandbox behind."""
    for name in preload:
        __import__(name)
    signal.signal(signal.SIGCHLD, _reap)
    signal.signal(signal.SIGTERM, _exit)
    parent = os.getppid()
    children: list[int] = []
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(socket_path))
    listener.listen(16)
    listener.settimeout(1.0)
    print("ready", flush=True)
    try:
        while os.getppid() == parent:  # the zygote never outlives the process that started it
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                try:  # one client that went away, or a failed fork, must not end the zygote
                    connection.settimeout(None)
                    request = json.loads(connection.makefile("r").readline())
                    pid = _fork(children)
                    if pid == 0:
                        listener.close()
                        connection.close()
                        _become(request)
                    connection.sendall((json.dumps({"pid": pid}) + "\n").encode())
                except Exception as error:
                    print(f"request failed: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
    finally:
        for pid in children:
            if alive(pid):
                try:
                    os.killpg(pid, signal.SIGTERM)
                except ProcessLookupError:  # forked just now, not yet its session's leader (``_become``'s setsid):
                    os.kill(pid, signal.SIGTERM)  # held pending while blocked, it ends the child once unblocked
                except OSError:
                    pass


def launch(socket_path: str, argv: Sequence[str], cwd: str, env: Mapping[str, str], log: Path,
           module: str = "sandbox.model_host") -> int:
    """Ask the zygote at ``socket_path`` for a model process (or, ``module=SERVER_MODULE``, a sandbox server); its
    pid. A zygote still importing (its socket not yet bound) is waited for while it lives (its pid in
    ``<socket>.pid``, written by whoever started it) and for at most ten minutes; a zygote that is gone or never
    answers is an ``ApiError`` (code ``zygote-stopped``) naming its log, ``<socket>.log`` (``log_path``)."""
    deadline = time.monotonic() + 600
    pid_file = Path(f"{socket_path}.pid")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(60)
        while True:
            try:
                client.connect(socket_path)
                break
            except (FileNotFoundError, ConnectionRefusedError) as error:
                gone = pid_file.exists() and not alive(int(pid_file.read_text()))
                if gone or time.monotonic() > deadline:
                    raise _stopped(socket_path, "ended before it took a request" if gone
                                   else "did not answer within ten minutes") from error
                time.sleep(0.05)
        request = {"module": module, "argv": list(argv), "cwd": cwd, "env": dict(env), "log": str(log)}
        client.sendall((json.dumps(request) + "\n").encode())
        answer = client.makefile("r").readline()
        if not answer:  # a failed fork (in its log), or a zygote stopped while it took the request
            raise _stopped(socket_path, "closed the request without an answer")
        return int(json.loads(answer)["pid"])


def log_path(socket_path: str | Path) -> Path:
    """Where whoever starts a zygote on ``socket_path`` writes its output (tests/conftest.py does)."""
    return Path(f"{socket_path}.log")


def _stopped(socket_path: str, what: str) -> ApiError:
    log = log_path(socket_path)
    tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
    return ApiError(f"The model zygote at {socket_path} {what}"
                    + (f": {' | '.join(tail)}" if tail else ""), f"See its log {log}", code="zygote-stopped")


class ZygoteProcess:
    """What ``sandbox.model_processes`` needs of a ``subprocess.Popen``, for a process forked by the zygote (not
    this process's child: it is watched by pid; the kernel reaps it, see the module's docstring)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and not alive(self.pid):
            self.returncode = -1  # its exit status went to the zygote, its parent, not to us
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                import subprocess

                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
            time.sleep(0.02)
        return -1

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, number: int) -> None:
        try:
            os.kill(self.pid, number)
        except ProcessLookupError:
            pass


if __name__ == "__main__":
    serve(Path(sys.argv[1]), sys.argv[2:] or PRELOAD)
