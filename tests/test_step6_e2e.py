"""Step 6 against the sandbox: a working chain passes; each deliberately broken set-up FAILs with its fix.

Broken set-ups: the endpoint captures a feature under a wrong name; the data source exists in Domino but not in
Model Monitor; the ground truth carries ids the endpoint never returned.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
from step_server import Finished, StepServer

ROOT = Path(__file__).resolve().parent.parent
TARGET = "churned"
DATASOURCE = "step6-ground-truth"
DOMINO_ONLY_DATASOURCE = "step6-domino-only"

pytestmark = pytest.mark.e2e

MODEL_SCRIPT = textwrap.dedent('''
    """A rule model whose capture names come from $CAPTURE_FEATURES (to break them on purpose)."""
    import json, os, uuid
    from domino_data_capture.data_capture_client import DataCaptureClient

    CAPTURED = json.loads(os.environ["CAPTURE_FEATURES"])
    capture = DataCaptureClient(CAPTURED, ["churned"])

    def predict(age, plan, **ignored):
        churned = "1" if float(age) > 45 or plan == "pro" else "0"
        event_id = str(uuid.uuid4())
        capture.capturePrediction([float(age), str(plan)], [churned], event_id=event_id)
        return {"churned": churned, "event_id": event_id}
''')


def run_script(steps: StepServer, name: str, args: list[str], env: dict, cwd: Path) -> Finished:
    """The script as its own process, forked from the worker's preloaded interpreter (tests/step_server.py)."""
    return steps.run([ROOT / name, *args], cwd=cwd, env=env, timeout=300)


@dataclass
class Chain:
    work: Path
    env: dict
    endpoint: dict
    dmm_model_id: str
    event_ids: list[str]
    steps: StepServer

    def check(self, *args: str) -> tuple[Finished, dict]:
        out = self.work / f"out-{uuid.uuid4().hex[:6]}"
        done = run_script(self.steps, "6_check_monitoring.py", ["--output-dir", out, *args], self.env, self.work)
        report_file = out / "monitoring_report.json"
        assert report_file.is_file(), done.stdout + done.stderr
        return done, json.loads(report_file.read_text())


def statuses(report: dict) -> dict[str, dict]:
    return {check["name"]: check for check in report["checks"]}


@pytest.fixture(scope="module")
def training_set(sandbox, tmp_path_factory, step_server):
    """One training set for every chain: age (numerical), plan (categorical), churned (target)."""
    work = tmp_path_factory.mktemp("step6-training")
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"age": rng.integers(18, 70, 400), "plan": rng.choice(["basic", "pro"], 400)})
    frame[TARGET] = np.where((frame["age"] > 45) | (frame["plan"] == "pro"), "1", "0")
    frame.to_csv(work / "train.csv", index=False)
    name = f"step6-{uuid.uuid4().hex[:8]}"
    done = run_script(step_server, "1_register_training_set.py",
                      ["--file", work / "train.csv", "--name", name, "--target", TARGET, "--model-type",
                       "classification", "--categorical", "plan", "--yes"], sandbox.env, work)
    assert done.returncode == 0, done.stdout + done.stderr
    schema = json.loads((work / "monitoring_schema.json").read_text())
    for datasource in (DATASOURCE, DOMINO_ONLY_DATASOURCE):
        sandbox.admin("create-datasource", name=datasource, type="s3")
    response = requests.put(f"{sandbox.url}/model-monitor/v2/api/datasource", headers=sandbox.headers,
                            json={"name": DATASOURCE, "type": "s3", "config": {"bucket": "gt", "region": "us-east-1"}},
                            timeout=60)
    response.raise_for_status()
    return work, schema


def build_chain(sandbox, training_set, tmp_path_factory, steps: StepServer, captured: list[str],
                datasource: str = DATASOURCE, predictions: int = 30) -> Chain:
    source, schema = training_set
    work = tmp_path_factory.mktemp("step6-chain")
    (work / "monitoring_schema.json").write_text((source / "monitoring_schema.json").read_text())
    (work / "model.py").write_text(MODEL_SCRIPT)
    endpoint = sandbox.admin("deploy", script=str(work / "model.py"), name=f"m-{uuid.uuid4().hex[:6]}",
                             workdir=str(work), env={"CAPTURE_FEATURES": json.dumps(captured)})
    attached = sandbox.admin("attach-training-set", modelId=endpoint["modelId"],
                             trainingSetName=schema["training_set"]["name"],
                             trainingSetVersion=schema["training_set"]["version"], modelType="classification")
    from config_loader import save_config
    save_config({"domino": {"base_url": sandbox.url, "user_api_key_env": "DOMINO_USER_API_KEY"},
                 "model_monitor": {"model_id": attached["dmmModelId"], "base_url": ""},
                 "model_api": {"endpoint_url": endpoint["endpointUrl"], "token_env": "DOMINO_MODEL_API_TOKEN",
                               "token": "", "timeout": 30},
                 "data_sources": {"ground_truth": datasource, "ground_truth_type": "s3",
                                  "ground_truth_prefix": "ground_truth"},
                 "test_data": {"path": "", "label_column": ""},
                 "schema": {"path": "monitoring_schema.json"}}, work / "monitoring_config.json")
    env = {**sandbox.env, "DMM_CONFIG": str(work / "monitoring_config.json"),
           "DOMINO_MODEL_API_TOKEN": endpoint["accessToken"]}
    rng = np.random.default_rng(11)
    event_ids, rows = [], []
    session = requests.Session()
    session.auth = (endpoint["accessToken"], endpoint["accessToken"])
    for _ in range(predictions):
        row = {"age": int(rng.integers(30, 80)), "plan": str(rng.choice(["basic", "pro", "gold"]))}
        answer = session.post(endpoint["endpointUrl"], json={"data": row}, timeout=60)
        answer.raise_for_status()
        event_ids.append(answer.json()["result"]["event_id"])
        rows.append(answer.json()["result"]["churned"])
    sandbox.admin("ingest")
    labels = pd.DataFrame({"event_id": event_ids, TARGET: rows})
    labels.loc[::4, TARGET] = labels.loc[::4, TARGET].map({"0": "1", "1": "0"})  # some wrong predictions
    labels.to_csv(work / "labels.csv", index=False)
    return Chain(work, env, endpoint, attached["dmmModelId"], event_ids, steps)


@pytest.fixture(scope="module")
def good_chain(sandbox, training_set, tmp_path_factory, step_server) -> Chain:
    chain = build_chain(sandbox, training_set, tmp_path_factory, step_server, ["age", "plan"])
    done = run_script(step_server, "5_upload_ground_truth.py",
                      ["--file", chain.work / "labels.csv", "--label-column", TARGET], chain.env, chain.work)
    assert done.returncode == 0, done.stdout + done.stderr
    return chain


def test_a_working_chain_passes_and_previews_drift_and_quality(good_chain):
    done, report = good_chain.check()
    checks = statuses(report)
    assert [c for c in checks.values() if c["status"] == "FAIL"] == [], done.stdout
    assert done.returncode == 0, done.stdout + done.stderr
    assert checks["join rate"]["status"] == "PASS"
    assert report["drift"]["status"] == "ok" and report["drift"]["production_rows"] == len(good_chain.event_ids)
    assert {c["column"] for c in report["drift"]["columns"]} == {"age", "plan", TARGET}
    plan = next(c for c in report["drift"]["columns"] if c["column"] == "plan")
    assert plan["unseen_classes"]["examples"].get("gold")  # "gold" never appeared in training
    assert report["quality"]["status"] == "ok" and report["quality"]["matched_rows"] == len(good_chain.event_ids)
    accuracy = next(m for m in report["quality"]["metrics"] if m["name"] == "accuracy")
    wrong = len(range(0, len(good_chain.event_ids), 4))
    assert accuracy["value"] == pytest.approx(1 - wrong / len(good_chain.event_ids))
    assert "PASS  endpoint — " in done.stdout and "Report: " in done.stdout
    html = (Path(done.stdout.split("Report: ")[1].split(" (source")[0])).read_text()
    assert 'id="drift"' in html and "http" not in "".join(part.split('"')[1] for part in html.split("src=")[1:])


def test_ground_truth_with_foreign_ids_fails_the_join(good_chain):
    foreign = pd.DataFrame({"event_id": [str(uuid.uuid4()) for _ in range(12)], TARGET: ["1"] * 12})
    path = good_chain.work / "foreign.csv"
    foreign.to_csv(path, index=False)
    done, report = good_chain.check("--ground-truth", path)
    join = statuses(report)["join rate"]
    assert done.returncode == 1
    assert join["status"] == "FAIL" and join["facts"]["matched_ids"] == 0
    assert join["facts"]["unmatched_sample"] == foreign["event_id"].head(10).tolist()
    assert "FAIL  join rate — " in done.stdout and "event_id the endpoint returned" in done.stdout


def test_a_wrong_feature_name_in_the_capture_fails_with_the_names(sandbox, training_set, tmp_path_factory, step_server):
    chain = build_chain(sandbox, training_set, tmp_path_factory, step_server, ["age", "plan_type"], predictions=5)
    done, report = chain.check()
    capture = statuses(report)["capture names"]
    assert done.returncode == 1
    assert capture["status"] == "FAIL"
    assert "plan" in capture["facts"]["missing"] and capture["facts"]["unexpected"] == ["plan_type"]
    assert "fix: In predict(), capture features under the training set's names" in done.stdout


def test_a_data_source_missing_in_model_monitor_fails_with_the_ui_step(sandbox, training_set, tmp_path_factory,
                                                                        step_server):
    chain = build_chain(sandbox, training_set, tmp_path_factory, step_server, ["age", "plan"],
                        datasource=DOMINO_ONLY_DATASOURCE, predictions=3)
    done, report = chain.check("--no-preview")
    source = statuses(report)["data source"]
    assert done.returncode == 1
    assert source["status"] == "FAIL" and "not in Model Monitor" in source["detail"]
    assert f"Monitoring Data Sources as {DOMINO_ONLY_DATASOURCE}" in done.stdout


def test_push_metrics_and_schedule_reach_the_monitor(sandbox, good_chain):
    done, report = good_chain.check("--push-metrics", "--schedule")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Custom metrics: logged" in done.stdout and "created the daily drift check" in done.stdout
    age = next(c for c in report["drift"]["columns"] if c["column"] == "age")
    stored = requests.get(f"{sandbox.url}/api/metricValues/v1/{good_chain.dmm_model_id}/drift_age",
                          params={"startingReferenceTimestampInclusive": "2000-01-01T00:00:00Z",
                                  "endingReferenceTimestampInclusive": "2100-01-01T00:00:00Z"},
                          headers=sandbox.headers, timeout=30)
    stored.raise_for_status()
    assert [v["value"] for v in stored.json()["metricValues"]] == [pytest.approx(age["value"])]
    assert ("drift_age" in report["custom_metrics"]["alerts"]) == (age["passed"] is False)
    summary = requests.get(f"{sandbox.url}/model-monitor/v2/api/get_model_summary",
                           params={"model_id": good_chain.dmm_model_id}, headers=sandbox.headers, timeout=30)
    assert summary.json()["isDataDriftCheckScheduled"] is True
    query = requests.get(f"{sandbox.url}/model-monitor/v2/api/model/{good_chain.dmm_model_id}/drift-scheduler-query",
                         headers=sandbox.headers, timeout=30).json()
    saved_age = next(f for f in query["features"] if f["name"] == "age")
    assert saved_age["algorithm"] == "POPULATION STABILITY INDEX" and saved_age["condition"]["upper"] == 0.2
