"""Run the numbered scripts as processes forked from one that has already imported their libraries.

A step run as ``python 6_check_monitoring.py`` spends ~2.5 s of CPU importing pandas, pyarrow, scipy, scikit-learn
and Domino's clients before its first line of work; the end-to-end tests run about a hundred steps. ``StepServer``
starts this file once per test worker, forked from the worker's model zygote (which has imported those libraries
already: sandbox/model_zygote.py) and serving requests on a Unix socket, or without a zygote as a fresh interpreter
that imports them and serves requests on its standard input. Each request forks a child, which sets the step's argv,
working folder, environment and standard streams, runs the script (or ``-m`` module) as ``__main__`` the way the
interpreter would, and exits with its code. Each step is still its own process, with its own environment, files and
exit code; what it skips is only the import of modules that read nothing at import time (``tests/test_layout.py``
keeps ``dmm`` so). One path of the suite (the shared classification path of tests/test_e2e.py) and ``make demo``
still start every step with a fresh interpreter, so an import-time failure cannot hide here.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import runpy
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

# What the steps import, in the order a step would; mlflow for step 2 and the example's training.
PRELOAD = ("numpy", "pandas", "pyarrow", "pyarrow.parquet", "scipy.stats", "sklearn.metrics", "sklearn.ensemble",
           "requests", "httpx", "urllib3", "domino", "domino_data.training_sets.client", "domino_data.data_sources",
           "mlflow", "mlflow.sklearn", "dmm.checks.step", "dmm.analysis.engine", "dmm.analysis.drift",
           "dmm.analysis.quality", "dmm.ground_truth", "dmm.traffic", "dmm.training_set", "dmm.wizard")


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str


def _run_child(request: Mapping) -> None:
    """In the forked child: become the step, run it, and leave with its exit code (never returns)."""
    code = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for fd, path, mode in ((0, os.devnull, os.O_RDONLY), (1, request["out"], os.O_WRONLY),
                               (2, request["err"], os.O_WRONLY)):
            os.dup2(os.open(path, mode), fd)
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", closefd=False, buffering=1)
        sys.stderr = open(2, "w", closefd=False, buffering=1)
        args = list(request["args"])
        if args[0] == "-m":
            sys.argv = [args[1], *args[2:]]
            sys.path[0] = os.getcwd()
            runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = args
            sys.path[0] = str(Path(args[0]).resolve().parent)
            runpy.run_path(args[0], run_name="__main__")
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        if stop.code is not None and not isinstance(stop.code, int):
            print(stop.code, file=sys.stderr)
    except KeyboardInterrupt:
        traceback.print_exc()
        code = 130
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        try:
            threading._shutdown()  # type: ignore[attr-defined]  # as the interpreter waits for non-daemon threads
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve(requests: TextIO | None = None, reply: TextIO | None = None) -> None:
    """Import ``PRELOAD``, then fork one child per request line (JSON) and answer each with its exit code (on
    standard input and output unless given)."""
    for name in PRELOAD:
        __import__(name)
    if reply is None:
        reply = os.fdopen(os.dup(1), "w", buffering=1)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # a stray print of an import must not garble the replies
    reply.write(json.dumps({"ready": True}) + "\n")
    for line in requests or sys.stdin:
        request = json.loads(line)
        if "wait" in request:  # a spawned child's exit code (it may have exited already: waitpid still has it)
            _, status = os.waitpid(request["wait"], 0)
            reply.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
            continue
        pid = os.fork()
        if pid == 0:
            _run_child(request)
        if request.get("spawn"):  # answered at once: the client signals it, polls it, then asks to "wait"
            reply.write(json.dumps({"pid": pid}) + "\n")
            continue
        deadline = time.monotonic() + request.get("timeout", 600)
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                _, status = os.waitpid(pid, 0)
                break
            time.sleep(0.01)
        reply.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")


def serve_socket(path: str) -> None:
    """``serve`` for one client on the Unix socket ``path``: how the tests' zygote (sandbox/model_zygote.py) runs
    this file in a child forked from its own preloaded interpreter, which has imported ``PRELOAD`` already."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen(1)
        connection, _ = listener.accept()
    with connection:
        serve(connection.makefile("r"), io.TextIOWrapper(connection.makefile("wb"), line_buffering=True))


class StepServer:
    """The client: ``run(args, cwd, env)`` is ``subprocess.run([sys.executable, *args], ...)`` with captured text
    output, served by a forked child of the preloaded server (started on first use, stopped by ``close``)."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._pid: int | None = None  # the server's pid when the zygote forked it (not this process's child)
        self._channel: tuple[TextIO, TextIO] | None = None  # (replies, requests)
        self._socket: socket.socket | None = None
        self._folder: Path | None = None  # the forked server's socket and log
        self._log: Path | None = None
        self._lock = threading.Lock()

    def _running(self) -> bool:
        from sandbox.pids import alive

        if self._channel is None:
            return False
        return alive(self._pid) if self._pid is not None else self._process is not None and self._process.poll() is None

    def _started(self) -> tuple[TextIO, TextIO]:
        """The server's (replies, requests): forked from the worker's zygote when there is one (``ZYGOTE_ENV``,
        tests/conftest.py): it has imported ``PRELOAD`` already, and the suite keeps one preloaded interpreter per
        worker rather than two; else a fresh interpreter that imports them."""
        from sandbox.model_zygote import ZYGOTE_ENV

        if not self._running():
            self.close()
            zygote = os.environ.get(ZYGOTE_ENV)
            self._channel = self._fork_from(zygote) if zygote else self._start_fresh()
            if not self._channel[0].readline():
                raise RuntimeError(f"the step server stopped before it was ready; see {self._log or 'its stderr'}")
        assert self._channel is not None
        return self._channel

    def _start_fresh(self) -> tuple[TextIO, TextIO]:
        self._process = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True, bufsize=1)
        assert self._process.stdin is not None and self._process.stdout is not None
        return self._process.stdout, self._process.stdin

    def _fork_from(self, zygote: str) -> tuple[TextIO, TextIO]:
        from sandbox.model_zygote import launch
        from sandbox.pids import alive

        folder = self._folder = Path(tempfile.mkdtemp(prefix="steps-"))
        path, self._log = folder / "steps.sock", folder / "steps.log"
        self._pid = launch(zygote, [str(path)], str(Path(__file__).parent), dict(os.environ), self._log,
                           module=str(Path(__file__).resolve()))
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + 600
        while True:
            try:
                client.connect(str(path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if not alive(self._pid) or time.monotonic() > deadline:
                    client.close()
                    raise RuntimeError(f"the step server (pid {self._pid}) did not listen; see {self._log}") from None
                time.sleep(0.02)
        self._socket = client
        return client.makefile("r"), client.makefile("w", buffering=1)

    def run(self, args: Sequence[object], cwd: Path, env: Mapping[str, str], timeout: float = 600) -> Finished:
        with tempfile.TemporaryDirectory(prefix="step-") as folder:
            out, err = Path(folder) / "stdout", Path(folder) / "stderr"
            out.touch()
            err.touch()
            answer = self._ask({"args": [str(a) for a in args], "cwd": str(cwd), "env": dict(env), "out": str(out),
                                "err": str(err), "timeout": timeout})
            return Finished(answer["returncode"], out.read_text(errors="replace"), err.read_text(errors="replace"))

    def spawn(self, args: Sequence[object], cwd: Path, env: Mapping[str, str]) -> Spawned:
        """``subprocess.Popen([sys.executable, *args], ...)`` with piped text output, for a step a caller stops with
        a signal mid-run (the soak): the forked child's pid at once; its exit code by ``Spawned.communicate`` (the
        server reaps it only when asked, so it takes other requests meanwhile)."""
        folder = tempfile.mkdtemp(prefix="step-")
        out, err = Path(folder) / "stdout", Path(folder) / "stderr"
        out.touch()
        err.touch()
        try:
            answer = self._ask({"args": [str(a) for a in args], "cwd": str(cwd), "env": dict(env), "out": str(out),
                                "err": str(err), "spawn": True})
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return Spawned(self, int(answer["pid"]), Path(folder))

    def _ask(self, request: Mapping) -> dict:
        """One request and its answer (the server takes one at a time: a step run is answered when it ends)."""
        with self._lock:
            replies, requests = self._started()
            requests.write(json.dumps(request) + "\n")
            requests.flush()
            answer = replies.readline()
        if not answer:
            raise RuntimeError(f"the step server stopped while running a step; see {self._log or 'its stderr'}")
        return json.loads(answer)

    def close(self) -> None:
        """End the server (its requests end: it exits) and wait for it."""
        from sandbox.pids import alive

        if self._channel is not None:
            for stream in (self._channel[1], self._channel[0]):
                try:
                    stream.close()
                except OSError:
                    pass
            self._channel = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._pid is not None:
            deadline = time.monotonic() + 30
            while alive(self._pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if alive(self._pid):
                os.kill(self._pid, 9)
            self._pid = None
        if self._folder is not None:  # its socket and log
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        if self._process is not None:
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
            self._process = None


class Spawned:
    """The part of ``subprocess.Popen`` the soak uses, for a child of the step server (not of this process): alive
    is judged by ``sandbox.pids.alive`` (a zombie counts as gone), the exit code comes from the server."""

    def __init__(self, server: StepServer, pid: int, folder: Path) -> None:
        self.server, self.pid, self.folder = server, pid, folder
        self.returncode: int | None = None

    def poll(self) -> int | None:
        from sandbox.pids import alive

        if self.returncode is None and not alive(self.pid):
            self._collect()
        return self.returncode

    def send_signal(self, number: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, number)

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """Wait for the exit (``timeout`` as ``subprocess``: killed and ``TimeoutExpired`` past it), then the output."""
        from sandbox.pids import alive

        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None and alive(self.pid):
            if deadline is not None and time.monotonic() > deadline:
                os.kill(self.pid, 9)
                self._collect()
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
            time.sleep(0.02)
        self._collect()
        output = ((self.folder / "stdout").read_text(errors="replace"),
                  (self.folder / "stderr").read_text(errors="replace"))
        shutil.rmtree(self.folder, ignore_errors=True)
        return output

    def _collect(self) -> None:
        if self.returncode is None:
            self.returncode = int(self.server._ask({"wait": self.pid})["returncode"])


if __name__ == "__main__":
    if len(sys.argv) > 1:
        serve_socket(sys.argv[1])
    else:
        serve()
