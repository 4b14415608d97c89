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

    from sandbox.model_zygote import ZYGOTE_MODULE
    from sandbox.testing import RunningSandbox

    socket_path = tmp_path / "own.sock"
    with open(tmp_path / "zygote.log", "ab") as log:
        zygote = subprocess.Popen([sys.executable, "-m", ZYGOTE_MODULE, str(socket_path)], stdin=subprocess.DEVNULL,
                                  stdout=log, stderr=log, start_new_session=True)
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
