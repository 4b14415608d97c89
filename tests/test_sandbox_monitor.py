"""The sandbox's Model Monitor API: Monitoring Config validation and DMM's dataset registration rules."""

from __future__ import annotations

import pandas as pd
import pytest

from sandbox import monitor_options
from sandbox.app import create_app
from sandbox.routes.datasources import create_datasource
from sandbox.settings import SandboxSettings
from sandbox.state import SandboxState

API = "/model-monitor/v2/api"
KEY = {"X-Domino-Api-Key": "sandbox-api-key"}
SOURCE = "monitor-bucket"


class Monitor:
    """A sandbox app in-process, with one object-store data source known to both Domino and Model Monitor."""

    def __init__(self, root) -> None:
        self.state = SandboxState(root)
        self.client = create_app(self.state, SandboxSettings()).test_client()
        record, _ = create_datasource(self.state, SOURCE, "s3")
        self.objects = self.state.objects_root / record["id"]
        answer = self.client.put(f"{API}/datasource", json={"name": SOURCE, "type": "s3"}, headers=KEY)
        assert answer.status_code == 200, answer.json

    def upload(self, key: str, frame: pd.DataFrame) -> str:
        path = self.objects / key
        path.parent.mkdir(parents=True, exist_ok=True)
        if key.endswith(".parquet"):
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
        return key

    def put(self, path: str, body):
        return self.client.put(f"{API}{path}", json=body, headers=KEY)


def details(name: str, key: str, file_format: str = "csv", source: str = SOURCE) -> dict:
    return {"name": name, "datasetType": "file", "datasetConfig": {"path": key, "fileFormat": file_format},
            "datasourceName": source, "datasourceType": "s3"}


TRAINING = pd.DataFrame({"age": [20, 30, 40, 50, 60, 70], "plan": ["a", "b", "a", "b", "a", "c"],
                         "churned": ["yes", "no", "no", "yes", "no", "no"], "event_id": list("abcdef"),
                         "ts": ["2024-01-01T00:00:00Z"] * 6, "ts2": ["2024-01-02T00:00:00Z"] * 6,
                         "id2": list("uvwxyz"), "age_p": [0.5] * 6, "weight": [1.0] * 6})
AGE = {"name": "age", "variableType": "feature", "valueType": "numerical"}


def model_config(**overrides) -> dict:
    config = {
        "variables": [{"name": "age", "variableType": "feature", "valueType": "numerical"},
                      {"name": "plan", "variableType": "feature", "valueType": "categorical"},
                      {"name": "churned", "variableType": "prediction", "valueType": "categorical"},
                      {"name": "event_id", "variableType": "row_identifier", "valueType": "string"}],
        "datasetDetails": details("training", "train/train.csv"),
        "modelMetadata": {"name": "churn", "modelType": "classification", "version": "1", "author": "me"},
    }
    config.update(overrides)
    return config


@pytest.fixture
def monitor(tmp_path):
    monitor_options.reset()
    sandbox = Monitor(tmp_path)
    sandbox.upload("train/train.csv", TRAINING)
    yield sandbox
    monitor_options.reset()


@pytest.fixture
def model_id(monitor):
    answer = monitor.put("/model", model_config())
    assert answer.status_code == 200, answer.json
    return answer.json["id"]


def ground_truth_variables(label="label", prediction="churned", value_type="categorical",
                           row_id: str | None = None) -> list[dict]:
    """The ground-truth variables; the model of ``model_config`` declares ``event_id`` on the prediction side, as an
    endpoint monitor does, so by default no row identifier of their own (issue 10 §1)."""
    truth = [{"name": label, "variableType": "ground_truth", "valueType": value_type,
              "forPredictionOutput": prediction}]
    return truth + ([{"name": row_id, "variableType": "row_identifier", "valueType": "string"}] if row_id else [])


LABELS = pd.DataFrame({"event_id": ["a", "b", "c"], "label": ["yes", "no", "yes"]})


# ------------------------------------------------------------------------------------------- register model

def test_register_model_answers_both_id_keys_and_is_readable(monitor, model_id):
    answer = monitor.client.get(f"{API}/model", query_string={"model_id": model_id}, headers=KEY)
    assert answer.status_code == 200
    assert answer.json["id"] == answer.json["modelId"] == model_id
    assert answer.json["ingestionStatus"] == "training"
    summary = monitor.client.get(f"{API}/model/{model_id}/variables/summary", headers=KEY).json
    assert {"name": "churned", "variableType": "prediction", "valueType": "categorical"} in summary


def test_get_model_with_camel_case_id_is_a_server_error_as_observed(monitor, model_id):
    answer = monitor.client.get(f"{API}/model", query_string={"modelId": model_id}, headers=KEY)
    assert answer.status_code == 500


@pytest.mark.parametrize("change, words", [
    ({"modelMetadata": {"name": "churn", "modelType": "ranking"}}, "modelType"),
    ({"variables": [{"name": "age", "variableType": "feature", "valueType": "datetime"}]}, "valueType"),
    ({"variables": [{"name": "age", "variableType": "feature", "valueType": "numerical"},
                    {"name": "p1", "variableType": "prediction", "valueType": "numerical"},
                    {"name": "p2", "variableType": "prediction", "valueType": "numerical"}]}, "only 1 prediction"),
    ({"variables": [{"name": "age", "variableType": "feature", "valueType": "numerical"},
                    {"name": "event_id", "variableType": "row_identifier", "valueType": "numerical"}]}, "string"),
    ({"variables": [{"name": "churned", "variableType": "ground_truth", "valueType": "categorical",
                     "forPredictionOutput": "churned"}]}, "not allowed"),
    ({"variables": [{"name": "churned", "variableType": "prediction", "valueType": "categorical"}]}, "feature"),
    ({"variables": [{"name": "age", "variableType": "feature", "valueType": "numerical", "colour": "red"}]},
     "unknown key"),
    ({"datasetDetails": None}, "datasetDetails"),
    ({"datasetDetails": details("training", "train/missing.csv")}, "not found"),
    ({"datasetDetails": details("training", "train/train.csv", source="nowhere")}, "not registered"),
    ({"variables": [{"name": "income", "variableType": "feature", "valueType": "numerical"}]}, "missing"),
    ({"variables": [AGE, {"name": "age_p", "variableType": "prediction_probability", "valueType": "numerical"}]},
     "prediction_probability is not allowed"),
    ({"variables": [AGE, {"name": "weight", "variableType": "sample_weight", "valueType": "numerical"}]},
     "sample_weight is not allowed"),
    ({"variables": [AGE, {"name": "ts", "variableType": "timestamp", "valueType": "datetime"},
                    {"name": "ts2", "variableType": "timestamp", "valueType": "datetime"}]}, "only 1 timestamp"),
    ({"variables": [AGE, {"name": "event_id", "variableType": "row_identifier", "valueType": "string"},
                    {"name": "id2", "variableType": "row_identifier", "valueType": "string"}]},
     "only 1 row_identifier"),
    ({"variables": [AGE, {"name": "ts", "variableType": "timestamp", "valueType": "numerical"}]}, "datetime"),
    ({"variables": [AGE, {"name": "ts", "variableType": "timestamp", "valueType": "string"}]}, "datetime"),
    ({"variables": [AGE, {"name": "event_id", "variableType": "row_identifier", "valueType": "categorical"}]},
     "string"),
    ({"variables": [AGE, {"name": "churned", "variableType": "prediction", "valueType": "datetime"}]}, "valueType"),
    ({"variables": [{"name": "age", "variableType": "feature", "valueType": "string"}]}, "valueType"),
    ({"variables": [{"name": "age", "variableType": "feature"}]}, "valueType"),
    ({"variables": [{**AGE, "featureImportance": "high"}]}, "featureImportance must be a number"),
    ({"variables": [AGE, {"name": "age", "variableType": "feature", "valueType": "categorical"}]},
     "exactly one variableType"),
    ({"run_cohort_analysis": "yes"}, "run_cohort_analysis"),
    ({"modelMetadata": {"name": "churn", "modelType": "regression", "version": 2}}, "version must be a string"),
    ({"datasetDetails": {**details("training", "train/train.csv"), "datasetType": "table"}}, "datasetType"),
    ({"datasetDetails": {**details("training", "train/train.csv"),
                         "datasetConfig": {"path": "train/train.csv", "fileFormat": "json"}}}, "fileFormat"),
    ({"datasetDetails": {**details("training", "train/train.csv"), "datasourceType": "gcs"}}, "does not match"),
])
def test_register_model_refuses_invalid_configs(monitor, change, words):
    answer = monitor.put("/model", model_config(**change))
    assert answer.status_code == 400
    assert words in answer.json["message"]
    assert monitor.client.get(f"{API}/models", query_string={"pageNumber": 0, "pageSize": 10,
                                                             "numberOfLastChecksToFetch": 1},
                              headers=KEY).json["modelDashboardItems"] == []


def test_register_model_accepts_each_single_variable_type_once(monitor):
    variables = [AGE, {"name": "churned", "variableType": "prediction", "valueType": "categorical"},
                 {"name": "ts", "variableType": "timestamp", "valueType": "datetime"},
                 {"name": "event_id", "variableType": "row_identifier", "valueType": "string"}]
    answer = monitor.put("/model", model_config(variables=variables, run_cohort_analysis=True))
    assert answer.status_code == 200, answer.json


def test_register_model_requires_each_top_level_section(monitor):
    for section in ("variables", "datasetDetails", "modelMetadata"):
        config = model_config()
        del config[section]
        answer = monitor.put("/model", config)
        assert answer.status_code == 400 and section in answer.json["message"]


def test_endpoint_monitor_refuses_a_declared_prediction(monitor):
    metadata = {"name": "churn", "modelType": "classification", "sourceType": "domino_workbench",
                "sourceDetails": {"workbenchModelId": "m", "workbenchModelVersionId": "v"}}
    answer = monitor.put("/model", model_config(modelMetadata=metadata))
    assert answer.status_code == 400
    assert answer.json["message"] == "Variable churned not allowed for registration"


PAGING = {"pageNumber": 0, "pageSize": 5, "numberOfLastChecksToFetch": 3}


@pytest.mark.parametrize("query", [
    {},
    {"pageNumber": 1},
    {"pageNumber": 1, "pageSize": 5},
    {"pageSize": 5, "numberOfLastChecksToFetch": 3},
    {**PAGING, "pageSize": "five"},
    {**PAGING, "pageNumber": -1},
    {**PAGING, "sortOrder": "up"},
])
def test_list_models_refuses_missing_or_bad_paging(monitor, query):
    answer = monitor.client.get(f"{API}/models", query_string=query, headers=KEY)
    assert answer.status_code == 400 and answer.json["errors"]


def test_get_and_delete_model_need_snake_case_model_id(monitor, model_id):
    assert monitor.client.get(f"{API}/model", headers=KEY).status_code == 400
    camel = monitor.client.delete(f"{API}/model", query_string={"modelId": model_id}, headers=KEY)
    assert camel.status_code == 400
    assert monitor.client.get(f"{API}/model", query_string={"model_id": model_id}, headers=KEY).status_code == 200


def test_list_models_requires_paging_and_delete_removes(monitor, model_id):
    assert monitor.client.get(f"{API}/models", query_string={"pageNumber": 1}, headers=KEY).status_code == 400
    listed = monitor.client.get(f"{API}/models", query_string={"pageNumber": 0, "pageSize": 5,
                                                               "numberOfLastChecksToFetch": 3}, headers=KEY).json
    assert [item["id"] for item in listed["modelDashboardItems"]] == [model_id]
    assert listed["classificationModelCount"] == 1
    assert monitor.client.delete(f"{API}/model", query_string={"model_id": model_id}, headers=KEY).status_code == 200
    assert monitor.client.get(f"{API}/model", query_string={"model_id": model_id}, headers=KEY).status_code == 404


def test_monitor_routes_require_the_api_key(monitor):
    assert monitor.client.put(f"{API}/model", json=model_config()).status_code == 401
    assert monitor.client.get(f"{API}/datasources").status_code == 401
    assert monitor.client.get(f"{API}/datasources", headers={"X-Domino-Api-Key": "wrong"}).status_code == 401
    bearer = {"Authorization": "Bearer sandbox-api-key"}
    assert monitor.client.get(f"{API}/datasources", headers=bearer).status_code == 200


def test_dmm_datasources_put_list_delete(monitor):
    listed = monitor.client.get(f"{API}/datasources", headers=KEY).json
    assert [source["name"] for source in listed] == [SOURCE]
    assert monitor.put("/datasource", {"name": "x", "type": "ftp"}).status_code == 400
    gone = monitor.client.delete(f"{API}/datasource", query_string={"datasource_id": listed[0]["id"]}, headers=KEY)
    assert gone.status_code == 200 and gone.json["name"] == SOURCE
    assert monitor.client.get(f"{API}/datasources", headers=KEY).json == []


# ---------------------------------------------------------------------------------------------- ground truth

def test_dmm_datasource_credentials_never_reach_state_json(monitor):
    secret = "aws-secret-value-0123456789"
    answer = monitor.put("/datasource", {"name": "with-keys", "type": "s3", "config": {"bucket": "b"},
                                         "credentials": {"accessKeyID": "AKIA", "secretAccessKey": secret}})
    assert answer.status_code == 200 and secret not in answer.get_data(as_text=True)
    assert secret not in (monitor.state.root / "state.json").read_text()


def test_ground_truth_rules_first_with_variables_then_details_only(monitor, model_id):
    monitor.upload("gt/day1.csv", LABELS)
    monitor.upload("gt/day2.parquet", LABELS.assign(label=["no", "no", "no"]))
    path = f"/model/{model_id}/register-dataset/ground_truth"

    first = monitor.put(path, {"variables": ground_truth_variables(), "datasetDetails": details("gt1", "gt/day1.csv")})
    assert first.status_code == 200, first.json
    assert first.json["rowCount"] == 3

    again = monitor.put(path, {"variables": ground_truth_variables(), "datasetDetails": details("gt2", "gt/day1.csv")})
    assert again.status_code == 400
    assert "Variable(s) with name ['label'] is/are already configured" in again.json["message"]

    later = monitor.put(path, {"datasetDetails": details("gt2", "gt/day2.parquet", "parquet")})
    assert later.status_code == 200, later.json

    twice = monitor.put(path, {"datasetDetails": details("gt2", "gt/day2.parquet", "parquet")})
    assert twice.status_code == 409

    summary = monitor.client.get(f"{API}/model/{model_id}/variables/summary", headers=KEY).json
    assert {"name": "label", "variableType": "ground_truth", "valueType": "categorical",
            "forPredictionOutput": "churned"} in summary


def test_ground_truth_details_only_before_any_variables_is_refused(monitor, model_id):
    monitor.upload("gt/day1.csv", LABELS)
    answer = monitor.put(f"/model/{model_id}/register-dataset/ground_truth",
                         {"datasetDetails": details("gt1", "gt/day1.csv")})
    assert answer.status_code == 400
    assert "ground truth" in answer.json["message"].lower()


@pytest.mark.parametrize("variables, words", [
    (ground_truth_variables(prediction="target"), "forPredictionOutput"),
    (ground_truth_variables(value_type="numerical"), "does not match"),
    (ground_truth_variables(row_id="id2"), "only 1 row_identifier"),
    (ground_truth_variables(row_id="event_id"), "Variable(s) with name ['event_id'] is/are already configured"),
    (ground_truth_variables(label="missing_column"), "missing"),
    (ground_truth_variables(label="churned"), "Variable(s) with name ['churned'] is/are already configured"),
])
def test_ground_truth_refusals(monitor, model_id, variables, words):
    monitor.upload("gt/day1.csv", LABELS.assign(id2=["x", "y", "z"], churned=["yes", "no", "no"]))
    answer = monitor.put(f"/model/{model_id}/register-dataset/ground_truth",
                         {"variables": variables, "datasetDetails": details("gt1", "gt/day1.csv")})
    assert answer.status_code == 400
    assert words in answer.json["message"]
    summary = monitor.client.get(f"{API}/model/{model_id}/variables/summary", headers=KEY).json
    assert not [v for v in summary if v["variableType"] == "ground_truth"]


def test_ground_truth_file_must_exist_in_the_data_source(monitor, model_id):
    answer = monitor.put(f"/model/{model_id}/register-dataset/ground_truth",
                         {"variables": ground_truth_variables(), "datasetDetails": details("gt1", "gt/none.csv")})
    assert answer.status_code == 400
    assert "gt/none.csv was not found" in answer.json["message"]


def test_ground_truth_for_an_unknown_model_is_404(monitor):
    answer = monitor.put("/model/nope/register-dataset/ground_truth",
                         {"variables": ground_truth_variables(), "datasetDetails": details("gt1", "gt/day1.csv")})
    assert answer.status_code == 404


def test_resent_row_identifier_is_an_option(monitor, model_id):
    monitor.upload("gt/day1.csv", LABELS)
    path = f"/model/{model_id}/register-dataset/ground_truth"
    monitor_options.update({"gt_row_identifier_beside_prediction_one": "allowed"})
    variables = ground_truth_variables(row_id="event_id")
    first = monitor.put(path, {"variables": variables, "datasetDetails": details("gt1", "gt/day1.csv")})
    assert first.status_code == 200
    monitor_options.update({"gt_row_identifier_counts_as_configured": False})
    answer = monitor.put(path, {"variables": variables, "datasetDetails": details("gt2", "gt/day1.csv")})
    assert answer.json["message"] == "Variable(s) with name ['label'] is/are already configured"


# ------------------------------------------------------------------------------ predictions, analyses, schedule

def test_prediction_dataset_then_drift_quality_and_scheduling(monitor, model_id):
    schedule = {"modelId": model_id, "name": "daily", "timezone": "UTC", "cronExpression": "0 12 * * *",
                "calendarType": "D", "dataSinceLastCheck": True, "data_since": 1}
    early = monitor.client.post("/model-monitor/api/scheduler/create_drift_schedule_check", json=schedule,
                                headers=KEY)
    assert early.status_code == 400 and early.json["message"] == "No prediction data registered"

    predictions = pd.DataFrame({"age": [25, 35, 95], "plan": ["a", "a", "z"], "churned": ["yes", "no", "no"],
                                "event_id": ["a", "b", "c"]})
    monitor.upload("pred/p1.csv", predictions)
    registered = monitor.put(f"/model/{model_id}/register-dataset/prediction",
                             {"datasetDetails": details("p1", "pred/p1.csv")})
    assert registered.status_code == 200, registered.json

    drift = monitor.client.post(f"{API}/model/{model_id}/analyse-drift",
                                json={"pagination": {"sortOrder": 1, "sortOn": "column_name"}}, headers=KEY)
    assert drift.status_code == 200, drift.json
    assert drift.json["numberOfPredictions"] == 3
    plan = next(item for item in drift.json["features"] if item["name"] == "plan")
    assert plan["bins"][-2:] == ["Untrained Classes", "Invalid"]
    assert sum(plan["counts"]["prediction"]) == 3
    assert [item["name"] for item in drift.json["features"]] == ["age", "churned", "plan"]
    no_paging = monitor.client.post(f"{API}/model/{model_id}/analyse-drift", json={}, headers=KEY)
    assert no_paging.status_code == 400

    monitor.upload("gt/day1.csv", LABELS)
    monitor.upload("gt/day2.csv", pd.DataFrame({"event_id": ["a"], "label": ["no"]}))
    path = f"/model/{model_id}/register-dataset/ground_truth"
    assert monitor.put(path, {"variables": ground_truth_variables(),
                              "datasetDetails": details("gt1", "gt/day1.csv")}).status_code == 200
    assert monitor.put(path, {"datasetDetails": details("gt2", "gt/day2.csv")}).status_code == 200
    quality = monitor.client.post(f"{API}/model/{model_id}/analyze-model-quality", json={}, headers=KEY)
    assert quality.status_code == 200, quality.json
    assert quality.json["matchedRowCount"] == 3
    accuracy = next(metric for metric in quality.json["metrics"] if metric["key"] == "accuracy")
    # latest label wins: a=no (pred yes), b=no (pred no), c=yes (pred no) -> 1 of 3
    assert accuracy["value"] == pytest.approx(1 / 3)
    assert set(accuracy) >= {"name", "value", "isFailed"}

    created = monitor.client.post("/model-monitor/api/scheduler/create_drift_schedule_check", json=schedule,
                                  headers=KEY)
    assert created.status_code == 200, created.json
    summary = monitor.client.get(f"{API}/get_model_summary", query_string={"model_id": model_id}, headers=KEY).json
    assert summary["isDataDriftCheckScheduled"] is True


@pytest.mark.parametrize("variables, words", [
    ([AGE], "feature is not allowed"),
    ([{"name": "age_p", "variableType": "prediction_probability", "valueType": "categorical"}], "numerical"),
    ([{"name": "ts", "variableType": "timestamp", "valueType": "datetime"},
      {"name": "ts2", "variableType": "timestamp", "valueType": "datetime"}], "only 1 timestamp"),
    ([{"name": "id2", "variableType": "row_identifier", "valueType": "string"}], "only 1 row_identifier"),
    ([{"name": "event_id", "variableType": "row_identifier", "valueType": "string"}], "already configured"),
    ([{"name": "label", "variableType": "ground_truth", "valueType": "categorical",
       "forPredictionOutput": "churned"}], "ground_truth is not allowed"),
    ([{"name": "age_p", "variableType": "prediction_probability", "valueType": "numerical"}], "missing"),
])
def test_prediction_dataset_refusals(monitor, model_id, variables, words):
    monitor.upload("pred/p1.csv", TRAINING.drop(columns=["age_p"]))
    answer = monitor.put(f"/model/{model_id}/register-dataset/prediction",
                         {"variables": variables, "datasetDetails": details("p1", "pred/p1.csv")})
    assert answer.status_code == 400
    assert words in answer.json["message"]
    model = monitor.client.get(f"{API}/model", query_string={"model_id": model_id}, headers=KEY).json
    assert model["ingestionStatus"] == "training" and model["predictionRowCount"] == 0


def test_prediction_dataset_may_add_probability_weight_and_timestamp(monitor, model_id):
    monitor.upload("pred/p1.csv", TRAINING)
    added = [{"name": "age_p", "variableType": "prediction_probability", "valueType": "numerical"},
             {"name": "weight", "variableType": "sample_weight", "valueType": "numerical"},
             {"name": "ts", "variableType": "timestamp", "valueType": "datetime"}]
    answer = monitor.put(f"/model/{model_id}/register-dataset/prediction",
                         {"variables": added, "datasetDetails": details("p1", "pred/p1.csv")})
    assert answer.status_code == 200, answer.json
    assert answer.json["variables"] == added


def test_register_dataset_type_must_be_prediction_or_ground_truth(monitor, model_id):
    answer = monitor.put(f"/model/{model_id}/register-dataset/training", {"datasetDetails": details("x", "t.csv")})
    assert answer.status_code == 400 and "prediction or ground_truth" in answer.json["message"]


def test_quality_schedule_is_refused_until_ground_truth_is_registered(monitor, model_id):
    action = monitor_options.OPTIONS["quality_schedule_action"]
    schedule = {"modelId": model_id, "name": "daily quality", "cronExpression": "0 12 * * *", "calendarType": "D"}
    url = f"/model-monitor/api/scheduler/{action}"
    early = monitor.client.post(url, json=schedule, headers=KEY)
    assert early.status_code == 400 and early.json["message"] == "No ground truth data registered"

    monitor.upload("gt/day1.csv", LABELS)
    assert monitor.put(f"/model/{model_id}/register-dataset/ground_truth",
                       {"variables": ground_truth_variables(),
                        "datasetDetails": details("gt1", "gt/day1.csv")}).status_code == 200
    created = monitor.client.post(url, json=schedule, headers=KEY)
    assert created.status_code == 200, created.json
    summary = monitor.client.get(f"{API}/get_model_summary", query_string={"model_id": model_id}, headers=KEY).json
    assert (summary["isModelQualityCheckScheduled"], summary["isDataDriftCheckScheduled"]) == (True, False)

    job_id = created.json["schedulerJobId"]
    assert monitor.client.post(f"/model-monitor/api/scheduler/{job_id}/unschedule_scheduler_job", json={},
                               headers=KEY).json is True
    summary = monitor.client.get(f"{API}/get_model_summary", query_string={"model_id": model_id}, headers=KEY).json
    assert summary["isModelQualityCheckScheduled"] is False
    assert monitor.client.post("/model-monitor/api/scheduler/not_an_action", json=schedule,
                               headers=KEY).status_code == 404


def test_quality_schedule_action_name_is_an_option(monitor, model_id):
    monitor_options.update({"quality_schedule_action": "create_mq_check"})
    schedule = {"modelId": model_id, "name": "q", "cronExpression": "0 12 * * *", "calendarType": "D"}
    answer = monitor.client.post("/model-monitor/api/scheduler/create_mq_check", json=schedule, headers=KEY)
    assert answer.status_code == 400 and answer.json["message"] == "No ground truth data registered"


def test_scheduler_query_round_trip(monitor, model_id):
    query = monitor.client.get(f"{API}/model/{model_id}/drift-scheduler-query", headers=KEY).json
    assert {item["name"] for item in query["features"]} == {"age", "plan", "churned"}
    query["features"][0]["condition"] = {"operator": "<", "lower": 0.5, "upper": 0.5}
    saved = monitor.client.post(f"{API}/model/{model_id}/save-scheduler-query", json={"config": query["features"]},
                                headers=KEY)
    assert saved.status_code == 200 and saved.json is True
    again = monitor.client.get(f"{API}/model/{model_id}/drift-scheduler-query", headers=KEY).json
    assert again["features"][0]["condition"]["lower"] == 0.5
    bad = monitor.client.post(f"{API}/model/{model_id}/save-scheduler-query",
                              json={"config": [{"name": "nope"}]}, headers=KEY)
    assert bad.status_code == 400


def test_dataset_jobs_list_registrations(monitor, model_id):
    jobs = monitor.client.post(f"{API}/{model_id}/dataset-jobs", json={}, headers=KEY)
    assert jobs.status_code == 200
    assert [job["datasetType"] for job in jobs.json] == ["training"]
    assert jobs.json[0]["rowCount"] == len(TRAINING)


def test_traffic_counts_registered_predictions_and_labels(monitor, model_id):
    import time

    monitor.upload("pred/p1.csv", TRAINING.head(4))
    assert monitor.put(f"/model/{model_id}/register-dataset/prediction",
                       {"datasetDetails": details("p1", "pred/p1.csv")}).status_code == 200
    monitor.upload("gt/day1.csv", LABELS)
    assert monitor.put(f"/model/{model_id}/register-dataset/ground_truth",
                       {"variables": ground_truth_variables(),
                        "datasetDetails": details("gt1", "gt/day1.csv")}).status_code == 200
    now = int(time.time())
    window = {"start_date": now - 3600, "end_date": now + 3600}
    traffic = monitor.client.get(f"{API}/model/get-prediction-traffic", headers=KEY,
                                 query_string={"model_ids": model_id, **window})
    assert traffic.status_code == 200
    assert sum(hour["queries"] for hour in traffic.json[0]["traffic"]) == 4
    past = monitor.client.get(f"{API}/model/get-prediction-traffic", headers=KEY,
                              query_string={"model_ids": model_id, "start_date": 0, "end_date": 3600})
    assert past.json[0]["traffic"] == []
    assert monitor.client.get(f"{API}/model/get-prediction-traffic", headers=KEY,
                              query_string={"model_ids": model_id}).status_code == 400
    labels = monitor.client.get(f"{API}/model/{model_id}/traffic/ground-truth", headers=KEY,
                                query_string={"startTimestamp": now - 3600, "endTimestamp": now + 3600}).json
    assert (labels["groundTruthRowCount"], labels["matchedRowCount"]) == (3, 3)
    timeline = monitor.client.get(f"{API}/model/{model_id}/dataset-timeline", headers=KEY, query_string=window).json
    assert [job["datasetType"] for job in timeline["timeline"]] == ["training", "prediction", "ground_truth"]


def test_quality_threshold_with_a_bad_operator_is_refused(monitor, model_id):
    monitor.upload("pred/p1.csv", pd.DataFrame({"age": [25, 35, 95], "plan": ["a", "a", "z"],
                                                "churned": ["yes", "no", "no"], "event_id": ["a", "b", "c"]}))
    assert monitor.put(f"/model/{model_id}/register-dataset/prediction",
                       {"datasetDetails": details("p1", "pred/p1.csv")}).status_code == 200
    monitor.upload("gt/day1.csv", LABELS)
    assert monitor.put(f"/model/{model_id}/register-dataset/ground_truth",
                       {"variables": ground_truth_variables(),
                        "datasetDetails": details("gt1", "gt/day1.csv")}).status_code == 200
    url = f"{API}/model/{model_id}/analyze-model-quality"
    bad = monitor.client.post(url, json={"thresholds": {"accuracy": {"operator": "=>", "threshold": 0.5}}},
                              headers=KEY)
    assert bad.status_code == 400 and "operator" in bad.json["message"]
    good = monitor.client.post(url, json={"thresholds": {"accuracy": {"operator": ">=", "threshold": 0.9}}},
                               headers=KEY)
    assert good.status_code == 200, good.json
    accuracy = next(metric for metric in good.json["metrics"] if metric["key"] == "accuracy")
    assert accuracy["value"] == pytest.approx(2 / 3) and accuracy["isFailed"] is True
    assert good.json["unscoreableRows"] == {"count": 0}


# ----------------------------------------------------------- issue 10 §1: the prediction side's row identifier

@pytest.mark.parametrize("mode, row_id, status, words", [
    ("already-configured", "event_id", 400, "Variable(s) with name ['event_id'] is/are already configured"),
    ("already-configured", "id2", 400, "only 1 row_identifier"),
    ("only-one", "event_id", 400, "only 1 row_identifier"),
    ("allowed", "event_id", 200, None),
])
def test_ground_truth_row_identifier_beside_the_prediction_one(monitor, model_id, mode, row_id, status, words):
    """The model (as an endpoint monitor) declares event_id; a ground-truth row identifier is refused as Domino's
    tutorial expects, unless the option says otherwise; the ground-truth variable alone joins on event_id."""
    monitor_options.update({"gt_row_identifier_beside_prediction_one": mode})
    monitor.upload("gt/day1.csv", LABELS.assign(id2=["x", "y", "z"]))
    path = f"/model/{model_id}/register-dataset/ground_truth"
    answer = monitor.put(path, {"variables": ground_truth_variables(row_id=row_id),
                                "datasetDetails": details("gt1", "gt/day1.csv")})
    assert answer.status_code == status, answer.json
    if words:
        assert words in answer.json["message"]
        alone = monitor.put(path, {"variables": ground_truth_variables(),
                                   "datasetDetails": details("gt1", "gt/day1.csv")})
        assert alone.status_code == 200, alone.json


def test_ground_truth_without_any_row_identifier_is_refused(monitor):
    config = model_config()
    config["variables"] = [v for v in config["variables"] if v["variableType"] != "row_identifier"]
    model_id = monitor.put("/model", config).json["id"]
    monitor.upload("gt/day1.csv", LABELS)
    path = f"/model/{model_id}/register-dataset/ground_truth"
    answer = monitor.put(path, {"variables": ground_truth_variables(), "datasetDetails": details("gt1", "gt/day1.csv")})
    assert answer.status_code == 400 and "row_identifier" in answer.json["message"]
    answer = monitor.put(path, {"variables": ground_truth_variables(row_id="event_id"),
                                "datasetDetails": details("gt1", "gt/day1.csv")})
    assert answer.status_code == 200, answer.json
def test_undocumented_fields_can_be_left_out_or_shaped_otherwise(monitor, model_id):
    """ingestionErrors[] and the traffic answer's shape are undocumented: options drop the one and reshape the other;
    the toolkit then reads no count (dmm.monitor.reported_traffic_count) instead of a wrong zero."""
    import time

    from dmm.monitor import reported_traffic_count

    now = int(time.time())
    window = {"model_ids": model_id, "start_date": now - 3600, "end_date": now + 3600}
    counts = monitor.client.get(f"{API}/model/get-prediction-traffic", headers=KEY, query_string=window).json
    assert reported_traffic_count(counts) == 0
    assert "ingestionErrors" in monitor.client.get(f"{API}/model", headers=KEY,
                                                   query_string={"model_id": model_id}).json
    monitor_options.update({"model_reports_ingestion_errors": False, "prediction_traffic_shape": "opaque"})
    opaque = monitor.client.get(f"{API}/model/get-prediction-traffic", headers=KEY, query_string=window).json
    assert reported_traffic_count(opaque) is None
    for path, query in (("/model", {"model_id": model_id}), ("/get_model_summary", {"model_id": model_id})):
        assert "ingestionErrors" not in monitor.client.get(f"{API}{path}", headers=KEY, query_string=query).json
