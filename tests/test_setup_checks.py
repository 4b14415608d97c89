"""dmm.setup_checks: each live check returns ok/message/fix instead of raising."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import responses

from dmm.errors import ApiError, AuthError
from dmm.http import build_retry, make_session
from dmm.monitor import ModelMonitorClient
from dmm.schema import Feature, MonitoringSchema
from dmm.setup_checks import check_datasource, check_domino, check_model_api

BASE = "https://domino.example.com"
API = f"{BASE}/model-monitor/v2/api"
KEY = "checks-api-key-0123456789"
SCHEMA = MonitoringSchema("ts", 1, "regression", "price", (Feature("area", "numerical", "float64", 50.0),))


def session():
    return make_session(retry=build_retry(total=0))


@responses.activate
def test_key_refused_by_model_monitor_fails_even_when_version_is_public():
    responses.get(f"{BASE}/version", json={"version": "6.0.0"})
    responses.get(f"{API}/model", status=401, json={"message": "no"})
    result = check_domino(BASE, KEY, API, api_key_env="MY_KEY", env={}, session=session())
    assert not result.ok and "refused the user API key from $MY_KEY" in result.detail and result.exit_code == 2
    assert "MY_KEY" in result.fix
    assert KEY not in result.sentence()


@responses.activate
def test_the_identity_check_uses_the_users_own_model_route_not_a_listing():
    responses.get(f"{BASE}/version", json={"version": "6.0.0"})
    responses.get(f"{API}/model", json={"id": "m1"})
    result = check_domino(BASE, KEY, API, env={}, session=session(), model_id="m1")
    assert result.ok
    assert responses.calls[1].request.params == {"model_id": "m1"}
    assert responses.calls[1].request.headers["X-Domino-Api-Key"] == KEY


@responses.activate
def test_a_403_is_an_identity_that_may_not_not_a_bad_key():
    responses.get(f"{BASE}/version", json={"version": "6.0.0"})
    responses.get(f"{API}/model", status=403, json={"message": "Forbidden"})
    result = check_domino(BASE, KEY, API, env={}, session=session(), model_id="m1")
    assert not result.ok
    assert "may not read model m1" in result.detail and "refused" not in result.detail
    assert "access" in result.fix


@responses.activate
def test_dmms_own_not_found_answer_still_proves_the_identity():
    responses.get(f"{BASE}/version", json={"version": "6.0.0"})
    responses.get(f"{API}/model", status=404, json={"errors": ["Model x not found"]})
    result = check_domino(BASE, KEY, API, env={}, session=session())
    assert result.ok and "accepts the user API key" in result.detail


@responses.activate
def test_a_bearer_token_is_sent_and_named_never_shown():
    from dmm.auth import resolve

    token = "service-account-token-0123456789"
    credentials = resolve("auto", token_env="SA_TOKEN", env={"SA_TOKEN": token})
    responses.get(f"{BASE}/version", json={"version": "6.0.0"})
    responses.get(f"{API}/model", status=401, json={"message": "expired"})
    result = check_domino(BASE, credentials, API, env={}, session=session())
    assert responses.calls[1].request.headers["Authorization"] == f"Bearer {token}"
    assert not result.ok and "an access token from $SA_TOKEN" in result.detail
    assert token not in result.sentence()


@responses.activate
def test_a_host_that_is_not_domino_fails():
    responses.get(f"{BASE}/version", body="<html>hello</html>")
    result = check_domino(BASE, KEY, API, env={}, session=session())
    assert not result.ok and "does not look like Domino" in result.detail


@responses.activate
def test_monitor_missing_on_an_internal_host_says_to_use_the_external_url():
    internal = "http://nucleus-frontend.domino-platform:80"
    responses.get(f"{internal}/version", json={"version": "6.0.0"})
    responses.get(f"{internal}/model-monitor/v2/api/model", status=404, body="<html>Not Found</html>",
                  content_type="text/html")
    result = check_domino(internal, KEY, f"{internal}/model-monitor/v2/api", env={}, session=session())
    assert not result.ok and "Model Monitor does not answer" in result.detail
    assert "internal address" in result.fix and "address bar" in result.fix


@responses.activate
def test_domino_check_passes_and_reports_the_version():
    responses.get(f"{BASE}/version", json={"version": "6.0.0"})
    responses.get(f"{API}/model", json={"id": "m1"})
    result = check_domino(BASE, KEY, API, env={}, session=session(), model_id="m1")
    assert result.ok and "6.0.0" in result.detail
    assert result.facts["auth_method"] == "api-key"


def test_model_api_check_needs_the_token_and_names_its_variable():
    result = check_model_api("https://x/models/1/latest/model", "", SCHEMA, token_env="TOKEN_VAR")
    assert not result.ok and "TOKEN_VAR" in result.detail


def test_model_api_check_sends_the_schema_sample_row():
    sent = []

    class FakeClient:
        def __init__(self, url, token, timeout):
            self.token = token

        def predict(self, row):
            sent.append(row)
            return SimpleNamespace(event_id="ev-9", result={"price": 1.0})

    result = check_model_api("https://x/models/1/latest/model", "tok-1234", SCHEMA, client_factory=FakeClient)
    assert result.ok and result.facts["event_id"] == "ev-9"
    (row,) = sent
    assert row.pop("event_id").startswith("dmm-probe-") and row == {"area": 50.0}


def test_model_api_check_turns_a_refused_token_into_advice():
    class Refusing:
        def __init__(self, *args):
            pass

        def predict(self, row):
            raise AuthError("Calling the Model API failed with HTTP 401", "x", status=401)

    result = check_model_api("https://x/m", "tok-1234", SCHEMA, token_env="TOK", client_factory=Refusing)
    assert not result.ok and "TOK" in result.detail and "Access" in result.fix


@responses.activate
def test_datasource_check_reports_a_domino_client_that_cannot_start():
    class Unreachable:
        def exists(self, name):
            raise ApiError("Domino's data source client could not start (x)", "Run this in a Domino workspace")

    client = ModelMonitorClient(API, KEY, session=session())
    result = check_datasource("gt", Unreachable(), client)
    assert not result.ok and "could not start" in result.detail and result.exit_code == 3
    assert len(responses.calls) == 0


@pytest.mark.parametrize("dmm_names,ok", [(["gt"], True), (["other"], False)])
@responses.activate
def test_datasource_check_needs_the_same_name_in_model_monitor(dmm_names, ok):
    responses.get(f"{API}/datasources", json=[{"name": name, "type": "s3"} for name in dmm_names])
    client = ModelMonitorClient(API, KEY, session=session())
    result = check_datasource("gt", SimpleNamespace(exists=lambda name: True), client)
    assert result.ok is ok
    if ok:
        assert result.facts["record"]["name"] == "gt"
    else:
        assert "Monitoring Data Sources" in result.fix
