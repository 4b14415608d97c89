"""Shared fixtures: a running local Domino sandbox (see sandbox/testing.py), and demos of the whole path on their own
sandboxes, which copy the example model trained once per session instead of training it again.

The suite runs on two pytest-xdist workers (pytest.ini: ``-n 2 --dist loadgroup``); ``-n 0`` runs it in one process.
Session fixtures are made once per worker.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from demos import MLFLOW_DB, CachedDemo, SharedPath, TrainedModel, empty_mlflow_store, ground_truth_datasets
from step_server import StepServer

# dmm, sandbox and example come from the project's editable install (make install); the numbered scripts are
# loaded by path with sandbox.testing.load_script.
from sandbox.model_zygote import ZYGOTE_ENV, ZYGOTE_MODULE, log_path
from sandbox.testing import RunningSandbox

# MLflow 3 starts a telemetry sender thread that posts to the internet; these machines have none, and a background
# thread that retries would meet tests that patch time.sleep (its documented switch: mlflow/telemetry/utils.py).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """On an xdist worker: each test module is one unit of work (one worker runs all of it, as ``--dist loadscope``
    would), so that its module-scoped fixtures (a sandbox, a trained model, a demo run) are made once; modules marked
    ``xdist_group(name)`` share one unit. The end-to-end and Spark modules, the longest units, are handed out first."""
    if not hasattr(config, "workerinput"):
        return
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None and item.get_closest_marker("spark") is None)


@dataclass(frozen=True)
class ModelZygote:
    socket: Path
    pid: int


@pytest.fixture(scope="session", autouse=True)
def model_zygote(tmp_path_factory) -> Iterator[ModelZygote]:
    """One ``sandbox.model_zygote`` per worker, named to every sandbox the worker starts
    (``$DMM_SANDBOX_MODEL_ZYGOTE``): their Model API processes are forked from it instead of importing pandas and
    scikit-learn again (~2.5 s each). It is started without waiting: a sandbox's first deploy waits for its socket."""
    folder = tmp_path_factory.mktemp("zygote")
    socket_path = folder / "models.sock"
    with open(log_path(socket_path), "ab") as log:  # launch() names it if the zygote fails
        process = subprocess.Popen([sys.executable, "-m", ZYGOTE_MODULE, str(socket_path)], cwd=folder,
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                   env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
    Path(f"{socket_path}.pid").write_text(str(process.pid))  # launch() stops waiting if it is gone
    previous = os.environ.get(ZYGOTE_ENV)
    os.environ[ZYGOTE_ENV] = str(socket_path)
    try:
        yield ModelZygote(socket_path, process.pid)
    finally:
        if previous is None:
            os.environ.pop(ZYGOTE_ENV, None)
        else:
            os.environ[ZYGOTE_ENV] = previous
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """One sandbox for the whole session, stopped at the end (failures included)."""
    running = RunningSandbox(tmp_path_factory.mktemp("sandbox-state")).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def sandbox_factory(tmp_path_factory):
    """Make fresh, isolated sandboxes: ``sandbox_factory(extra_args=[...])``; all are stopped after the test."""
    started: list[RunningSandbox] = []

    def make(**kwargs) -> RunningSandbox:
        running = RunningSandbox(tmp_path_factory.mktemp("sandbox-isolated"), **kwargs)
        started.append(running)
        return running.start()

    yield make
    for running in started:
        running.stop()


@pytest.fixture(scope="session")
def trained_models(shared_temp, step_server) -> Callable[[str], TrainedModel]:
    """``trained_models(task)``: the example data and model of a task, made on first use by the same commands as a
    demo's ``prepare_model`` (forked from the worker's step server); demos get copies (tests/demos.py). The xdist
    workers share one per task: the first makes it in the session's common temporary folder while the others wait on
    its lock."""
    made: dict[str, TrainedModel] = {}

    def trained(task: str) -> TrainedModel:
        if task not in made:
            made[task] = TrainedModel.shared(shared_temp / f"trained-{task}", task, step_server)
        return made[task]

    return trained


@pytest.fixture(scope="session")
def shared_temp(tmp_path_factory, worker_id) -> Path:
    """The session's temporary folder common to every xdist worker (each worker's own is inside it)."""
    common = tmp_path_factory.getbasetemp()
    return common.parent if worker_id != "master" else common


@pytest.fixture(scope="session")
def mlflow_store(shared_temp) -> Callable[[Path], str]:
    """``mlflow_store(folder)``: the tracking URI of a new MLflow sqlite store in ``folder``, its migrations already
    applied (a copy of one made once per session: tests/demos.py ``empty_mlflow_store``)."""

    def fresh(folder: Path) -> str:
        database = Path(folder) / MLFLOW_DB
        shutil.copyfile(empty_mlflow_store(shared_temp / "mlflow-empty"), database)
        return f"sqlite:///{database}"

    return fresh


@pytest.fixture(scope="session")
def step_server() -> Iterator[StepServer]:
    """One preloaded interpreter per worker that forks the demos' steps (tests/step_server.py)."""
    server = StepServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def start_demo(tmp_path_factory, trained_models, step_server):
    """``with start_demo("name", task=..., api_key=..., extra_args=[...]) as demo``: a ``demos.CachedDemo`` on a
    fresh sandbox of its own (the other keywords go to ``RunningSandbox``), with the session's trained model; the
    sandbox stops at the end of the block. ``demo.full_path(count)`` then runs steps 1-6, each in a process of its
    own forked from the worker's preloaded step server (``fresh_interpreters=True``: started as ``make demo`` starts
    them), without training the model again (``reuse_export=True``: nor exporting it, see
    ``CachedDemo.reuse_export``)."""

    @contextmanager
    def start(name: str = "demo", task: str = "classification", reuse_export: bool = False,
              fresh_interpreters: bool = False, **sandbox_options) -> Iterator[CachedDemo]:
        root = tmp_path_factory.mktemp(name)
        with RunningSandbox(root / "sandbox", **sandbox_options) as running:
            yield CachedDemo(running, root / "workspace", task=task, trained=trained_models(task),
                             reuse_export=reuse_export, steps=None if fresh_interpreters else step_server)

    return start


@pytest.fixture(scope="session")
def e2e_path(start_demo, step_server) -> Iterator[SharedPath]:
    """The classification path (see ``demos.SharedPath``), run once for every module of the ``demos.E2E_GROUP``
    xdist group (tests/test_e2e.py and tests/test_secrets.py). Its steps start with fresh interpreters, as
    ``make demo`` starts them: the suite's one path where an import-time failure of a step would show. The steps
    tests add afterwards are forked from the step server like every other demo's."""
    with start_demo("e2e", fresh_interpreters=True) as demo:
        demo.path_to_traffic(count=60)
        early_step5 = demo.upload_ground_truth(check=False)
        early_datasets = ground_truth_datasets(demo)
        demo.ingest()
        demo.upload_ground_truth()
        demo.check_monitoring()
        demo.steps = step_server
        yield SharedPath(demo, early_step5, early_datasets)
