"""``make demo``: the whole path against the local sandbox, exactly as a user would run it in a workspace.

1. start the sandbox; 2. make the example data and train the example model into MLflow; 3. do in the sandbox
what a user does in Domino's UI (deploy the endpoint, choose its training set, create the data source in Domino
and in Model Monitor); 4. run steps 1-6 as subprocesses with the sandbox's environment; 5. print what the monitor
now shows. The sandbox is stopped on exit, failures included.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from dmm.cli import run
from dmm.errors import DmmError, UsageError
from dmm.http import make_session
from dmm.monitor import ModelMonitorClient
from dmm.redact import redact, register_secret
from example.data import TARGETS, TASKS
from sandbox.profiles import DEFAULT_PROFILE, PROFILES, SERVICE_ACCOUNT_TOKEN_ENV
from sandbox.testing import PROJECT_ROOT, RunningSandbox

DATASOURCE = "monitoring-ground-truth"
# How the example model is deployed: a predict function from the project's files (example/model_script.py), or the
# model registered in MLflow wrapped with prediction capture (step 2 --wrap-capture) and deployed from the registry.
ENDPOINT_KINDS = ("file", "registry")
METRICS_EXAMPLE = Path(__file__).resolve().with_name("metrics_example.py")  # the README's --metric example
BUCKET = "monitoring-ground-truth"  # the bucket behind the Domino data source and Model Monitor's
# What --out may hold when the demo empties it: the files of an earlier demo, nothing else.
DEMO_FOLDERS = {"sandbox", "workspace"}


@dataclass(frozen=True)
class TaskSetup:
    """What changes with the kind of model: its names, and the metric step 2 ranks the runs by."""

    training_set_name: str
    experiment: str
    endpoint_name: str
    metric: str
    mode: str


TASK_SETUPS = {
    "classification": TaskSetup("churn-baseline", "churn-demo", "churn-model", "roc_auc", "max"),
    "regression": TaskSetup("spend-baseline", "spend-demo", "spend-model", "rmse", "min"),
}


class StepFailed(DmmError):
    """A step of the demo exited non-zero."""


@dataclass
class StepRun:
    name: str
    command: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


@dataclass
class Demo:
    """A set-up run against one sandbox; every step's output is kept for the caller (the demo or a test)."""

    sandbox: RunningSandbox
    work_dir: Path
    echo: bool = False
    task: str = "classification"
    endpoint: str = "file"
    runs: list[StepRun] = field(default_factory=list)
    deployment: dict = field(default_factory=dict)
    dmm_model_id: str = ""
    # Model Monitor's name for the ground-truth bucket ("" = the Domino data source's name) and the Domino data
    # source's subfolder in that bucket ("" = none): a public Domino demo uses different names (domino-api.md)
    monitor_datasource: str = ""
    subfolder: str = ""

    def __post_init__(self) -> None:
        if self.task not in TASK_SETUPS:
            raise ValueError(f"Unknown task {self.task!r}; use one of {', '.join(TASK_SETUPS)}")
        if self.endpoint not in ENDPOINT_KINDS:
            raise ValueError(f"Unknown endpoint kind {self.endpoint!r}; use one of {', '.join(ENDPOINT_KINDS)}")

    @property
    def setup(self) -> TaskSetup:
        return TASK_SETUPS[self.task]

    @property
    def target(self) -> str:
        return TARGETS[self.task]

    @property
    def data_dir(self) -> Path:
        return self.work_dir / "data"

    @property
    def env(self) -> dict[str, str]:
        env = dict(self.sandbox.env)
        env["DMM_CONFIG"] = str(self.work_dir / "monitoring_config.json")
        if self.deployment:
            env["DOMINO_MODEL_API_TOKEN"] = self.deployment["accessToken"]
        return env

    def run(self, name: str, args: Sequence[str], check: bool = True) -> StepRun:
        """Run ``python <args>`` in the work folder with the sandbox's environment."""
        command = [sys.executable, *map(str, args)]
        if self.echo:
            print(f"\n$ python {' '.join(map(str, args))}", flush=True)
        started = time.perf_counter()
        result = self.execute(command)
        step = StepRun(name, command, result.returncode, result.stdout, result.stderr,
                       time.perf_counter() - started)
        self.runs.append(step)
        if self.echo:
            print(redact(result.stdout), end="", flush=True)
            if result.returncode != 0:
                print(redact(result.stderr), end="", file=sys.stderr, flush=True)
        if check and result.returncode != 0:
            output = "its output is above" if self.echo else f"its output:\n{result.stdout}\n{result.stderr}"
            raise StepFailed(f"{name} failed with exit code {result.returncode}; {output}")
        return step

    def execute(self, command: Sequence[str]) -> subprocess.CompletedProcess:
        """Start ``command`` in the work folder with the sandbox's environment, its output captured as text."""
        return subprocess.run(command, cwd=self.work_dir, env=self.env, capture_output=True, text=True, timeout=600)

    def spawn(self, command: Sequence[str]) -> Any:
        """Start ``command`` as ``execute`` would, without waiting: a ``subprocess.Popen`` with text pipes (the soak
        signals it mid-run, then calls ``communicate``)."""
        return subprocess.Popen(command, cwd=self.work_dir, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def script(self, file_name: str) -> Path:
        return PROJECT_ROOT / file_name

    # --- what the user does before step 1 -------------------------------------------------------------------
    def prepare_model(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.run("example data", ["-m", "example.data", "--out", self.data_dir, "--drifted", "--task", self.task])
        self.run("train example model", ["-m", "example.train", "--data-dir", self.data_dir,
                                         "--experiment", self.setup.experiment, "--task", self.task])

    # --- steps 1 and 2 -----------------------------------------------------------------------------------------
    def register_training_set(self) -> StepRun:
        return self.run("step 1", [self.script("1_register_training_set.py"), "--file", self.data_dir / "train.csv",
                                   "--name", self.setup.training_set_name, "--target", self.target,
                                   "--model-type", self.task, *self.auth_flags(), "--yes"])

    def export_model(self) -> StepRun:
        """Step 2; for a registry endpoint also ``--wrap-capture``, registering the wrapped model."""
        wrap = (["--wrap-capture", self.setup.endpoint_name, "--schema", self.work_dir / "monitoring_schema.json"]
                if self.endpoint == "registry" else [])
        return self.run("step 2", [self.script("2_export_model.py"), "--experiment", self.setup.experiment,
                                   "--metric", self.setup.metric, "--mode", self.setup.mode,
                                   "--output-dir", self.work_dir, *wrap])

    def registered_version(self) -> str:
        """The version step 2 registered the wrapped model as (it prints ``models:/<name>/<version>``)."""
        step2 = next(run for run in reversed(self.runs) if run.name == "step 2")
        found = re.search(rf"models:/{re.escape(self.setup.endpoint_name)}/(\d+)", step2.stdout)
        if not found:
            raise StepFailed(f"step 2 did not register {self.setup.endpoint_name}; its output:\n{step2.stdout}")
        return found.group(1)

    # --- what the user does in Domino's UI -------------------------------------------------------------------------
    def deploy_and_attach(self) -> None:
        schema = json.loads((self.work_dir / "monitoring_schema.json").read_text())
        if self.endpoint == "registry":  # Endpoints > Create endpoint > from a registered model
            self.deployment = self.sandbox.admin(
                "deploy", name=self.setup.endpoint_name, registeredModelName=self.setup.endpoint_name,
                registeredModelVersion=self.registered_version())
        else:
            self.deployment = self.sandbox.admin(
                "deploy", script=str(PROJECT_ROOT / "example" / "model_script.py"), name=self.setup.endpoint_name,
                workdir=str(self.work_dir),
                env={"MODEL_PATH": str(self.work_dir / "model.pkl"),
                     "MONITORING_SCHEMA": str(self.work_dir / "monitoring_schema.json")})
        register_secret(self.deployment["accessToken"])
        attached = self.sandbox.admin(
            "attach-training-set", modelId=self.deployment["modelId"],
            trainingSetName=schema["training_set"]["name"], trainingSetVersion=schema["training_set"]["version"],
            modelType=schema["model_type"])
        self.dmm_model_id = attached["dmmModelId"]
        self.sandbox.admin("create-datasource", name=DATASOURCE, type="s3", bucket=BUCKET, subfolder=self.subfolder)
        response = requests.put(f"{self.sandbox.url}/model-monitor/v2/api/datasource", headers=self.sandbox.headers,
                                json={"name": self.monitor_datasource or DATASOURCE, "type": "s3",
                                      "config": {"bucket": BUCKET, "region": "us-east-1"}},
                                timeout=60)
        response.raise_for_status()

    # --- steps 3 to 6 ------------------------------------------------------------------------------------------
    def auth_flags(self) -> list[str]:
        """Steps 1 and 3's auth flags for the sandbox's profile: with a service account, the access token in the
        variable ``--auth-token-env`` names (step 1 runs before any config; step 3 writes ``domino.auth_method`` and
        ``domino.auth_token_env``, which steps 4-6 read); the other profiles leave the method to the toolkit's own
        order (API proxy, token, token file, API key)."""
        if PROFILES[self.sandbox.profile].service_account_token:
            return ["--auth", "token", "--auth-token-env", SERVICE_ACCOUNT_TOKEN_ENV]
        return []

    def setup_monitoring(self) -> StepRun:
        return self.run("step 3", [self.script("3_setup_monitoring.py"), *self.auth_flags(),
                                   "--base-url", self.sandbox.url,
                                   "--endpoint-url", self.deployment["endpointUrl"],
                                   "--model-id", self.dmm_model_id, "--datasource", DATASOURCE,
                                   *(["--monitor-datasource", self.monitor_datasource]
                                     if self.monitor_datasource else []),
                                   "--datasource-type", "s3", "--test-data", self.data_dir / "test.csv",
                                   "--label-column", self.target, "--output", self.work_dir / "monitoring_config.json",
                                   "--yes"])

    def generate_predictions(self, count: int, file: Path | None = None) -> StepRun:
        extra = ["--file", file] if file else []
        return self.run("step 4", [self.script("4_generate_predictions.py"), "--count", count, "--seed", 7, *extra])

    def ingest(self) -> dict:
        return self.sandbox.admin("ingest")

    def upload_ground_truth(self, check: bool = True) -> StepRun:
        return self.run("step 5", [self.script("5_upload_ground_truth.py")], check=check)

    def check_monitoring(self, check: bool = True, extra: Sequence[Any] = ()) -> StepRun:
        """Step 6, with the README's example of your own metrics (example/metrics_example.py)."""
        return self.run("step 6", [self.script("6_check_monitoring.py"), "--output-dir", self.work_dir,
                                   "--metric", METRICS_EXAMPLE, *extra], check=check)

    def full_path(self, count: int = 200, drifted: bool = False) -> None:
        """Steps 1-6; with ``drifted`` the test traffic comes from customers who behave differently."""
        self.path_to_traffic(count, drifted)
        self.ingest()
        self.upload_ground_truth()
        self.check_monitoring()

    def path_to_traffic(self, count: int = 200, drifted: bool = False) -> None:
        """The model, steps 1-3 and step 4's traffic: everything before the monitor ingests the predictions."""
        self.prepare_model()
        self.register_training_set()
        self.export_model()
        self.deploy_and_attach()
        self.setup_monitoring()
        self.generate_predictions(count, self.data_dir / "test_drifted.csv" if drifted else None)

    # --- what the monitor and the endpoint recorded -------------------------------------------------------------
    @property
    def monitor(self) -> ModelMonitorClient:
        session = make_session()
        client = ModelMonitorClient(f"{self.sandbox.url}/model-monitor/v2/api", self.sandbox.api_key, timeout=120,
                                    session=session)
        if not self.sandbox.user_api_keys:  # keys disabled: the harness reads the monitor with a Bearer token
            session.headers.pop("X-Domino-Api-Key", None)
            session.headers.update(self.sandbox.headers)
        return client

    def captured_records(self) -> list[dict]:
        """Every prediction the endpoint captured, read from the sandbox's capture logs."""
        return [json.loads(line) for log in (self.sandbox.state_dir / "capture").glob("*.log")
                for line in log.read_text().splitlines() if line.strip()]

    def ground_truth_files(self) -> list[Path]:
        """The ground-truth CSVs step 4 wrote, oldest run first."""
        return sorted((self.work_dir / "ground_truth").glob("*.csv"))

    def monitor_summary(self) -> dict:
        """What Model Monitor shows for the demo's model: the model, its drift and its quality."""
        monitor = self.monitor
        model = monitor.get_model(self.dmm_model_id)
        try:
            drift = monitor.analyse_drift(self.dmm_model_id, {"pagination": {"sortOn": "divergence", "sortOrder": -1}})
        except DmmError as error:
            drift = {"error": str(error)}
        try:
            quality = monitor.analyze_model_quality(self.dmm_model_id, {})
        except DmmError as error:
            quality = {"status": getattr(error, "status", None)}
        return {"model": model, "drift": drift, "quality": quality}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "demo-output",
                        help="folder for the demo's files (emptied first); default: demo-output/")
    parser.add_argument("--count", type=int, default=300, help="predictions to send (default 300)")
    parser.add_argument("--no-drift", action="store_true",
                        help="send the plain test set instead of the drifted one (the default shows drift)")
    parser.add_argument("--task", choices=TASKS, default="classification",
                        help="the example model: a churn classifier (default) or a next-month-spend regressor")
    parser.add_argument("--endpoint", choices=ENDPOINT_KINDS, default="file",
                        help="deploy the model as a predict function (file, the default) or from the Model Registry "
                             "wrapped with prediction capture (registry; step 2 --wrap-capture)")
    parser.add_argument("--profile", choices=tuple(PROFILES), default=DEFAULT_PROFILE,
                        help="the kind of Domino deployment the sandbox stands for (python -m sandbox profiles); "
                             f"default {DEFAULT_PROFILE}")
    parser.add_argument("--monitor-datasource", metavar="NAME", default="",
                        help="register the ground-truth bucket in Model Monitor under this name instead of the Domino "
                             "data source's (as Domino's own demos do)")
    parser.add_argument("--subfolder", metavar="PATH", default="",
                        help="give the Domino data source this subfolder of its bucket")
    args = parser.parse_args(argv)
    if args.count < 1:
        raise UsageError(f"--count must be at least 1 (got {args.count})", "Pass --count N with N >= 1")
    empty_output_folder(args.out)

    started = time.perf_counter()
    with RunningSandbox(args.out / "sandbox", profile=args.profile) as sandbox:
        for secret in sandbox.secrets:
            register_secret(secret)
        print(f"Sandbox running at {sandbox.url} as profile '{sandbox.profile}' (state in {args.out / 'sandbox'})")
        demo = Demo(sandbox, args.out / "workspace", echo=True, task=args.task, endpoint=args.endpoint,
                    monitor_datasource=args.monitor_datasource, subfolder=args.subfolder)
        demo.full_path(args.count, drifted=not args.no_drift)
        report = json.loads((demo.work_dir / "monitoring_report.json").read_text())
        print_summary(demo, report)
    print(f"\nDemo finished in {time.perf_counter() - started:.0f} s; files are in {args.out}. "
          f"Open {demo.work_dir / 'monitoring_report.html'} in a browser.")
    return 0


def empty_output_folder(folder: Path) -> None:
    """Remove an earlier demo's files; refuse a file, or a folder holding anything else (it is not ours to delete)."""
    if folder.is_file():
        raise UsageError(f"--out {folder} is a file", "Pass --out with a folder for the demo's files")
    if not folder.exists():
        return
    foreign = sorted(entry.name for entry in folder.iterdir() if entry.name not in DEMO_FOLDERS)
    if foreign:
        raise UsageError(f"--out {folder} holds files the demo did not write ({', '.join(foreign[:3])})",
                         "Pass --out with a new or empty folder, or with the folder of an earlier demo")
    shutil.rmtree(folder)


def print_summary(demo: Demo, report: dict) -> None:
    shown = demo.monitor_summary()
    model, drift, quality = shown["model"], shown["drift"], shown["quality"]
    print("\n=== What Model Monitor now shows (the sandbox's monitor API) ===")
    print(f"Training set:      {report['inputs'].get('training_set')}")
    print(f"Model:             {model.get('name')} ({demo.dmm_model_id}), {model.get('modelType')}, "
          f"ingestion status '{model.get('ingestionStatus')}'")
    print(f"Predictions:       {model.get('predictionRowCount')} ingested")
    print(f"Ground truth:      {model.get('groundTruthRowCount')} labels in "
          f"{len(model.get('groundTruthDatasets') or [])} dataset(s); "
          f"{quality.get('matchedRowCount', 0)} matched to predictions")
    if "features" in drift:
        worst = ", ".join(f"{f['name']} {f['divergence']:.3f}" for f in drift["features"][:3]
                          if isinstance(f.get("divergence"), (int, float)))
        print(f"Drift:             {drift['numberOfVariablesDrifted']} of {drift['totalNumberOfVariables']} "
              f"variables drifted; highest: {worst}")
    else:
        print(f"Drift:             not available ({redact(drift.get('error', ''))[:200]})")
    metrics = ", ".join(f"{m['name']} {m['value']:.3f}" for m in quality.get("metrics", [])
                        if isinstance(m.get("value"), (int, float)))
    print(f"Quality:           {metrics or 'not available'}")
    checks = report.get("checks", [])
    print(f"Step 6 checks:     {sum(c['status'] == 'PASS' for c in checks)} of {len(checks)} passed")


if __name__ == "__main__":
    sys.exit(run(main))
