"""ModelApiClient: Basic auth with the token, {"data": ...} body, retries, and the event_id it must get back."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest
import requests
import requests.adapters
import responses

from dmm.errors import ApiError, AuthError
from dmm.model_api import ModelApiClient

URL = "https://domino.example.com/models/abc123/latest/model"
TOKEN = "model-token-0123456789"


def envelope(result, request_id="REQ0000000000001"):
    return {"model_time_in_ms": 3, "release": {"harness_version": "0.1"}, "request_id": request_id, "result": result}


def fast_client(**kwargs) -> ModelApiClient:
    client = ModelApiClient(URL, TOKEN, timeout=5, **kwargs)
    for adapter in client.api.session.adapters.values():
        adapter.policy = dataclasses.replace(adapter.policy, backoff=0, jitter=0)  # keep the retry tests fast
    return client


@responses.activate
def test_predict_sends_basic_auth_and_the_data_envelope():
    responses.post(URL, json=envelope({"churned": "yes", "event_id": "ev-1"}))
    prediction = fast_client().predict({"age": 40, "plan": "basic"})

    sent = responses.calls[0].request
    expected = base64.b64encode(f"{TOKEN}:{TOKEN}".encode()).decode()
    assert sent.headers["Authorization"] == f"Basic {expected}"
    assert json.loads(sent.body) == {"data": {"age": 40, "plan": "basic"}}
    assert sent.url == URL
    assert prediction.event_id == "ev-1"
    assert prediction.result["churned"] == "yes"
    assert prediction.request_id == "REQ0000000000001"
    assert prediction.latency_s >= 0


@responses.activate
def test_retries_a_429_which_the_model_never_saw():
    responses.post(URL, json={"message": "slow down"}, status=429, headers={"Retry-After": "0"})
    responses.post(URL, json={"message": "slow down"}, status=429)
    responses.post(URL, json=envelope({"event_id": "ev-2"}))
    prediction = fast_client(retries=3).predict({"x": 1})
    assert prediction.event_id == "ev-2"
    assert len(responses.calls) == 3


@responses.activate
def test_retries_a_503_the_model_did_not_handle():
    responses.post(URL, json={"message": "unavailable"}, status=503)
    responses.post(URL, json=envelope({"event_id": "ev-5"}))
    assert fast_client(retries=3).predict({"x": 1}).event_id == "ev-5"
    assert len(responses.calls) == 2


@responses.activate
def test_gives_up_after_the_retries_with_an_api_error():
    responses.post(URL, json={"message": "down"}, status=503)
    with pytest.raises(ApiError) as raised:
        fast_client(retries=1).predict({"x": 1})
    assert raised.value.exit_code == 3 and raised.value.status == 503
    assert len(responses.calls) == 2


@pytest.mark.parametrize("status", [500, 502, 504])
@responses.activate
def test_a_post_that_may_have_reached_the_model_is_not_repeated(status):
    responses.post(URL, json={"message": "down"}, status=status)
    responses.post(URL, json=envelope({"event_id": "ev-3"}))
    with pytest.raises(ApiError) as raised:
        fast_client(retries=3).predict({"x": 1})
    assert raised.value.exit_code == 3 and raised.value.status == status
    assert len(responses.calls) == 1


@responses.activate
def test_a_lost_answer_is_not_repeated():
    responses.post(URL, body=requests.exceptions.ConnectionError("Connection reset by peer"))
    responses.post(URL, json=envelope({"event_id": "ev-4"}))
    with pytest.raises(ApiError):
        fast_client(retries=3).predict({"x": 1})
    assert len(responses.calls) == 1


@responses.activate
def test_a_caller_that_makes_repeats_harmless_gets_them_retried():
    responses.post(URL, json={"message": "bad gateway"}, status=502)
    responses.post(URL, json=envelope({"event_id": "ev-6"}))
    assert fast_client(retries=3, repeatable_posts=True).predict({"x": 1}).event_id == "ev-6"
    assert len(responses.calls) == 2


def test_a_refused_connection_is_retried_until_the_retries_run_out(monkeypatch):
    client = fast_client(retries=2)
    client.api.base_url = client.endpoint_url = "http://127.0.0.1:9/models/x/latest/model"
    calls = []
    original = requests.adapters.HTTPAdapter.send

    def counting(self, request, **kwargs):
        calls.append(request.url)
        return original(self, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", counting)
    with pytest.raises(ApiError) as raised:
        client.predict({"x": 1})
    assert raised.value.code == "unreachable"
    assert len(calls) == 3


@responses.activate
def test_missing_event_id_explains_the_fix():
    responses.post(URL, json=envelope({"churned": "no"}))
    with pytest.raises(ApiError, match="without an event_id") as raised:
        fast_client().predict({"x": 1})
    assert "prediction_capture_example.py" in str(raised.value)


@responses.activate
def test_non_dict_result_has_no_event_id():
    responses.post(URL, json=envelope(["no"]))
    with pytest.raises(ApiError, match="event_id"):
        fast_client().predict({"x": 1})


@responses.activate
def test_refused_token_names_the_token_and_is_not_printed():
    responses.post(URL, json={"message": "Unauthorized"}, status=401)
    with pytest.raises(AuthError) as raised:
        fast_client().predict({"x": 1})
    assert "DOMINO_MODEL_API_TOKEN" in str(raised.value)
    assert TOKEN not in str(raised.value)
