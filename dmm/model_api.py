"""Calling a deployed Domino Model API (endpoint): Basic auth with the access token, the event_id back.

Two kinds of endpoint (``KINDS``), told apart by the answer (``endpoint_kind``):

- ``file``: a predict function from the project's files; Domino calls ``predict(**data)`` and returns what it
  returns as ``result``, a dict holding the ``event_id`` when the capture template is used (domino-api.md §3).
- ``registry``: a registered MLflow model deployed as an endpoint (Domino 6). Domino's wrapper builds a DataFrame
  from ``data``, the pyfunc's signature is enforced (MLflow refuses what it cannot convert losslessly; booleans must
  be sent as 0/1), and ``result`` is the pyfunc's output: a list of rows, not a dict. Evidence: Domino's field notes
  (github.com/dominodatalab/Fraud-Detection-Workshop, monitoring_blueprints/DOMINO_PLATFORM_NOTES.md §2c "pyfunc
  (registry) invocation contract": "Response is a list-of-rows ([[...]]), not a dict. Envelope is {"data": {...}};
  auth is Basic token:token"; its templates/load_generator.py posts {"data": payload} and reads a list result),
  and MLflow's schema enforcement (mlflow/models/utils.py ``_enforce_mlflow_datatype``).
  The rows are records (``[{"event_id": ...}]``) or bare values (``[[...]]``); the event id is the row's
  ``event_id``, else the id the caller sent when it is one of the row's values (the capture wrapper of
  prediction_capture_example.py returns it), else there is none.

Both take ``{"data": {...}}``; a registry endpoint gets booleans as 0/1 (``request_data``). ``kind="auto"`` sends
the file shape until an answer has shown the kind; step 3 records the kind it saw as ``model_api.kind``.

Retries: only what the model cannot have handled (a refused connection, 429, 503); never a 502/504 or a lost
answer, unless the caller says a repeat is harmless (``repeatable_posts``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dmm.errors import ApiError, AuthError
from dmm.http import ApiClient, build_retry, make_session
from dmm.redact import register_secret
from dmm.transport import MODEL_API_POLICY

TOKEN_ADVICE = ("Check the Model API access token (Domino: the endpoint's Settings > Access tokens) in the "
                "environment variable named by model_api.token_env (default DOMINO_MODEL_API_TOKEN)")
EVENT_ID_ADVICE = ("Make the endpoint's predict function return the event_id it captures with: copy the capture part "
                   "of prediction_capture_example.py into it and redeploy")


NOT_A_MODEL_API_ADVICE = ("Copy the URL from Endpoints > your endpoint > Overview in Domino (it ends in /model), and "
                          "check that the access token is set: without it some Domino front ends answer with their "
                          "sign-in page")


class NotAModelApiError(AuthError):
    """The URL answered 200 with something that is not JSON (a sign-in page, a web page): not a Model API.

    A Model API always answers JSON (``{"model_time_in_ms", "release", "request_id", "result"}``,
    /work/shared/domino-api.md §3). It is an ``AuthError`` so that step 4 stops at the first answer (every request
    would get the same page), and exits 2: the fix is the configured URL or token, not the service.
    """

    exit_code = 2
    default_code = "model-api-not-a-model-api"


AUTO, FILE, REGISTRY = "auto", "file", "registry"
KINDS = (AUTO, FILE, REGISTRY)
KIND_NAMES = {FILE: "a file-based endpoint (predict function)", REGISTRY: "a Model Registry (MLflow) endpoint"}
REGISTRY_EVENT_ID_ADVICE = ("Log the registered model wrapped with the capture wrapper (python 2_export_model.py "
                            "--wrap-capture ..., or prediction_capture_example.CapturingModel), register it and deploy "
                            "that version: it captures each prediction and returns its event_id")


@dataclass(frozen=True)
class Prediction:
    result: Any  # file: the dict predict() returned; registry: the first row (a dict of columns, or a list)
    event_id: str
    request_id: str | None
    latency_s: float
    kind: str = FILE


def endpoint_kind(body: Any, configured: str = AUTO) -> str | None:
    """The kind of endpoint an answer comes from: ``file`` (a dict result), ``registry`` (a list of rows, or
    MLflow's own ``{"predictions": [...]}`` unless the config says ``file``), or None when it shows neither."""
    result = body["result"] if isinstance(body, dict) and "result" in body else body
    if (configured != FILE and isinstance(result, dict) and isinstance(result.get("predictions"), list)
            and len(result) == 1):
        return REGISTRY
    if isinstance(result, dict):
        return FILE
    if isinstance(result, list):
        return REGISTRY
    return None


def registry_rows(body: Any) -> list[Any]:
    """The pyfunc's rows in a registry endpoint's answer."""
    result = body["result"] if isinstance(body, dict) and "result" in body else body
    if isinstance(result, dict) and isinstance(result.get("predictions"), list):
        result = result["predictions"]
    return list(result) if isinstance(result, list) else []


def row_event_id(row: Any, sent: str | None) -> str | None:
    """A registry row's event id: its ``event_id`` column, else the id the caller sent if the row holds it."""
    if isinstance(row, dict):
        value = row.get("event_id")
        if value not in (None, ""):
            return str(value)
        values: list[Any] = list(row.values())
    elif isinstance(row, list):
        values = row
    else:
        values = [row]
    return sent if sent and any(str(v) == sent for v in values if isinstance(v, (str, int))) else None


def refused_booleans(error: ApiError, data: Mapping[str, Any]) -> bool:
    """Whether a failed request is a registry endpoint's signature refusing the JSON booleans it was sent (MLflow's
    "Failed to enforce schema", field notes §2c): nothing was predicted or captured, so it can be sent again as 0/1."""
    text = f"{error.server_message or ''} {error.message}".lower()
    return any(isinstance(value, bool) for value in data.values()) and "enforce schema" in text


def request_data(data: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The ``data`` object an endpoint of ``kind`` expects: as given, or for a registry endpoint with booleans as
    0/1 (MLflow's signature enforcement refuses JSON booleans for the integer columns they were trained as; field
    notes §2c: "booleans must be sent as ints")."""
    if kind != REGISTRY:
        return dict(data)
    return {name: int(value) if isinstance(value, bool) else value for name, value in data.items()}


class ModelApiClient:
    def __init__(self, endpoint_url: str, token: str | None, timeout: float = 30, retries: int = 4,
                 pool_size: int = 10, repeatable_posts: bool = False, kind: str = AUTO) -> None:
        """``repeatable_posts``: the caller makes a repeated prediction harmless (it sends its own event id), so a
        POST may be repeated after a 5xx or a lost answer too. ``kind``: ``auto`` (learnt from the first answer),
        ``file`` or ``registry`` (``model_api.kind``)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        self.kind = kind
        register_secret(token)
        # A POST that may have reached the model is not repeated (the model could capture the prediction twice):
        # only what it cannot have handled is (a connection that never opened, 429, 503; dmm.transport).
        methods = frozenset({"GET", "HEAD", "POST"} if repeatable_posts else {"GET", "HEAD"})
        session = make_session(auth=(token, token) if token else None, pool_size=pool_size, client="model-api",
                               retry=build_retry(total=retries, methods=methods,
                                                 post_statuses=MODEL_API_POLICY.post_statuses))
        self.endpoint_url = endpoint_url
        self.api = ApiClient(endpoint_url, session=session, timeout=timeout, service_name="the Model API")

    def call(self, data: Mapping[str, Any]) -> tuple[Any, float]:
        """POST ``{"data": data}`` in the shape of the endpoint's kind; the parsed body and the latency in seconds."""
        started = time.perf_counter()
        try:
            body = self.api.post("", json={"data": request_data(data, self.kind)}, what="Calling the Model API")
        except AuthError as error:
            raise AuthError(error.message, TOKEN_ADVICE, status=error.status, server_message=error.server_message,
                            url=error.url, code="model-api-token-refused") from None
        if isinstance(body, str):  # ApiClient gives the text of a body that is not JSON
            looks = "a web page (HTML)" if body.lstrip()[:1] == "<" else "text that is not JSON"
            raise NotAModelApiError(f"{self.endpoint_url} answered with {looks}, so this URL is not a Model API "
                                    "(wrong URL or missing authentication)", NOT_A_MODEL_API_ADVICE,
                                    url=self.endpoint_url)
        return body, time.perf_counter() - started

    def predict(self, data: Mapping[str, Any]) -> Prediction:
        try:
            body, latency = self.call(data)
        except ApiError as error:
            if not (self.kind == AUTO and refused_booleans(error, data)):
                raise
            self.kind = REGISTRY  # an MLflow signature refused JSON booleans: a registry endpoint; send them as 0/1
            body, latency = self.call(data)
        request_id = body.get("request_id") if isinstance(body, dict) else None
        seen = endpoint_kind(body, self.kind)
        kind = seen or (self.kind if self.kind != AUTO else FILE)
        if self.kind == AUTO and seen:
            self.kind = seen  # later requests take this kind's shape
        sent = data.get("event_id")
        sent = str(sent) if sent not in (None, "") else None
        if kind == REGISTRY:
            rows = registry_rows(body)
            result: Any = rows[0] if rows else None
            event_id = row_event_id(result, sent)
            advice = REGISTRY_EVENT_ID_ADVICE
        else:
            result = body["result"] if isinstance(body, dict) and "result" in body else body
            event_id = result.get("event_id") if isinstance(result, dict) else None
            advice = EVENT_ID_ADVICE
        if not event_id:
            raise ApiError(f"The Model API ({KIND_NAMES[kind]}) answered without an event_id, so its predictions "
                           "cannot be matched to ground truth", advice, url=self.endpoint_url,
                           code="model-api-no-event-id")
        return Prediction(result=result, event_id=str(event_id), request_id=request_id, latency_s=latency, kind=kind)

    def close(self) -> None:
        self.api.session.close()
