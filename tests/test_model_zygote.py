"""Model API processes forked from the tests' preloaded ``sandbox.model_zygote`` (tests/conftest.py ``model_zygote``)
are still processes of their own, serving real HTTP, and still end with the sandbox that asked for them. (The
zygote's pid is the fixture's: its children keep its command line, so /proc cannot tell them apart.)"""

from __future__ import annotations

import os
import signal
import textwrap
import time

import pytest
import requests

from sandbox import server
from sandbox.model_zygote import ZYGOTE_ENV
from sandbox.pids import alive

WHO_SCRIPT = textwrap.dedent('''
    import os

    def predict(x=0):
        return {"pid": os.getpid(), "ppid": os.getppid(), "x": x, "cwd": os.getcwd(),
                "hostname": os.environ.get("HOSTNAME", "")}
''')


def deploy_who(running, folder):
    script = folder / "who" / "predict.py"
    script.parent.mkdir(parents=True)
    script.write_text(WHO_SCRIPT)
    deployed = running.admin("deploy", script=str(script), name="who")
    token = deployed["accessToken"]
    answer = requests.post(deployed["endpointUrl"], json={"data": {"x": 3}}, auth=(token, token), timeout=30)
    assert answer.status_code == 200, answer.text
    return script, answer.json()["result"]


@pytest.mark.parametrize("forked", [True, False], ids=["zygote", "fresh"])
def test_a_model_is_a_process_of_its_own_either_way(sandbox_factory, tmp_path, model_zygote, monkeypatch, forked):
    if not forked:
        monkeypatch.delenv(ZYGOTE_ENV)
    running = sandbox_factory()
    sandbox_pid = server.running_pid(running.state_dir)
    script, who = deploy_who(running, tmp_path)
    assert who["x"] == 3 and who["cwd"] == str(script.parent) and who["hostname"].startswith("model-")
    assert who["pid"] not in (os.getpid(), sandbox_pid)
    if forked:
        assert who["ppid"] == model_zygote.pid
    else:
        assert who["ppid"] == sandbox_pid


def test_a_forked_model_ends_with_its_sandbox_even_when_the_sandbox_is_killed(sandbox_factory, tmp_path,
                                                                              model_zygote):
    running = sandbox_factory()
    _, who = deploy_who(running, tmp_path)
    assert who["ppid"] == model_zygote.pid and alive(who["pid"])
    os.kill(server.running_pid(running.state_dir), signal.SIGKILL)
    deadline = time.monotonic() + 30  # the model looks for its sandbox once a second
    while alive(who["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(who["pid"])


def test_a_stopped_zygote_ends_the_sandboxes_it_forked(tmp_path, monkeypatch):
    """A test run interrupted before its sandboxes are stopped must not leave them running: the zygote ends the
    children it forked when it is stopped. A stale pid file naming the zygote is not taken for a sandbox."""
    import subprocess
    import sys

    from sandbox.model_zygote import ZYGOTE_MODULE, log_path
    from sandbox.testing import RunningSandbox

    socket_path = tmp_path / "own.sock"
    with open(log_path(socket_path), "ab") as log:
        # preloading only the sandbox server: the libraries of models and steps (~6 s) are not what is tested here
        zygote = subprocess.Popen([sys.executable, "-m", ZYGOTE_MODULE, str(socket_path), "sandbox.server"],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    (tmp_path / "own.sock.pid").write_text(str(zygote.pid))
    monkeypatch.setenv(ZYGOTE_ENV, str(socket_path))
    running = RunningSandbox(tmp_path / "state")
    try:
        running.start()
        pid = server.running_pid(running.state_dir)
        assert pid is not None and alive(pid)
        stale = tmp_path / "stale"
        stale.mkdir()
        (stale / server.PID_FILE).write_text(str(zygote.pid))
        assert server.running_pid(stale) is None  # the zygote's command line, but not a server of that folder
        zygote.terminate()
        zygote.wait(timeout=30)
        deadline = time.monotonic() + 30
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(pid)
    finally:
        zygote.kill()
        zygote.wait(timeout=30)
        if server.running_pid(running.state_dir) is not None:
            running.stop()


def test_a_zygote_that_fails_while_importing_is_named_with_its_log(tmp_path):
    """A zygote that dies importing its libraries: the first request says so and names its log, instead of a bare
    ConnectionRefusedError."""
    import subprocess
    import sys

    from dmm.errors import ApiError
    from sandbox.model_zygote import ZYGOTE_MODULE, launch, log_path

    (tmp_path / "numpy.py").write_text("raise ImportError('a numpy broken for this test')\n")  # first on its path
    socket_path = tmp_path / "broken.sock"
    with open(log_path(socket_path), "ab") as log:
        zygote = subprocess.Popen([sys.executable, "-m", ZYGOTE_MODULE, str(socket_path)], cwd=tmp_path,
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    (tmp_path / "broken.sock.pid").write_text(str(zygote.pid))
    assert zygote.wait(timeout=120) != 0
    with pytest.raises(ApiError) as raised:
        launch(str(socket_path), ["--help"], str(tmp_path), {}, tmp_path / "model.log")
    assert raised.value.code == "zygote-stopped"
    assert str(log_path(socket_path)) in str(raised.value) and "a numpy broken for this test" in str(raised.value)


def test_a_zygote_that_closes_a_request_without_an_answer_is_named_with_its_log(tmp_path):
    """A failed fork (logged by the zygote) or a zygote stopped mid-request closes the connection unanswered: an
    ApiError naming the log, not a JSONDecodeError."""
    import socket
    import threading

    from dmm.errors import ApiError
    from sandbox.model_zygote import launch, log_path

    socket_path = tmp_path / "silent.sock"
    log_path(socket_path).write_text("request failed: OSError: [Errno 11] Resource temporarily unavailable\n")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(socket_path))
    listener.listen(1)

    def take_and_close() -> None:
        connection, _ = listener.accept()
        connection.makefile("r").readline()
        connection.close()

    taker = threading.Thread(target=take_and_close, daemon=True)
    taker.start()
    try:
        with pytest.raises(ApiError) as raised:
            launch(str(socket_path), ["--help"], str(tmp_path), {}, tmp_path / "model.log")
    finally:
        taker.join(timeout=10)
        listener.close()
    assert raised.value.code == "zygote-stopped"
    assert "without an answer" in str(raised.value) and "Resource temporarily unavailable" in str(raised.value)


def test_the_zygote_preloads_what_the_step_server_would_import():
    """The step server is forked from the zygote: whatever it would import itself is imported there already."""
    from step_server import PRELOAD as STEP_SERVER_PRELOAD

    from sandbox.model_zygote import PRELOAD

    assert set(STEP_SERVER_PRELOAD) <= set(PRELOAD)


def test_a_forked_child_starts_with_sigterm_blocked_and_the_zygote_gets_it_back():
    """``_fork`` blocks SIGTERM around ``os.fork()``: the child starts with it blocked (``_become`` unblocks it once
    the zygote's handler is reset), the parent records the child, then has its own mask back."""
    from sandbox.model_zygote import _fork

    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    children: list[int] = []
    pid = _fork(children)
    if pid == 0:  # the child: report by exit code only
        os._exit(0 if signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, []) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert children == [pid]
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before and signal.SIGTERM not in before
