"""Demos of the whole path for the end-to-end tests, made cheap: the example model is trained once per session.

A demo's ``prepare_model`` (``python -m example.data``, then ``python -m example.train`` into the sandbox's MLflow)
costs more than any step: MLflow's imports, the migrations of a new sqlite store, the forest, logging the model.
None of it is the toolkit's work; it is what the user did before step 1. ``TrainedModel.make`` runs those two
commands once per task into a folder of its own, and a ``CachedDemo`` starts from a copy of the data and of the
MLflow database: the state its own ``prepare_model`` would have left, so steps 1-6 run as always (step 2 still
finds the best run and loads the model through MLflow). MLflow keeps absolute artifact locations in its database,
so a copied database names the artifacts in the cache's folder: the cache lives as long as the test session.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from step_server import StepServer

from example.demo import TASK_SETUPS, Demo, StepRun
from sandbox.testing import PROJECT_ROOT

# The xdist group of the test modules that share ``e2e_path`` (tests/conftest.py), so that one worker runs it once.
E2E_GROUP = "e2e-classification"
MLFLOW_DB = "mlflow.db"


def sqlite_path(tracking_uri: str) -> Path:
    """The file behind a ``sqlite:///`` MLflow tracking URI (the sandbox exports one)."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        raise ValueError(f"Only a sqlite MLflow store can be copied, not {tracking_uri!r}")
    return Path(tracking_uri[len(prefix):])


def shared_once(folder: Path, make: Callable[[Path], None]) -> Path:
    """``make(folder)`` once for every process that asks for ``folder``: the first makes it under an exclusive lock,
    the others wait for the lock and find it made."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".made").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            (folder / ".made").touch()
    return folder.resolve()


def empty_mlflow_store(folder: Path) -> Path:
    """An MLflow sqlite database with every migration applied and nothing logged, made once per test session.

    MLflow applies its ~60 alembic migrations to a new sqlite file on first use (~4 s of CPU); it skips them for a
    file whose tables exist (``SqlAlchemyStore.__init__``), so a test that copies this one starts where a new store
    would after its first call, but for one thing: the Default experiment's artifacts would go to this folder's
    ``mlruns/0``, shared by every copy (the tests log to named experiments only)."""

    def make(made: Path) -> None:
        code = ("import sys\nfrom mlflow import MlflowClient\n"
                "MlflowClient(f'sqlite:///{sys.argv[1]}').search_experiments()\n")
        done = subprocess.run([sys.executable, "-c", code, str(made / MLFLOW_DB)], cwd=made, timeout=600, text=True,
                              capture_output=True, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
        if done.returncode != 0:
            raise RuntimeError(f"An empty MLflow store could not be made ({done.returncode}):\n{done.stderr}")

    return shared_once(folder, make) / MLFLOW_DB


@dataclass(frozen=True)
class TrainedModel:
    """``folder`` holds ``data/`` (as ``python -m example.data --drifted`` writes it) and ``mlflow.db`` (with its
    ``mlartifacts/``) holding one run of the task's demo experiment (as ``python -m example.train`` logs it)."""

    folder: Path
    task: str
    # Where the commands run: forked from a preloaded interpreter (tests/step_server.py), else fresh ones.
    steps: StepServer | None = field(default=None, compare=False)

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{self.folder / MLFLOW_DB}"}

    @classmethod
    def make(cls, folder: Path, task: str, steps: StepServer | None = None) -> TrainedModel:
        """Write the example data and train the example model, with the commands of ``Demo.prepare_model``."""
        made = cls(Path(folder).resolve(), task, steps)
        made.folder.mkdir(parents=True, exist_ok=True)
        made._run("-m", "example.data", "--out", made.data_dir, "--drifted", "--task", task)
        made._run("-m", "example.train", "--data-dir", made.data_dir, "--experiment", TASK_SETUPS[task].experiment,
                  "--task", task)
        return made

    @classmethod
    def shared(cls, folder: Path, task: str, steps: StepServer | None = None) -> TrainedModel:
        """``make`` once for every process that asks for ``folder`` (``shared_once``)."""
        return cls(shared_once(folder, lambda made: cls.make(made, task, steps)), task, steps)

    def exported(self) -> Path:
        """The folder where step 2 (``2_export_model.py``, the demo's own arguments) wrote this model's ``model.pkl``
        and ``model_manifest.json``: run once for every process that asks, under the folder's lock."""
        setup = TASK_SETUPS[self.task]
        return shared_once(self.folder / "export", lambda export: self._run(
            PROJECT_ROOT / "2_export_model.py", "--experiment", setup.experiment, "--metric", setup.metric, "--mode",
            setup.mode, "--output-dir", export))

    def copy_into(self, data_dir: Path, tracking_uri: str) -> None:
        """The data into ``data_dir``, the MLflow database to the file of ``tracking_uri``."""
        shutil.copytree(self.data_dir, data_dir, dirs_exist_ok=True)
        database = sqlite_path(tracking_uri)
        database.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.folder / MLFLOW_DB, database)

    def _run(self, *args: object) -> None:
        command = [sys.executable, *map(str, args)]
        if self.steps is None:
            result = subprocess.run(command, cwd=self.folder, env=self.env, capture_output=True, text=True,
                                    timeout=600)
        else:
            result = self.steps.run(args, cwd=self.folder, env=self.env)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


@dataclass
class CachedDemo(Demo):
    """A ``Demo`` whose model comes from ``trained`` instead of being trained again."""

    trained: TrainedModel | None = None
    # Step 2 reads only MLflow, which the sandbox keeps in a local sqlite file behind no Domino credentials: a demo
    # that tests Domino access (a profile, a rerun, the soak) may take the export step 2 made once for the trained
    # model instead of importing MLflow again (~10 s of CPU per run).
    reuse_export: bool = False
    # Steps forked from a preloaded interpreter (tests/step_server.py) instead of started fresh: ~2.5 s of imports
    # fewer per step. None starts each step with a fresh interpreter, as ``make demo`` does.
    steps: StepServer | None = None

    def execute(self, command: Sequence[str]) -> subprocess.CompletedProcess:
        if self.steps is None:
            return super().execute(command)
        if command[0] != sys.executable:
            raise ValueError(f"The step server runs Python steps, not {command[0]}")
        finished = self.steps.run(command[1:], cwd=self.work_dir, env=self.env)
        return subprocess.CompletedProcess(list(command), finished.returncode, finished.stdout, finished.stderr)

    def spawn(self, command: Sequence[str]) -> Any:
        if self.steps is None:
            return super().spawn(command)
        if command[0] != sys.executable:
            raise ValueError(f"The step server runs Python steps, not {command[0]}")
        return self.steps.spawn(command[1:], cwd=self.work_dir, env=self.env)

    def prepare_model(self) -> None:
        if self.trained is None:
            super().prepare_model()
            return
        if self.trained.task != self.task:
            raise ValueError(f"The trained model is a {self.trained.task} model; this demo is {self.task}")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.trained.copy_into(self.data_dir, self.sandbox.env["MLFLOW_TRACKING_URI"])

    def export_model(self) -> StepRun:
        if not (self.reuse_export and self.trained):
            return super().export_model()
        export = self.trained.exported()
        for name in ("model.pkl", "model_manifest.json"):
            shutil.copyfile(export / name, self.work_dir / name)
        step = StepRun("step 2 (the trained model's export, copied)", [], 0, "", "", 0.0)
        self.runs.append(step)
        return step


@dataclass
class SharedPath:
    """The classification path of ``e2e_path``: steps 1-4 with 60 predictions; step 5 once before the monitor
    ingested them (``early_step5``, and the ground-truth datasets registered right after it); then ingestion,
    step 5 and step 6. Tests may add steps to ``demo``; they must leave the sandbox's faults off."""

    demo: Demo
    early_step5: StepRun
    early_datasets: list[str]


def ground_truth_datasets(demo: Demo) -> list[str]:
    """The ground-truth dataset names the monitor has registered for the demo's model."""
    with open(demo.sandbox.state_dir / "state.json") as handle:
        state = json.load(handle)
    model = state["dmm_models"][demo.dmm_model_id]
    return [d["name"] for d in model["groundTruthDatasets"]]
