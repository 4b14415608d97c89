"""Calling a deployed Domino Model API (endpoint): Basic auth with the access token, the event_id back.

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


@dataclass(frozen=True)
class Prediction:
    result: Any
    event_id: str
    request_id: str | None
    latency_s: float


class ModelApiClient:
    def __init__(self, endpoint_url: str, token: str | None, timeout: float = 30, retries: int = 4,
                 pool_size: int = 10, repeatable_posts: bool = False) -> None:
        """``repeatable_posts``: the caller makes a repeated prediction harmless (it sends its own event id), so a
        POST may be repeated after a 5xx or a lost answer too."""
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
        """POST ``{"data": data}``; the parsed body and the latency in seconds."""
        started = time.perf_counter()
        try:
            body = self.api.post("", json={"data": dict(data)}, what="Calling the Model API")
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
        body, latency = self.call(data)
        request_id = body.get("request_id") if isinstance(body, dict) else None
        result = body["result"] if isinstance(body, dict) and "result" in body else body
        event_id = result.get("event_id") if isinstance(result, dict) else None
        if not event_id:
            raise ApiError("The Model API answered without an event_id, so its predictions cannot be matched to "
                           "ground truth", EVENT_ID_ADVICE, url=self.endpoint_url,
                           code="model-api-no-event-id")
        return Prediction(result=result, event_id=str(event_id), request_id=request_id, latency_s=latency)

    def close(self) -> None:
        self.api.session.close()
