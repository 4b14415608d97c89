"""dmm.monitor.ModelMonitorClient against a mocked Model Monitor (responses)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import responses
from responses import matchers

from dmm.errors import ApiError, AuthError, ConflictError, NotFoundError, UsageError
from dmm.http import build_retry, make_session
from dmm.monitor import ModelMonitorClient, model_id_from, scheduler_base_url

API = "https://domino.example.com/model-monitor/v2/api"
SCHEDULER = "https://domino.example.com/model-monitor/api/scheduler"
KEY = "secret-api-key-0123456789"


@pytest.fixture
def client():
    return ModelMonitorClient(API, KEY, timeout=5, session=make_session(retry=build_retry(total=0)))


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def key_header():
    return matchers.header_matcher({"X-Domino-Api-Key": KEY})


def test_scheduler_base_replaces_v2_api():
    assert scheduler_base_url(API) == SCHEDULER
    assert scheduler_base_url(API + "/") == SCHEDULER


def test_get_model_uses_snake_case_model_id_and_the_key(client, mocked):
    mocked.get(f"{API}/model", json={"id": "m1", "name": "churn"},
               match=[matchers.query_param_matcher({"model_id": "m1"}), key_header()])
    assert client.get_model("m1") == {"id": "m1", "name": "churn"}


def test_get_model_404_advises_on_the_model_id(client, mocked):
    mocked.get(f"{API}/model", status=404, json={"message": "Model not found"})
    with pytest.raises(NotFoundError) as caught:
        client.get_model("m-missing")
    text = str(caught.value)
    assert "HTTP 404" in text and "Model not found" in text
    assert "model_monitor.model_id" in text and "m-missing" in text


def test_401_advises_on_the_api_key_without_revealing_it(client, mocked):
    mocked.get(f"{API}/model", status=401, json={"message": f"bad key {KEY}"})
    with pytest.raises(AuthError) as caught:
        client.get_model("m1")
    text = str(caught.value) + caught.value.server_message + caught.value.url
    assert "DOMINO_USER_API_KEY" in text and "API Key" in text
    assert KEY not in text


def test_delete_model_409_says_to_stop_the_endpoint(client, mocked):
    mocked.delete(f"{API}/model", status=409, json={"message": "source endpoint running"},
                  match=[matchers.query_param_matcher({"model_id": "m1"})])
    with pytest.raises(ConflictError, match="Stop the endpoint version"):
        client.delete_model("m1")


def test_list_models_pages_until_a_short_page(client, mocked):
    page1 = {"modelDashboardItems": [{"id": "a"}, {"id": "b"}]}
    page2 = {"modelDashboardItems": [{"id": "c"}]}
    mocked.get(f"{API}/models", json=page1, match=[matchers.query_param_matcher(
        {"pageNumber": "0", "pageSize": "2", "numberOfLastChecksToFetch": "1"})])
    mocked.get(f"{API}/models", json=page2, match=[matchers.query_param_matcher(
        {"pageNumber": "1", "pageSize": "2", "numberOfLastChecksToFetch": "1"})])
    assert [m["id"] for m in client.list_models(page_size=2)] == ["a", "b", "c"]


def test_list_models_reads_from_page_1_where_page_0_is_refused(client, mocked):
    mocked.get(f"{API}/models", status=400, json={"message": "pageNumber must be >= 1"},
               match=[matchers.query_param_matcher(
                   {"pageNumber": "0", "pageSize": "2", "numberOfLastChecksToFetch": "1"})])
    mocked.get(f"{API}/models", json={"modelDashboardItems": [{"id": "a"}]}, match=[matchers.query_param_matcher(
        {"pageNumber": "1", "pageSize": "2", "numberOfLastChecksToFetch": "1"})])
    assert [m["id"] for m in client.list_models(page_size=2)] == ["a"]


def test_register_model_and_id_from_either_key(client, mocked):
    config = {"variables": [], "datasetDetails": {}, "modelMetadata": {"name": "m"}}
    mocked.put(f"{API}/model", json={"modelId": "new-1"}, match=[matchers.json_params_matcher(config)])
    assert model_id_from(client.register_model(config)) == "new-1"
    assert model_id_from({"id": "x"}) == "x"
    with pytest.raises(ApiError, match="no model id"):
        model_id_from({"name": "m"})


def test_variables_summary_path(client, mocked):
    variables = [{"name": "x", "variableType": "feature", "valueType": "numerical"}]
    mocked.get(f"{API}/model/m1/variables/summary", json=variables)
    assert client.variables("m1") == variables


def test_datasource_named_finds_the_record_or_none(client, mocked):
    mocked.get(f"{API}/datasources", json=[{"name": "other", "type": "s3"}, {"name": "gt", "type": "generic_s3"}])
    assert client.datasource_named("gt") == {"name": "gt", "type": "generic_s3"}
    assert client.datasource_named("missing") is None


def test_register_dataset_paths_and_kind_check(client, mocked):
    payload = {"datasetDetails": {"name": "gt-1"}}
    mocked.put(f"{API}/model/m1/register-dataset/ground_truth", json={"ok": True},
               match=[matchers.json_params_matcher(payload)])
    assert client.register_dataset("m1", "ground_truth", payload) == {"ok": True}
    with pytest.raises(UsageError):
        client.register_dataset("m1", "labels", payload)  # type: ignore[arg-type]


def test_register_dataset_400_keeps_the_server_message(client, mocked):
    mocked.put(f"{API}/model/m1/register-dataset/ground_truth", status=400,
               json={"message": "Variable(s) with name [y] is/are already configured"})
    with pytest.raises(ApiError) as caught:
        client.register_dataset("m1", "ground_truth", {})
    assert caught.value.status == 400 and "already configured" in caught.value.server_message


def test_traffic_query_parameters(client, mocked):
    start = datetime(2024, 5, 1, tzinfo=timezone.utc)
    end = datetime(2024, 5, 2, tzinfo=timezone.utc)
    mocked.get(f"{API}/model/get-prediction-traffic", json={"m1": []}, match=[matchers.query_param_matcher(
        {"model_ids": "m1", "start_date": str(int(start.timestamp())), "end_date": str(int(end.timestamp()))})])
    mocked.get(f"{API}/model/m1/traffic/ground-truth", json={}, match=[matchers.query_param_matcher(
        {"startTimestamp": "100", "endTimestamp": "200"})])
    assert client.prediction_traffic("m1", start, end) == {"m1": []}
    assert client.ground_truth_traffic("m1", 100, 200) == {}


def test_a_window_end_inside_a_second_is_rounded_up(client, mocked):
    """Model Monitor takes whole seconds: a prediction made in the window's last second (step 6 right after step 4)
    stays inside [start, end) when the end is rounded up and the start down."""
    start = datetime(2024, 5, 1, 0, 0, 0, 700000, tzinfo=timezone.utc)
    end = datetime(2024, 5, 2, 0, 0, 30, 400000, tzinfo=timezone.utc)
    mocked.get(f"{API}/model/get-prediction-traffic", json=[], match=[matchers.query_param_matcher(
        {"model_ids": "m1", "start_date": str(int(start.timestamp())), "end_date": str(int(end.timestamp()) + 1)})])
    assert client.prediction_traffic("m1", start, end) == []


def test_analyses_and_scheduler_paths(client, mocked):
    body = {"pagination": {"sortOrder": 1, "sortOn": "column_name"}}
    mocked.post(f"{API}/model/m1/analyse-drift", json={"ok": 1}, match=[matchers.json_params_matcher(body)])
    mocked.post(f"{API}/model/m1/analyze-model-quality", json={"ok": 2})
    mocked.get(f"{API}/model/m1/drift-scheduler-query", json={"features": []})
    mocked.post(f"{API}/model/m1/save-scheduler-query", json=True,
                match=[matchers.json_params_matcher({"config": [{"name": "x"}]})])
    mocked.post(f"{SCHEDULER}/create_drift_schedule_check", json={"id": "job"}, match=[key_header()])
    assert client.analyse_drift("m1", body) == {"ok": 1}
    assert client.analyze_model_quality("m1", {}) == {"ok": 2}
    assert client.drift_scheduler_query("m1") == {"features": []}
    assert client.save_scheduler_query("m1", [{"name": "x"}]) is True
    assert client.create_drift_schedule("m1", "daily") == {"id": "job"}
    sent = json.loads(mocked.calls[-1].request.body)
    assert sent["modelId"] == "m1" and sent["calendarType"] == "D" and sent["data_since"] == 1


def test_unreachable_monitor_is_a_plain_api_error(client, mocked):
    from requests.exceptions import ConnectionError as RequestsConnectionError
    mocked.get(f"{API}/datasources", body=RequestsConnectionError("refused"))
    with pytest.raises(ApiError) as caught:
        client.list_datasources()
    assert "Could not reach Domino Model Monitor" in str(caught.value)
    assert KEY not in str(caught.value)


@pytest.mark.parametrize(("answer", "count"), [
    ([{"modelId": "m", "totalQueries": 7, "traffic": [{"timestamp": 1, "queries": 7}]}], 7),
    ({"traffic": [{"timestamp": 1, "queries": 2}, {"timestamp": 2, "queries": 3}]}, 5),
    ([], 0),
    (None, None),
    ({"id": "m", "series": [{"t": 1, "v": 5}]}, None),
    ({"id": "m", "series": []}, None),
    ([{"id": "m"}], None),
])
def test_reported_traffic_count_is_none_for_shapes_naming_no_count(answer, count):
    from dmm.monitor import reported_traffic_count

    assert reported_traffic_count(answer) == count
