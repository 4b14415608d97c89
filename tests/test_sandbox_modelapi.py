"""The sandbox's Model API (a real predict function in its own process) and ingestion of its capture logs."""

from __future__ import annotations

import base64
import json
import textwrap

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sandbox import monitor_options
from sandbox.app import create_app
from sandbox.settings import SandboxSettings
from sandbox.state import SandboxState

KEY = {"X-Domino-Api-Key": "sandbox-api-key"}
API = "/model-monitor/v2/api"

PREDICT_SCRIPT = textwrap.dedent('''
    import uuid
    from domino_data_capture.data_capture_client import DataCaptureClient

    capture = DataCaptureClient(["age", "plan"], ["churned"])

    def predict(age, plan="a", event_id=None, timestamp=None):
        if age < 0:
            raise ValueError("age must not be negative")
        event_id = event_id or str(uuid.uuid4())
        churned = "yes" if age > 50 else "no"
        capture.capturePrediction([age, plan], [churned], event_id=event_id, timestamp=timestamp,
                                  prediction_probability=[0.4, 0.6])
        return {"churned": churned, "event_id": event_id}
''')


def basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{token}:{token}".encode()).decode()}


class Sandbox:
    def __init__(self, root) -> None:
        self.state = SandboxState(root)
        self.app = create_app(self.state, SandboxSettings())
        self.client = self.app.test_client()

    def admin(self, verb: str, **body):
        return self.client.post(f"/sandbox/{verb}", json=body, headers=KEY)

    def stop(self) -> None:
        for hook in self.app.config["SHUTDOWN_HOOKS"]:
            hook()


@pytest.fixture
def sandbox(tmp_path):
    monitor_options.reset()
    running = Sandbox(tmp_path / "state")
    yield running
    running.stop()
    monitor_options.reset()


@pytest.fixture
def deployed(sandbox, tmp_path):
    script = tmp_path / "model" / "predict.py"
    script.parent.mkdir()
    script.write_text(PREDICT_SCRIPT)
    answer = sandbox.admin("deploy", script=str(script), name="churn")
    assert answer.status_code == 200, answer.json
    return answer.json


def predict(sandbox, deployed, body, headers=None):
    return sandbox.client.post(f"/models/{deployed['modelId']}/latest/model", json=body,
                               headers=basic(deployed["accessToken"]) if headers is None else headers)


def test_deploy_answers_the_endpoint_and_its_token(deployed):
    assert set(deployed) == {"modelId", "versionId", "versionNumber", "accessToken", "endpointUrl"}
    assert deployed["versionNumber"] == 1
    assert deployed["endpointUrl"].endswith(f"/models/{deployed['modelId']}/latest/model")


def test_model_api_requires_basic_auth_with_the_access_token(sandbox, deployed):
    body = {"data": {"age": 60}}
    assert predict(sandbox, deployed, body, headers={}).status_code == 401
    assert predict(sandbox, deployed, body, headers=KEY).status_code == 401
    assert predict(sandbox, deployed, body, headers=basic("wrong")).status_code == 401
    mixed = {"Authorization": "Basic " + base64.b64encode(f"{deployed['accessToken']}:x".encode()).decode()}
    assert predict(sandbox, deployed, body, headers=mixed).status_code == 401
    unknown = sandbox.client.post("/models/nope/latest/model", json=body, headers=basic(deployed["accessToken"]))
    assert unknown.status_code == 404


@pytest.mark.parametrize("headers", [
    basic(KEY["X-Domino-Api-Key"]),
    {"Authorization": f"Bearer {KEY['X-Domino-Api-Key']}"},
    {"Authorization": "Bearer TOKEN"},
], ids=["user-key-as-basic", "user-key-as-bearer", "access-token-as-bearer"])
def test_model_api_refuses_a_user_api_key_and_bearer_on_sync_routes(sandbox, deployed, headers):
    headers = {"Authorization": headers["Authorization"].replace("TOKEN", deployed["accessToken"])}
    answer = predict(sandbox, deployed, {"data": {"age": 60}}, headers=headers)
    assert answer.status_code == 401
    assert answer.json["errors"] and len(answer.json["requestId"]) == 16


@pytest.mark.parametrize("body", [{"age": 60}, {"data": [60]}, {"parameters": {"age": 60}}, None],
                         ids=["bare", "data-list", "parameters-dict", "no-json"])
def test_model_api_refuses_bodies_that_are_neither_data_nor_parameters(sandbox, deployed, body):
    answer = sandbox.client.post(f"/models/{deployed['modelId']}/latest/model", headers=basic(deployed["accessToken"]),
                                 **({"json": body} if body is not None else {"data": "not json"}))
    assert answer.status_code == 400 and answer.json["error"]


def test_model_api_answers_domino_envelope_for_data_and_parameters(sandbox, deployed):
    by_name = predict(sandbox, deployed, {"data": {"age": 60, "plan": "b"}})
    assert by_name.status_code == 200, by_name.json
    envelope = by_name.json
    assert set(envelope) == {"model_time_in_ms", "release", "request_id", "result"}
    assert envelope["release"] == {"harness_version": "0.1", "model_version": deployed["versionId"],
                                   "model_version_number": 1}
    assert len(envelope["request_id"]) == 16 and envelope["request_id"].isupper()
    assert envelope["result"]["churned"] == "yes"
    by_position = predict(sandbox, deployed, {"parameters": [20, "a"]})
    assert by_position.json["result"]["churned"] == "no"
    labelled = sandbox.client.post(f"/models/{deployed['modelId']}/labels/prod/model", json={"data": {"age": 1}},
                                   headers=basic(deployed["accessToken"]))
    assert labelled.status_code == 200
    failed = predict(sandbox, deployed, {"data": {"age": -1}})
    assert failed.status_code == 500 and "age must not be negative" in failed.json["error"]


def test_capture_log_then_ingestion_layout_is_idempotent(sandbox, deployed):
    version = deployed["versionId"]
    early = predict(sandbox, deployed, {"data": {"age": 60, "event_id": "e1", "timestamp": "2024-05-01T09:15:00Z"}})
    assert early.status_code == 200
    predict(sandbox, deployed, {"data": {"age": 30, "event_id": "e2", "timestamp": "2024-05-01T11:59:00+02:00"}})
    logs = list(sandbox.state.capture_dir.glob(f"model-{version}-*.log"))
    assert len(logs) == 1
    records = [json.loads(line) for line in logs[0].read_text().splitlines()]
    assert [record["event_id"] for record in records] == ["e1", "e2"]
    assert records[0]["instance_id"] == version

    with open(logs[0], "a") as log:
        log.write('{"not a record": true}\n')
        log.write('{"predictions": {"churned": NaN}, "features": {"age": NaN, "plan": "a"}, "metadata": null, '
                  '"timestamp": "2024-05-01T09:30:00+00:00", "__domino_timestamp": "2024-05-01T09:30:00+00:00", '
                  '"event_id": "e3", "prediction_probability": null, "sample_weight": null, "instance_id": null}\n')

    first = sandbox.admin("ingest").json["versions"][version]
    assert (first["rows"], first["invalidLines"]) == (3, 1)
    folder = sandbox.state.prediction_data_dir / version
    hours = sorted(str(path.parent.relative_to(folder)) for path in folder.rglob("predictions_*.parquet"))
    assert hours == ["$$date$$=2024-05-01Z/$$hour$$=09Z"]
    table = pd.read_parquet(next(folder.rglob("predictions_*.parquet")))
    assert {"age", "plan", "churned", "event_id", "timestamp", "__domino_timestamp", "prediction_probability",
            "instance_id"} <= set(table.columns)
    assert sorted(table["event_id"]) == ["e1", "e2", "e3"]  # 11:59+02:00 is 09:59 UTC

    again = sandbox.admin("ingest").json["versions"][version]
    assert again["rows"] == 0 and again["files"] == []
    predict(sandbox, deployed, {"data": {"age": 70, "event_id": "e4", "timestamp": "2024-05-02T00:00:01Z"}})
    third = sandbox.admin("ingest").json["versions"][version]
    assert third["rows"] == 1 and third["files"][0].endswith(".parquet")
    assert "$$date$$=2024-05-02Z/$$hour$$=00Z" in third["files"][0]

    record = json.dumps({**records[0], "event_id": "e5"}) + "\n"
    with open(logs[0], "a") as log:
        log.write(record[:40])  # a line still being written is left for the next run
    assert sandbox.admin("ingest").json["versions"][version]["rows"] == 0
    with open(logs[0], "a") as log:
        log.write(record[40:])
    assert sandbox.admin("ingest").json["versions"][version]["rows"] == 1
    total = sum(pq.read_metadata(path).num_rows for path in folder.rglob("*.parquet"))
    assert total == 5


def create_training_set(sandbox, name: str, target: str = "churned", key: bool = False) -> None:
    """A training set as step 1 registers it (features and target); ``key`` adds a key column as it used to."""
    frame = pd.DataFrame({"customer": [1, 2, 3, 4], "age": [20, 40, 60, 80], "plan": ["a", "b", "a", "b"],
                          "churned": ["no", "no", "yes", "yes"]})
    if not key:
        frame = frame.drop(columns=["customer"])
    roles = {"keyColumns": ["customer"] if key else [], "targetColumns": [target], "excludeColumns": [],
             "monitoringMeta": {"timestampColumns": [], "categoricalColumns": ["plan", "churned"],
                                "ordinalColumns": []}, "meta": {}}
    created = sandbox.client.post(f"/trainingset/{name}", headers=KEY, json={
        "projectId": SandboxSettings().project_id, "allColumns": list(frame.columns), **roles})
    assert created.status_code == 200, created.json
    folder = sandbox.state.training_set_root / created.json["containerPath"]
    folder.mkdir(parents=True)
    frame.to_parquet(folder / "data.parquet")
    done = sandbox.client.put(f"/trainingset/{name}/1", headers=KEY, json={**roles, "pending": False})
    assert done.status_code == 200, done.json


def test_attach_training_set_creates_the_endpoint_monitor_fed_by_ingestion(sandbox, deployed):
    create_training_set(sandbox, "churn-baseline")
    attached = sandbox.admin("attach-training-set", modelId=deployed["modelId"], trainingSetName="churn-baseline",
                             trainingSetVersion=1, modelType="classification")
    assert attached.status_code == 200, attached.json
    dmm_id = attached.json["dmmModelId"]
    model = sandbox.client.get(f"{API}/model", query_string={"model_id": dmm_id}, headers=KEY).json
    assert model["sourceType"] == "domino_workbench"
    assert model["sourceDetails"] == {"workbenchModelId": deployed["modelId"],
                                      "workbenchModelVersionId": deployed["versionId"]}
    variables = {v["name"]: (v["variableType"], v["valueType"]) for v in model["variables"]}
    assert variables == {"age": ("feature", "numerical"), "plan": ("feature", "categorical"),
                         "churned": ("prediction", "categorical"), "event_id": ("row_identifier", "string")}
    assert model["ingestionStatus"] == "training"

    twice = sandbox.admin("attach-training-set", modelId=deployed["modelId"], trainingSetName="churn-baseline",
                          trainingSetVersion=1, modelType="classification")
    assert twice.status_code == 409

    for age in (25, 45, 65):
        assert predict(sandbox, deployed, {"data": {"age": age}}).status_code == 200
    ingested = sandbox.admin("ingest").json["models"][dmm_id]
    assert (ingested["rows"], ingested["ingestionStatus"]) == (3, "prediction")
    summary = sandbox.client.get(f"{API}/get_model_summary", query_string={"model_id": dmm_id}, headers=KEY).json
    assert summary["ingestionStatus"] == "prediction" and summary["predictionRowCount"] == 3
    drift = sandbox.client.post(f"{API}/model/{dmm_id}/analyse-drift", headers=KEY,
                                json={"pagination": {"sortOrder": -1, "sortOn": "divergence"}})
    assert drift.status_code == 200, drift.json
    assert drift.json["numberOfPredictions"] == 3
    assert {item["name"] for item in drift.json["features"]} == {"age", "plan", "churned"}


@pytest.mark.parametrize("every_training_column", [True, False])
def test_a_training_set_column_missing_from_the_capture_fails_ingestion(sandbox, deployed, every_training_column):
    """Issue 10 §3, Domino's field notes (Fraud-Detection-Workshop DOMINO_PLATFORM_NOTES.md §5a): an endpoint
    monitor checks every training-set column against the capture; the key column 'customer' is never captured."""
    monitor_options.update({"ingestion_needs_every_training_column": every_training_column})
    create_training_set(sandbox, "churn-with-key", key=True)
    dmm_id = sandbox.admin("attach-training-set", modelId=deployed["modelId"], trainingSetName="churn-with-key",
                           trainingSetVersion=1, modelType="classification").json["dmmModelId"]
    assert predict(sandbox, deployed, {"data": {"age": 30}}).status_code == 200
    ingested = sandbox.admin("ingest").json["models"][dmm_id]
    model = sandbox.client.get(f"{API}/model", query_string={"model_id": dmm_id}, headers=KEY).json
    if every_training_column:
        assert (ingested["failedFiles"], ingested["rows"]) == (1, 0)
        assert ingested["errors"][0]["errorCode"] == "UNRESOLVED_COLUMN"
        assert ingested["errors"][0]["columns"] == ["customer"]
        assert model["ingestionStatus"] == "training" and model["ingestionErrors"]
    else:
        assert (ingested["failedFiles"], ingested["rows"]) == (0, 1)


def test_deleting_an_endpoint_monitor_conflicts_while_its_version_runs(sandbox, deployed):
    create_training_set(sandbox, "delete-guard")
    dmm_id = sandbox.admin("attach-training-set", modelId=deployed["modelId"], trainingSetName="delete-guard",
                           trainingSetVersion=1, modelType="classification").json["dmmModelId"]
    running = sandbox.client.delete(f"{API}/model", query_string={"model_id": dmm_id}, headers=KEY)
    assert running.status_code == 409 and deployed["versionId"] in running.json["message"]

    sandbox.app.extensions["model_processes"].stop(deployed["versionId"])
    stopped = sandbox.client.delete(f"{API}/model", query_string={"model_id": dmm_id}, headers=KEY)
    assert stopped.status_code == 200
    assert sandbox.client.get(f"{API}/model", query_string={"model_id": dmm_id}, headers=KEY).status_code == 404


def test_delete_conflict_is_an_option(sandbox, deployed):
    create_training_set(sandbox, "delete-free")
    dmm_id = sandbox.admin("attach-training-set", modelId=deployed["modelId"], trainingSetName="delete-free",
                           trainingSetVersion=1, modelType="classification").json["dmmModelId"]
    monitor_options.update({"delete_conflict_while_running": False})
    assert sandbox.client.delete(f"{API}/model", query_string={"model_id": dmm_id}, headers=KEY).status_code == 200


def test_ingestion_records_unresolved_column_when_a_monitor_variable_is_not_captured(sandbox, deployed):
    create_training_set(sandbox, "other-target")
    # a monitor whose prediction is named "plan_next": the capture has no such column
    with sandbox.state.transaction() as data:
        training = data["training_sets"]["other-target"]["versions"]["1"]
        training["allColumns"] = training["allColumns"] + ["plan_next"]
        training["targetColumns"] = ["plan_next"]
        training["monitoringMeta"]["categoricalColumns"].append("plan_next")
    dmm_id = sandbox.admin("attach-training-set", modelId=deployed["modelId"], trainingSetName="other-target",
                           trainingSetVersion=1, modelType="classification").json["dmmModelId"]
    predict(sandbox, deployed, {"data": {"age": 33}})
    result = sandbox.admin("ingest").json["models"][dmm_id]
    assert result["failedFiles"] == 1 and result["rows"] == 0
    model = sandbox.client.get(f"{API}/model", query_string={"model_id": dmm_id}, headers=KEY).json
    assert model["ingestionStatus"] == "training"
    assert model["ingestionErrors"][0]["errorCode"] == "UNRESOLVED_COLUMN"
    assert model["ingestionErrors"][0]["columns"] == ["plan_next"]


def test_deployed_models_start_again_after_a_restart(sandbox, deployed):
    sandbox.stop()
    restarted = Sandbox(sandbox.state.root)
    try:
        processes = restarted.app.extensions["model_processes"]
        assert processes.wait_ready(deployed["versionId"], 30)
        answer = restarted.client.post(f"/models/{deployed['modelId']}/latest/model", json={"data": {"age": 5}},
                                       headers=basic(deployed["accessToken"]))
        assert answer.status_code == 200
    finally:
        restarted.stop()


def test_deploy_refuses_a_missing_script(sandbox, tmp_path):
    answer = sandbox.admin("deploy", script=str(tmp_path / "nope.py"), name="x")
    assert answer.status_code == 400 and "not a Python file" in answer.json["message"]


@pytest.mark.sandbox
def test_running_sandbox_serves_concurrent_predictions_over_http(sandbox_factory, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    import requests

    script = tmp_path / "served" / "predict.py"
    script.parent.mkdir()
    script.write_text(PREDICT_SCRIPT)
    running = sandbox_factory()
    deployed = running.admin("deploy", script=str(script), name="served")
    assert deployed["endpointUrl"].startswith(running.url)
    session = requests.Session()
    token = deployed["accessToken"]

    def call(age: int) -> int:
        answer = session.post(deployed["endpointUrl"], json={"data": {"age": age}}, auth=(token, token), timeout=30)
        return answer.status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(call, range(40))) == {200}
    refused = requests.post(deployed["endpointUrl"], json={"data": {"age": 1}}, headers=running.headers, timeout=30)
    assert refused.status_code == 401
    ingested = running.admin("ingest")
    assert ingested["versions"][deployed["versionId"]]["rows"] == 40
