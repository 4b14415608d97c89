"""The two endpoint kinds (issue 10 §4): a file-based predict function answers a dict with the event_id; a model
deployed from the Model Registry answers the pyfunc's rows and takes booleans as 0/1. Detection, request shapes and
where the event id is found, against canned answers (the sandbox's registry endpoint is in test_registry_e2e.py)."""

from __future__ import annotations

import json

import pytest
import responses

from dmm.errors import ApiError
from dmm.model_api import FILE, REGISTRY, ModelApiClient, endpoint_kind, request_data, row_event_id

URL = "https://domino.example.com/models/abc123/latest/model"
TOKEN = "model-token-0123456789"
ROW = {"age": 40, "plan": "basic", "autopay": True, "event_id": "ev-7"}


def envelope(result):
    return {"model_time_in_ms": 3, "release": {"harness_version": "0.1"}, "request_id": "REQ1", "result": result}


@pytest.mark.parametrize("body,kind", [
    (envelope({"churned": "yes", "event_id": "e"}), FILE),
    (envelope([{"churned": "yes", "event_id": "e"}]), REGISTRY),
    (envelope([["e", "yes"]]), REGISTRY),
    (envelope(["yes"]), REGISTRY),
    ({"predictions": [{"churned": "yes"}]}, REGISTRY),  # MLflow's own scoring server, no Domino envelope
    (envelope("yes"), None),
])
def test_the_kind_is_read_from_the_answer(body, kind):
    assert endpoint_kind(body) == kind


def test_a_predictions_dict_is_a_file_answer_when_the_config_says_file():
    assert endpoint_kind(envelope({"predictions": [1]}), FILE) == FILE


def test_request_shapes():
    assert request_data(ROW, FILE) == ROW  # a predict function gets JSON booleans
    registry = request_data(ROW, REGISTRY)
    assert registry == {"age": 40, "plan": "basic", "autopay": 1, "event_id": "ev-7"}
    assert type(registry["autopay"]) is int and type(registry["age"]) is int  # ints stay ints (int -> long/double)


@pytest.mark.parametrize("row,sent,found", [
    ({"event_id": "ev-1", "churned": "yes"}, "other", "ev-1"),
    ({"churned": "yes", "id": "ev-2"}, "ev-2", "ev-2"),
    (["ev-3", "yes", "2026-01-01T00:00:00Z"], "ev-3", "ev-3"),
    (["yes"], "ev-4", None),
    ("yes", None, None),
])
def test_the_event_id_of_a_registry_row(row, sent, found):
    assert row_event_id(row, sent) == found


@responses.activate
def test_auto_learns_the_registry_kind_and_sends_its_shape_from_then_on():
    responses.post(URL, json=envelope([{"event_id": "ev-7", "churned": "yes", "timestamp": "t"}]))
    client = ModelApiClient(URL, TOKEN, timeout=5)
    first = client.predict(ROW)
    assert first.kind == REGISTRY and first.event_id == "ev-7" and first.result["churned"] == "yes"
    assert json.loads(responses.calls[0].request.body)["data"]["autopay"] is True  # not known yet
    client.predict(ROW)
    assert json.loads(responses.calls[1].request.body)["data"]["autopay"] == 1
    assert client.kind == REGISTRY


@responses.activate
def test_a_configured_registry_kind_shapes_the_first_request():
    responses.post(URL, json=envelope([["ev-7", "yes"]]))
    prediction = ModelApiClient(URL, TOKEN, timeout=5, kind=REGISTRY).predict(ROW)
    assert json.loads(responses.calls[0].request.body) == {"data": {**ROW, "autopay": 1}}
    assert prediction.event_id == "ev-7" and prediction.result == ["ev-7", "yes"]


@responses.activate
def test_a_registry_answer_without_the_sent_id_names_the_capture_wrapper():
    responses.post(URL, json=envelope([["yes"]]))
    with pytest.raises(ApiError) as caught:
        ModelApiClient(URL, TOKEN, timeout=5).predict(ROW)
    assert caught.value.code == "model-api-no-event-id"
    assert "Model Registry" in str(caught.value) and "--wrap-capture" in caught.value.advice


@responses.activate
def test_a_file_answer_keeps_its_dict_and_kind():
    responses.post(URL, json=envelope({"churned": "no", "event_id": "ev-9"}))
    prediction = ModelApiClient(URL, TOKEN, timeout=5).predict(ROW)
    assert prediction.kind == FILE and prediction.event_id == "ev-9"
    assert json.loads(responses.calls[0].request.body)["data"]["autopay"] is True


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        ModelApiClient(URL, TOKEN, kind="mlflow")


@responses.activate
def test_auto_resends_booleans_as_0_1_when_a_signature_refused_them():
    refusal = {"error": "MlflowException: Failed to enforce schema of data ... Incompatible input types for column "
                        "autopay. Can not safely convert bool to int64."}
    responses.post(URL, json=refusal, status=500)
    responses.post(URL, json=envelope([["ev-7", "yes"]]))
    prediction = ModelApiClient(URL, TOKEN, timeout=5).predict(ROW)
    bodies = [json.loads(call.request.body)["data"]["autopay"] for call in responses.calls]
    assert bodies == [True, 1] and prediction.kind == REGISTRY and prediction.event_id == "ev-7"


@responses.activate
def test_other_failures_are_not_resent():
    responses.post(URL, json={"error": "ValueError: boom"}, status=500)
    with pytest.raises(ApiError):
        ModelApiClient(URL, TOKEN, timeout=5, retries=0).predict(ROW)
    assert len(responses.calls) == 1
