"""End to end for a model deployed from the Model Registry (issue 10 §4): step 2 registers the example model wrapped
with prediction capture, the sandbox deploys that registered version (signature enforced, answers a list of rows),
and steps 3-6 detect the kind, send its shape and match every label by the event id the wrapper returns."""

from __future__ import annotations

import csv
import json

import pytest
import requests

from dmm.model_api import REGISTRY, ModelApiClient
from example.data import FEATURES, TARGET

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo(start_demo):
    """One complete registry set-up (steps 1-6, 20 predictions) on a sandbox of its own."""
    with start_demo("e2e_registry") as demo:
        demo.endpoint = "registry"
        demo.full_path(count=20)
        yield demo


@pytest.fixture(scope="module")
def report(demo) -> dict:
    return json.loads((demo.work_dir / "monitoring_report.json").read_text())


def post(demo, data) -> requests.Response:
    token = demo.deployment["accessToken"]
    return requests.post(demo.deployment["endpointUrl"], json={"data": data}, auth=(token, token), timeout=60)


def sample_row(demo) -> dict:
    schema = json.loads((demo.work_dir / "monitoring_schema.json").read_text())
    return {feature["name"]: feature["example"] for feature in schema["features"]}


def test_step2_registered_the_wrapped_model_and_step3_recorded_the_kind(demo):
    step2 = next(run for run in demo.runs if run.name == "step 2")
    assert "models:/churn-model/1" in step2.stdout
    config = json.loads((demo.work_dir / "monitoring_config.json").read_text())
    assert config["model_api"]["kind"] == REGISTRY
    step3 = next(run for run in demo.runs if run.name == "step 3")
    assert "Model Registry" in step3.stdout


def test_every_step6_check_passes(demo, report):
    statuses = {check["name"]: check["status"] for check in report["checks"]}
    assert statuses and all(status == "PASS" for status in statuses.values()), statuses
    endpoint = next(check for check in report["checks"] if check["name"] == "endpoint")
    assert "Model Registry" in endpoint["detail"]


def test_every_label_joins_a_prediction_the_registered_model_captured(demo, report):
    files = demo.ground_truth_files()
    assert len(files) == 1
    with open(files[0], newline="") as handle:
        labelled = {row["event_id"] for row in csv.DictReader(handle)}
    captured = {record["event_id"]: record for record in demo.captured_records()}
    assert len(labelled) == 20 and labelled <= set(captured)
    assert all(set(captured[event_id]["features"]) == set(FEATURES) for event_id in labelled)
    assert report["quality"]["matched_rows"] == 20


def test_the_endpoint_answers_bare_rows_and_the_client_finds_the_event_id(demo):
    answer = post(demo, {**sample_row(demo), "event_id": "e2e-registry-1"})
    assert answer.status_code == 200, answer.text
    rows = answer.json()["result"]
    assert isinstance(rows, list) and isinstance(rows[0], list) and rows[0][0] == "e2e-registry-1"
    client = ModelApiClient(demo.deployment["endpointUrl"], demo.deployment["accessToken"], timeout=60)
    prediction = client.predict({**sample_row(demo), "event_id": "e2e-registry-2"})
    assert prediction.kind == REGISTRY and prediction.event_id == "e2e-registry-2"
    captured = {record["event_id"]: record for record in demo.captured_records()}
    assert captured["e2e-registry-2"]["predictions"][TARGET] in prediction.result


def test_the_signature_is_enforced(demo):
    wrong = post(demo, {**sample_row(demo), "age": "forty"})
    assert wrong.status_code == 500 and "enforce schema" in wrong.text
    missing = post(demo, {name: value for name, value in sample_row(demo).items() if name != "contract"})
    assert missing.status_code == 500 and "contract" in missing.text
    assert post(demo, [1, 2]).status_code == 400


def test_rows_as_records_option_is_survived_too(demo):
    demo.sandbox.admin("monitor-options", registry_rows_as_records=True)
    try:
        version = demo.registered_version()
        redeployed = demo.sandbox.admin("deploy", name=demo.setup.endpoint_name,
                                        registeredModelName=demo.setup.endpoint_name, registeredModelVersion=version)
    finally:
        demo.sandbox.admin("monitor-options", registry_rows_as_records=False)
    client = ModelApiClient(redeployed["endpointUrl"], redeployed["accessToken"], timeout=60, kind=REGISTRY)
    prediction = client.predict({**sample_row(demo), "event_id": "e2e-registry-3"})
    assert isinstance(prediction.result, dict) and prediction.result["event_id"] == "e2e-registry-3"
    assert prediction.result[TARGET] in ("no", "yes")
