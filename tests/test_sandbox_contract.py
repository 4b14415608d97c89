"""Domino's own client libraries against a running sandbox, and the refusals the contract promises."""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
import requests

from sandbox.testing import PROJECT_ROOT

CLIENT_ENV_TO_CLEAR = ("DOMINO_API_PROXY", "DOMINO_TOKEN_FILE", "DOMINO_USER_HOST", "DOMINO_RUN_ID")


@pytest.fixture
def workspace_env(sandbox, monkeypatch):
    """The process environment a Domino workspace would have, pointed at the sandbox (clients read it per call)."""
    for name in CLIENT_ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    for name, value in sandbox.env.items():
        if name.startswith(("DOMINO_", "DMM_", "MLFLOW_")):
            monkeypatch.setenv(name, value)
    return sandbox


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"row_id": [1, 2, 3], "ts": pd.date_range("2024-01-01", periods=3, tz="UTC"),
                         "age": [31.0, 45.5, 27.0], "plan": ["basic", "pro", "basic"], "churned": ["no", "yes", "no"]})


def _create_version(name: str, df: pd.DataFrame | None = None, **kwargs):
    from domino.training_sets import TrainingSetClient, model

    return TrainingSetClient.create_training_set_version(
        training_set_name=name, df=_frame() if df is None else df, description="contract test",
        key_columns=["row_id"], target_columns=["churned"], exclude_columns=[],
        monitoring_meta=model.MonitoringMeta(timestamp_columns=["ts"], categorical_columns=["plan", "churned"],
                                             ordinal_columns=[]),
        meta=kwargs.pop("meta", {"owner": "tests"}), **kwargs)


def _post(sandbox, path: str, body, **kwargs) -> requests.Response:
    return requests.post(f"{sandbox.url}{path}", json=body, headers=sandbox.headers, timeout=30, **kwargs)


# ---------------------------------------------------------------------------------------------- training sets


def test_training_set_version_round_trip_with_domino_client(workspace_env):
    from domino.training_sets import TrainingSetClient

    created = _create_version("churn-roundtrip")
    assert created.pending is False and created.number == 1
    folder = Path(os.environ["DOMINO_TRAINING_SET_PATH"]) / created.container_path
    assert not Path(created.container_path).is_absolute()
    assert Path(created.path) == folder
    assert stat.S_IMODE(folder.stat().st_mode) == 0o555

    fetched = TrainingSetClient.get_training_set_version("churn-roundtrip", 1)
    assert (fetched.key_columns, fetched.target_columns) == (["row_id"], ["churned"])
    assert fetched.monitoring_meta.categorical_columns == ["plan", "churned"]
    assert fetched.all_columns == list(_frame().columns)
    pd.testing.assert_frame_equal(fetched.load_raw_pandas().reset_index(drop=True), _frame())
    assert "row_id" not in fetched.load_training_pandas().columns

    listed = TrainingSetClient.list_training_set_versions(training_set_name="churn-roundtrip")
    assert [version.number for version in listed] == [1]
    assert "churn-roundtrip" in [ts.name for ts in TrainingSetClient.list_training_sets()]

    training_set = TrainingSetClient.get_training_set("churn-roundtrip")
    training_set.meta = {"team": "risk"}
    assert TrainingSetClient.update_training_set(training_set).meta == {"team": "risk"}
    assert [ts.name for ts in TrainingSetClient.list_training_sets(meta={"team": "risk"})] == ["churn-roundtrip"]

    assert TrainingSetClient.delete_training_set_version("churn-roundtrip", 1)
    assert not folder.exists()
    assert TrainingSetClient.delete_training_set("churn-roundtrip")
    with pytest.raises(TrainingSetClient.ServerException) as refused:
        TrainingSetClient.get_training_set("churn-roundtrip")
    assert refused.value.server_msg and "not found" in refused.value.server_msg[0]


def test_versions_are_numbered_with_distinct_container_paths(workspace_env):
    from domino.training_sets import TrainingSetClient

    first, second = _create_version("churn-numbers"), _create_version("churn-numbers", meta={"run": "2"})
    assert (first.number, second.number) == (1, 2)
    assert first.container_path != second.container_path

    newest_first = TrainingSetClient.list_training_set_versions(training_set_name="churn-numbers", asc=False)
    assert [version.number for version in newest_first] == [2, 1]
    page = TrainingSetClient.list_training_set_versions(training_set_name="churn-numbers", offset=1, limit=1)
    assert [version.number for version in page] == [2]
    by_meta = TrainingSetClient.list_training_set_versions(meta={"run": "2"})
    assert [(version.training_set_name, version.number) for version in by_meta] == [("churn-numbers", 2)]

    with pytest.raises(TrainingSetClient.ServerException) as refused:
        TrainingSetClient.delete_training_set("churn-numbers")
    assert "version" in refused.value.server_msg[0]


VALID_CREATE = {"projectId": None, "keyColumns": ["id"], "targetColumns": ["y"], "excludeColumns": [],
                "allColumns": ["id", "x", "y"],
                "monitoringMeta": {"timestampColumns": [], "categoricalColumns": ["y"], "ordinalColumns": []},
                "meta": {}}


@pytest.mark.parametrize("change, status, fragment", [
    ({"keyColumns": None}, 400, "keyColumns"),
    ({"targetColumns": ["missing"]}, 400, "'missing'"),
    ({"monitoringMeta": {"timestampColumns": [], "categoricalColumns": ["nope"], "ordinalColumns": []}}, 400, "'nope'"),
    ({"monitoringMeta": {"timestampColumns": [], "categoricalColumns": []}}, 400, "ordinalColumns"),
    ({"meta": {"n": 1}}, 400, "meta"),
    ({"allColumns": []}, 400, "allColumns"),
    ({"projectId": "someone-elses-project"}, 404, "project"),
    ({"projectId": "DROP"}, 400, "projectId"),
])
def test_invalid_training_set_version_payloads_are_refused(sandbox, change, status, fragment):
    body = {**VALID_CREATE, "projectId": sandbox.env["DOMINO_PROJECT_ID"], **change}
    if change.get("keyColumns", "") is None:
        del body["keyColumns"]
    if change.get("projectId") == "DROP":
        del body["projectId"]
    response = _post(sandbox, "/trainingset/invalid-payloads", body)
    assert response.status_code == status
    errors = response.json()["errors"]
    assert isinstance(errors, list) and any(fragment in error for error in errors)
    assert requests.get(f"{sandbox.url}/trainingset/invalid-payloads", headers=sandbox.headers).status_code == 404


SET_FIELDS = {"id", "projectId", "name", "creationTime", "meta"}
VERSION_FIELDS = {"id", "trainingSetId", "trainingSetName", "number", "creationTime", "path", "containerPath",
                  "keyColumns", "targetColumns", "excludeColumns", "allColumns", "monitoringMeta", "meta", "pending"}


def test_all_nine_training_set_routes_answer_200_with_every_required_field(sandbox):
    project = sandbox.env["DOMINO_PROJECT_ID"]
    base = f"{sandbox.url}/trainingset"
    update = {key: VALID_CREATE[key] for key in ("keyColumns", "targetColumns", "excludeColumns", "monitoringMeta")}

    def call(method: str, path: str, body=None, fields=None, many: bool = False):
        response = requests.request(method, f"{base}{path}", json=body, headers=sandbox.headers, timeout=30)
        assert response.status_code == 200, (method, path, response.text)  # the client treats only 200 as success
        items = response.json() if many else [response.json()]
        for item in items if fields else []:
            assert fields <= set(item), (method, path, fields - set(item))
        return response.json()

    created = call("POST", "/all-nine", {**VALID_CREATE, "projectId": project}, VERSION_FIELDS)
    assert created["pending"] is True and isinstance(created["number"], int)
    call("GET", "/all-nine", fields=SET_FIELDS)
    call("PUT", "/all-nine", {"meta": {"team": "a"}, "description": "d"}, SET_FIELDS)
    assert call("POST", "/find", {"projectId": project, "meta": {"team": "a"}}, SET_FIELDS, many=True)
    call("GET", "/all-nine/1", fields=VERSION_FIELDS)
    assert call("PUT", "/all-nine/1", {**update, "meta": {}, "pending": False}, VERSION_FIELDS)["pending"] is False
    found = call("POST", "/version/find", {"projectId": project, "trainingSetMeta": {}, "meta": {},
                                           "trainingSetName": "all-nine"}, VERSION_FIELDS, many=True)
    assert [item["number"] for item in found] == [1]
    call("DELETE", "/all-nine/1")
    call("DELETE", "/all-nine")
    gone = requests.get(f"{base}/all-nine", headers=sandbox.headers, timeout=30)
    assert gone.status_code == 404 and gone.json()["errors"]


def test_deleting_a_training_set_with_versions_is_refused(sandbox):
    body = {**VALID_CREATE, "projectId": sandbox.env["DOMINO_PROJECT_ID"]}
    assert _post(sandbox, "/trainingset/keeps-versions", body).status_code == 200
    refused = requests.delete(f"{sandbox.url}/trainingset/keeps-versions", headers=sandbox.headers, timeout=30)
    assert refused.status_code == 409 and refused.json()["errors"]
    assert requests.get(f"{sandbox.url}/trainingset/keeps-versions/1", headers=sandbox.headers).status_code == 200


@pytest.mark.parametrize("name", ["bad name", "dotted.name", "slash%2Fname", "caf%C3%A9"])
def test_training_set_names_outside_the_client_rule_are_refused(sandbox, name):
    body = {**VALID_CREATE, "projectId": sandbox.env["DOMINO_PROJECT_ID"]}
    response = _post(sandbox, f"/trainingset/{name}", body)
    assert response.status_code in (400, 404) and response.json()["errors"]


def test_training_set_name_rule_unknown_names_and_bad_updates(sandbox):
    body = {**VALID_CREATE, "projectId": sandbox.env["DOMINO_PROJECT_ID"]}
    assert _post(sandbox, "/trainingset/bad%20name!", body).status_code == 400
    missing = requests.get(f"{sandbox.url}/trainingset/never-made/1", headers=sandbox.headers)
    assert missing.status_code == 404 and missing.json()["errors"]

    assert _post(sandbox, "/trainingset/strict-updates", body).status_code == 200
    update = {key: body[key] for key in ("keyColumns", "targetColumns", "excludeColumns", "monitoringMeta", "meta")}
    bad_pending = requests.put(f"{sandbox.url}/trainingset/strict-updates/1", json={**update, "pending": "no"},
                               headers=sandbox.headers)
    assert bad_pending.status_code == 400 and "pending" in bad_pending.json()["errors"][0]
    unknown_column = requests.put(f"{sandbox.url}/trainingset/strict-updates/1",
                                  json={**update, "excludeColumns": ["z"], "pending": False}, headers=sandbox.headers)
    assert unknown_column.status_code == 400
    still = requests.get(f"{sandbox.url}/trainingset/strict-updates/1", headers=sandbox.headers).json()
    assert still["pending"] is True and still["excludeColumns"] == []
    bad_paging = requests.post(f"{sandbox.url}/trainingset/find?limit=x", json={"projectId": None},
                               headers=sandbox.headers)
    assert bad_paging.status_code == 400


# ---------------------------------------------------------------------------------------------- data sources


def test_object_store_round_trip_with_domino_client(workspace_env, tmp_path):
    from domino_data.data_sources import DataSourceClient

    answer = workspace_env.admin("create-datasource", name="gt-roundtrip", type="s3")
    assert answer["created"] is True and answer["dataSourceType"] == "S3Config"
    assert workspace_env.admin("create-datasource", name="gt-roundtrip", type="s3")["created"] is False

    store = DataSourceClient().get_datasource("gt-roundtrip")
    assert store.datasource_type == "S3Config" and store.name == "gt-roundtrip"
    store.upload_fileobj("ground_truth/day1.csv", io.BytesIO(b"event_id,churned\ne1,yes\n"))
    local = tmp_path / "day2.csv"
    local.write_bytes(b"event_id,churned\ne2,no\n")
    store.upload_file("ground_truth/day2.csv", str(local))
    store.put("other/readme.txt", b"x")

    assert [obj.key for obj in store.list_objects("ground_truth/")] == ["ground_truth/day1.csv",
                                                                          "ground_truth/day2.csv"]
    assert len(store.list_objects()) == 3
    assert store.get("ground_truth/day1.csv") == b"event_id,churned\ne1,yes\n"
    buffer = io.BytesIO()
    store.download_fileobj("ground_truth/day2.csv", buffer)
    assert buffer.getvalue() == b"event_id,churned\ne2,no\n"
    store.download("ground_truth/day1.csv", str(tmp_path / "ranged.csv"))
    assert (tmp_path / "ranged.csv").read_bytes() == b"event_id,churned\ne1,yes\n"


def test_unknown_data_source_gives_a_clear_exception(workspace_env):
    from domino_data.data_sources import DataSourceClient

    with pytest.raises(Exception, match="'no-such-store' was not found"):
        DataSourceClient().get_datasource("no-such-store")


def test_signed_urls_are_checked(sandbox):
    sandbox.admin("create-datasource", name="gt-signed", type="s3")
    source = requests.get(f"{sandbox.url}/v4/datasource/name/gt-signed", headers=sandbox.headers).json()
    read_url = _post(sandbox, "/objectstore/key",
                     {"datasourceId": source["id"], "objectKey": "a/b.csv", "isReadWrite": False}).json()
    write_url = _post(sandbox, "/objectstore/key",
                      {"datasourceId": source["id"], "objectKey": "a/b.csv", "isReadWrite": True}).json()
    assert requests.put(read_url, data=b"x").status_code == 403
    assert requests.get(read_url).status_code == 404
    assert requests.put(write_url, data=b"data").status_code == 200
    assert requests.get(read_url).content == b"data"
    assert requests.get(read_url.replace("signature=", "signature=0")).status_code == 403
    assert requests.get(read_url.split("?")[0]).status_code == 403
    escape = _post(sandbox, "/objectstore/key",
                   {"datasourceId": source["id"], "objectKey": "../../state.json", "isReadWrite": False})
    assert escape.status_code == 400 and escape.json()["errorType"]
    unknown = _post(sandbox, "/objectstore/list", {"datasourceId": "nope", "prefix": ""})
    assert unknown.status_code == 400 and "not found" in unknown.json()["rawError"]


def test_signed_url_signatures_stay_out_of_the_log(sandbox):
    sandbox.admin("create-datasource", name="gt-logged", type="s3")
    source = requests.get(f"{sandbox.url}/v4/datasource/name/gt-logged", headers=sandbox.headers).json()
    url = _post(sandbox, "/objectstore/key",
                {"datasourceId": source["id"], "objectKey": "logged.csv", "isReadWrite": True}).json()
    assert requests.put(url, data=b"x").status_code == 200
    signature = url.split("signature=")[1]
    log = sandbox.state_dir / "sandbox.log"
    deadline = time.monotonic() + 10  # the server writes its access line after answering
    while f"/objects/{source['id']}/logged.csv" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    text = log.read_text()
    assert "signature=***" in text and signature not in text


# ---------------------------------------------------------------------------------------------- custom metrics


def _domino(sandbox):
    import domino

    return domino.Domino(f"{sandbox.env['DOMINO_PROJECT_OWNER']}/{sandbox.env['DOMINO_PROJECT_NAME']}",
                         api_key=sandbox.api_key, host=sandbox.url)


def _window(now: datetime) -> tuple[str, str]:
    return (now - timedelta(days=1)).isoformat(), (now + timedelta(days=1)).isoformat()


def test_custom_metrics_log_read_and_alert_with_python_domino(sandbox):
    from domino._impl.custommetrics.model.metric_values_envelope_v1 import MetricValuesEnvelopeV1

    client = _domino(sandbox).custom_metrics_client()
    now = datetime.now(timezone.utc)
    client.log_metric("dmm-model-1", "accuracy", 0.91, now.isoformat(), {"window": "daily"})
    client.log_metrics([{"modelMonitoringId": "dmm-model-1", "metric": "accuracy", "value": 0.85,
                         "timestamp": (now - timedelta(hours=2)).isoformat()},
                        {"modelMonitoringId": "dmm-model-1", "metric": "accuracy", "value": 0.5,
                         "timestamp": (now - timedelta(days=3)).isoformat()}])
    start, end = _window(now)
    raw = requests.get(f"{sandbox.url}/api/metricValues/v1/dmm-model-1/accuracy", headers=sandbox.headers,
                       params={"startingReferenceTimestampInclusive": start,
                               "endingReferenceTimestampInclusive": end}).json()
    MetricValuesEnvelopeV1.from_openapi_data_oapg(raw)  # the generated schema's required fields are all there
    assert [item["value"] for item in raw["metricValues"]] == [0.85, 0.91]
    assert raw["metricValues"][1]["tags"] == [{"key": "window", "value": "daily"}]

    fallback = _domino(sandbox)
    fallback._CUSTOM_METRICS_USE_GEN = False  # python-domino's hand-rolled client; see the xfail below
    read = fallback.custom_metrics_client().read_metrics("dmm-model-1", "accuracy", start, end)
    assert [(item["value"], item["tags"]) for item in read["metricValues"]] == [(0.85, {}), (0.91, {"window": "daily"})]

    client.trigger_alert("dmm-model-1", "accuracy", 0.5, condition=client.BETWEEN, lower_limit=0.8,
                         upper_limit=1.0, description="accuracy dropped")


@pytest.mark.xfail(raises=AttributeError, strict=True,
                   reason="python-domino 2.2.0's generated read_metrics reads `.metadata` from a dynamically "
                          "made class whose __annotations__ are empty on Python >= 3.10; no server answer helps")
def test_generated_read_metrics_client_bug(sandbox):
    now = datetime.now(timezone.utc)
    _domino(sandbox).custom_metrics_client().read_metrics("dmm-model-1", "accuracy", *_window(now))


@pytest.mark.parametrize("body, fragment", [
    ({"newMetricValues": []}, "newMetricValues"),
    ({"newMetricValues": [{"modelMonitoringId": "m", "metric": "a", "value": "high",
                           "referenceTimestamp": "2024-01-01T00:00:00Z"}]}, "value"),
    ({"newMetricValues": [{"modelMonitoringId": "m", "metric": "a", "value": 1,
                           "referenceTimestamp": "2024-01-01T00:00:00"}]}, "referenceTimestamp"),
    ({"newMetricValues": [{"metric": "a", "value": 1, "referenceTimestamp": "2024-01-01T00:00:00Z"}]},
     "modelMonitoringId"),
    ({"newMetricValues": [{"modelMonitoringId": "m", "metric": "a", "value": 1,
                           "referenceTimestamp": "2024-01-01T00:00:00Z", "tags": {"k": "v"}}]}, "tags"),
])
def test_invalid_metric_values_are_refused(sandbox, body, fragment):
    response = _post(sandbox, "/api/metricValues/v1", body)
    assert response.status_code == 400
    assert any(fragment in error for error in response.json()["errors"])


@pytest.mark.parametrize("value, timestamp, fragment", [
    ("NaN", '"2024-01-01T00:00:00Z"', "value"),
    ("Infinity", '"2024-01-01T00:00:00Z"', "value"),
    ("true", '"2024-01-01T00:00:00Z"', "value"),
    ("1", '"20240101T000000Z"', "referenceTimestamp"),
    ("1", '"2024-01-01 00:00:00+00:00"', "referenceTimestamp"),
    ("1", '"2024-01-01T00:00Z"', "referenceTimestamp"),
    ("1", '"2024-01-01"', "referenceTimestamp"),
    ("1", "1704067200", "referenceTimestamp"),
])
def test_metric_values_must_be_finite_numbers_at_rfc_3339_times(sandbox, value, timestamp, fragment):
    raw = (f'{{"newMetricValues": [{{"modelMonitoringId": "m", "metric": "strict", "value": {value}, '
           f'"referenceTimestamp": {timestamp}}}]}}')
    response = requests.post(f"{sandbox.url}/api/metricValues/v1", data=raw, timeout=30,
                             headers={**sandbox.headers, "Content-Type": "application/json"})
    assert response.status_code == 400
    body = response.json()
    assert body["requestId"] and any(fragment in error for error in body["errors"])


@pytest.mark.parametrize("timestamp", ["2024-01-01T00:00:00Z", "2024-01-01T00:00:00.123456+02:00",
                                       "2024-01-01t00:00:00z"])
def test_metric_values_at_rfc_3339_times_are_logged_with_201(sandbox, timestamp):
    body = {"newMetricValues": [{"modelMonitoringId": "m", "metric": "rfc", "value": 1,
                                 "referenceTimestamp": timestamp}]}
    assert _post(sandbox, "/api/metricValues/v1", body).status_code == 201


def test_metric_reads_need_both_bounds_and_alerts_a_valid_condition(sandbox):
    one_bound = requests.get(f"{sandbox.url}/api/metricValues/v1/m/a", headers=sandbox.headers,
                             params={"startingReferenceTimestampInclusive": "2024-01-01T00:00:00Z"})
    assert one_bound.status_code == 400 and "endingReferenceTimestampInclusive" in one_bound.json()["errors"][0]
    base = {"modelMonitoringId": "m", "metric": "a", "value": 1}
    for target in (None, {"condition": "around"}, {"condition": "between", "lowerLimit": 2, "upperLimit": 1}):
        response = _post(sandbox, "/api/metricAlerts/v1", {**base, "targetRange": target})
        assert response.status_code == 400 and response.json()["errors"], target
    assert _post(sandbox, "/api/metricAlerts/v1", {**base, "targetRange": {"condition": "lessThan",
                                                                          "upperLimit": 0.5}}).status_code == 200


# ---------------------------------------------------------------------------------------------- auth


@pytest.mark.parametrize("method, path", [
    ("GET", "/version"),
    ("GET", "/v4/gateway/projects/findProjectByOwnerAndName?ownerName=a&projectName=b"),
    ("GET", "/trainingset/anything"),
    ("POST", "/trainingset/find"),
    ("GET", "/v4/datasource/name/anything"),
    ("POST", "/objectstore/list"),
    ("POST", "/objectstore/key"),
    ("POST", "/api/metricValues/v1"),
    ("GET", "/api/metricValues/v1/m/a"),
    ("POST", "/api/metricAlerts/v1"),
    ("GET", "/sandbox/status"),
    ("POST", "/sandbox/create-datasource"),
    ("POST", "/sandbox/faults"),
])
@pytest.mark.parametrize("headers", [{}, {"X-Domino-Api-Key": "wrong-key"}, {"Authorization": "Bearer wrong"}])
def test_every_group_answers_401_without_a_valid_key(sandbox, method, path, headers):
    response = requests.request(method, f"{sandbox.url}{path}", json={}, headers=headers, timeout=30)
    assert response.status_code == 401
    assert response.json()["errors"]


def test_bearer_token_and_public_health(sandbox):
    assert requests.get(f"{sandbox.url}/health").status_code == 200
    bearer = {"Authorization": f"Bearer {sandbox.api_key}"}
    assert requests.get(f"{sandbox.url}/version", headers=bearer).json()["version"] >= "5.3.1"
    token = requests.get(f"{sandbox.url}/access-token", headers=sandbox.headers)
    assert token.status_code == 200 and token.text == sandbox.api_key
    project = requests.get(f"{sandbox.url}/v4/gateway/projects/findProjectByOwnerAndName", headers=bearer,
                           params={"ownerName": sandbox.env["DOMINO_PROJECT_OWNER"],
                                   "projectName": sandbox.env["DOMINO_PROJECT_NAME"]})
    assert project.json()["id"] == sandbox.env["DOMINO_PROJECT_ID"]


# ---------------------------------------------------------------------------------------------- lifecycle


def test_state_survives_a_restart(sandbox_factory, monkeypatch):
    from domino.training_sets import TrainingSetClient
    from domino_data.data_sources import DataSourceClient

    isolated = sandbox_factory()
    for name, value in isolated.env.items():
        if name.startswith("DOMINO_"):
            monkeypatch.setenv(name, value)
    for name in CLIENT_ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    _create_version("survivor")
    isolated.admin("create-datasource", name="gt-survivor", type="s3")
    DataSourceClient().get_datasource("gt-survivor").put("kept.csv", b"kept")

    isolated.restart()

    assert TrainingSetClient.get_training_set_version("survivor", 1).pending is False
    assert _create_version("survivor").number == 2
    assert DataSourceClient().get_datasource("gt-survivor").get("kept.csv") == b"kept"
    assert isolated.admin("status")["counts"]["training_set_versions"] == 2


def test_faults_per_group_at_start_and_at_run_time(sandbox_factory):
    isolated = sandbox_factory(extra_args=["--fault", "trainingset:1:0", "--seed", "7"])
    failing = requests.get(f"{isolated.url}/trainingset/x", headers=isolated.headers)
    assert failing.status_code == 503 and failing.json()["errors"]
    assert requests.get(f"{isolated.url}/version", headers=isolated.headers).status_code == 200

    answer = isolated.admin("faults", trainingset={"failRate": 0, "latencyMs": 0}, metrics={"failRate": 1})
    assert answer["faults"]["metrics"]["failRate"] == 1
    assert requests.get(f"{isolated.url}/trainingset/x", headers=isolated.headers).status_code == 404
    assert _post(isolated, "/api/metricAlerts/v1", {}).status_code == 503
    with pytest.raises(requests.HTTPError):
        isolated.admin("faults", metrics={"failRate": 2})


def _cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sandbox", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=60, env=env)


@pytest.mark.parametrize("host, allowed", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                           ("0.0.0.0", False), ("::", False), ("192.168.1.10", False),
                                           ("example.com", False)])
def test_only_loopback_addresses_are_accepted(host, allowed):
    from dmm.errors import UsageError
    from sandbox import server

    if allowed:
        server.check_loopback(host)
    else:
        with pytest.raises(UsageError):
            server.check_loopback(host)


def test_running_sandbox_listens_on_127_0_0_1(sandbox):
    from urllib.parse import urlparse

    assert urlparse(sandbox.url).hostname == "127.0.0.1"


def test_cli_refuses_non_loopback_hosts_and_runs_admin_verbs(sandbox, tmp_path):
    refused = _cli("serve", "--state", str(tmp_path), "--host", "0.0.0.0")
    assert refused.returncode == 2 and "loopback" in refused.stderr and "Traceback" not in refused.stderr

    made = _cli("create-datasource", "--state", str(sandbox.state_dir), "--name", "gt-cli", "--type", "s3")
    assert made.returncode == 0 and json.loads(made.stdout)["name"] == "gt-cli"
    bad = _cli("create-datasource", "--state", str(sandbox.state_dir), "--json", '{"name": "x y"}')
    assert bad.returncode == 3 and "bad data source name" in bad.stderr
    env = _cli("env", "--state", str(sandbox.state_dir))
    assert f"export DMM_SANDBOX_URL={sandbox.url}\n" in env.stdout


HOOK_SCRIPT = """
import sys
from pathlib import Path
import sandbox.app
from sandbox import server
from sandbox.settings import SandboxSettings

original = sandbox.app.create_app
def create_app(state, settings):
    app = original(state, settings)
    app.config["SHUTDOWN_HOOKS"].append(lambda: Path(sys.argv[1], "hook-ran").write_text("yes"))
    return app
sandbox.app.create_app = create_app
server.serve(Path(sys.argv[1]), SandboxSettings(), port=int(sys.argv[2]))
"""


def test_sigterm_runs_shutdown_hooks_and_removes_the_pid_file(tmp_path):
    port = __import__("sandbox.server", fromlist=["free_port"]).free_port()
    process = subprocess.Popen([sys.executable, "-c", HOOK_SCRIPT, str(tmp_path), str(port)], cwd=PROJECT_ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "sandbox.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert (tmp_path / "hook-ran").read_text() == "yes"
    assert not (tmp_path / "sandbox.pid").exists()


def test_prediction_data_is_where_a_workspace_mounts_it(tmp_path):
    """The toolkit finds the sandbox's prediction_data through $DOMINO_DATASETS_DIR alone, as in Domino."""
    from dmm.prediction_files import default_roots, resolve_prediction_dir
    from sandbox.server import exported_env
    from sandbox.settings import SandboxSettings
    from sandbox.state import SandboxState

    state = SandboxState(tmp_path / "state")
    env = exported_env(state.root, "http://127.0.0.1:8765", SandboxSettings())
    assert Path(env["DOMINO_DATASETS_DIR"]) == state.datasets_dir
    (state.prediction_data_dir / "version-1").mkdir()
    assert resolve_prediction_dir(None, "version-1", default_roots(env)) == state.prediction_data_dir / "version-1"
