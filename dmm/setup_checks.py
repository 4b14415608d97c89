"""The live checks of step 3: each takes one answer (plus what it needs) and returns a ``CheckResult``.

A check never raises for a problem the user can fix: it returns a FAIL with the problem (``detail``) and what to
do (``fix``). ``exit_code`` says how an unattended run ends: 2 for a wrong answer, 3 when a service could not be
reached or failed. The endpoint probe and the data-source lookup are step 6's too (``dmm.checks.probes``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import requests

from dmm import hosts
from dmm.auth import API_KEY, Credentials, RequestsAuth
from dmm.checks.names import CheckName
from dmm.checks.probes import check_datasource, probe_endpoint
from dmm.checks.result import EXIT_BAD_ANSWER, EXIT_SERVICE, CheckResult, failed, from_error, passed
from dmm.errors import ApiError, AuthError, DmmError, NotFoundError
from dmm.http import ApiClient, make_session
from dmm.monitor import ModelMonitorClient
from dmm.schema import MonitoringSchema
from dmm.wizard_discovery import prediction_name_problem

DOMINO = "domino"
SCHEMA = "schema"

__all__ = ["EXIT_BAD_ANSWER", "EXIT_SERVICE", "check_datasource", "check_domino", "check_model_api",
           "check_model_id", "check_schema"]


PROBE_MODEL_ID = "dmm-toolkit-access-check"


def check_domino(base_url: str, credentials: Credentials | str | None, monitor_api_url: str, *,
                 api_key_env: str = "DOMINO_USER_API_KEY", env: Mapping[str, str] | None = None,
                 session: requests.Session | None = None, timeout: float = 15, model_id: str = "") -> CheckResult:
    """Domino answers at ``base_url``, and Model Monitor answers at ``monitor_api_url`` and accepts the identity.

    ``/version`` proves the host is Domino. ``GET /model?model_id=`` (the configured model, else a probe id) is a
    route every user may call on their own model, so it is the identity check: a JSON answer (a model, or DMM's
    own "not found") proves Model Monitor is served there and took the credentials; 401 is a refused identity; 403
    is an identity that may not act here (not a bad key); a bare 404 means Model Monitor is not served at that URL,
    as on the internal ``DOMINO_API_HOST`` of a run (domino-api.md §0).
    """
    if isinstance(credentials, str):
        credentials = Credentials(API_KEY, f"${api_key_env}", api_key=credentials) if credentials else None
    if credentials is None:
        return failed(DOMINO, f"The environment variable {api_key_env} (the Domino API key) is not set",
                      f"Export {api_key_env} with the key from Account Settings > API Key, name a variable holding an "
                      "access token in domino.auth_token_env, or rerun with --offline")
    session = session if session is not None else make_session()
    session.auth = RequestsAuth(credentials)
    domino = ApiClient(base_url, session, timeout, "Domino")
    external_hint = ("Answer with the external Domino URL, as in your browser's address bar, e.g. "
                     "https://domino.example.com")
    if hosts.is_internal(base_url):
        external_hint = (f"{base_url} is an internal address (as DOMINO_API_HOST is inside runs) and Model Monitor is "
                         f"not served there. {external_hint}")
    try:
        version = domino.get("/version", what="Reading Domino's version")
    except AuthError as error:
        return _refused(credentials, "Domino", error.status)
    except NotFoundError:
        return failed(DOMINO, f"{base_url} does not look like Domino (no /version there)", external_hint)
    except ApiError as error:  # a wrong scheme (tls-mismatch) keeps its own advice: the URL with the right one
        return failed(DOMINO, error.message, error.advice if error.code == "tls-mismatch" else external_hint,
                      EXIT_SERVICE)
    if not isinstance(version, dict) or "version" not in version:
        return failed(DOMINO, f"{base_url} does not look like Domino (its /version is not Domino's)", external_hint)
    try:
        answer = session.get(f"{monitor_api_url.rstrip('/')}/model", params={"model_id": model_id or PROBE_MODEL_ID},
                             timeout=timeout)
    except requests.RequestException as error:
        return failed(DOMINO, f"Model Monitor does not answer at {monitor_api_url} ({type(error).__name__})",
                      external_hint, EXIT_SERVICE)
    if answer.status_code in (401, 403):
        return _refused(credentials, "Model Monitor", answer.status_code, model_id)
    if answer.status_code >= 500:
        return failed(DOMINO, f"Model Monitor at {monitor_api_url} answered HTTP {answer.status_code}",
                      "Try again later; if it persists, check Model Monitor's status with your Domino admin",
                      EXIT_SERVICE)
    if answer.status_code >= 400 and not _is_json(answer):
        return failed(DOMINO, f"Model Monitor does not answer at {monitor_api_url} (HTTP {answer.status_code})",
                      external_hint)
    return passed(DOMINO, f"Domino {version['version']} answers at {base_url}; Model Monitor at {monitor_api_url} "
                          f"accepts {credentials.describe()}", auth_method=credentials.method)


def _is_json(response: requests.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return "json" in response.headers.get("Content-Type", "")


def _refused(credentials: Credentials, service: str, status: int | None, model_id: str = "") -> CheckResult:
    if status == 403:
        what = f"model {model_id}" if model_id else "models in Model Monitor"
        return failed(DOMINO, f"{service} accepted {credentials.describe()}, but this identity may not read {what} "
                              "(HTTP 403)",
                      "Ask the model's owner (or a Domino admin) to give this identity access, or run as a user "
                      "who has it")
    return failed(DOMINO, f"{service} refused {credentials.describe()} (HTTP {status})", credentials.fix())


def check_model_id(client: ModelMonitorClient, model_id: str) -> CheckResult:
    """The DMM model exists."""
    try:
        model = client.get_model(model_id)
    except DmmError as error:
        return from_error(CheckName.DMM_MODEL, error)
    name = model.get("name") if isinstance(model, dict) else None
    return passed(CheckName.DMM_MODEL, f"Model Monitor knows model {model_id!r}" + (f" ({name})" if name else ""),
                  model=model)


def check_schema(path: str | os.PathLike[str]) -> CheckResult:
    """The monitoring schema written by step 1 can be read (the Model API check needs its sample row)."""
    try:
        schema = MonitoringSchema.load(path)
    except DmmError as error:
        return from_error(SCHEMA, error)
    return passed(SCHEMA, f"Schema of training set {schema.training_set_name!r}: {len(schema.features)} features, "
                          f"target {schema.target!r}", schema=schema)


def check_model_api(endpoint_url: str, token: str, schema: MonitoringSchema | None, *, timeout: float = 30,
                    token_env: str = "DOMINO_MODEL_API_TOKEN", client_factory: Callable[..., Any] | None = None
                    ) -> CheckResult:
    """The endpoint answers a sample row built from the schema and returns an ``event_id`` with the prediction,
    under the target's name when the answer is a mapping (the wrong name is caught here, not by step 6 a day later)."""
    if not token:
        return failed(CheckName.ENDPOINT, f"The environment variable {token_env} (the Model API access token) is not "
                                          "set",
                      f"Export {token_env} with the token from the endpoint's Settings > Access page, or rerun "
                      "with --offline")
    if schema is None:
        return failed(CheckName.ENDPOINT, "No monitoring schema to build a sample row from",
                      "Run 1_register_training_set.py first, or answer the schema question with its path")
    if client_factory is None:
        from functools import partial

        from dmm.model_api import ModelApiClient

        # the probe sends its own event id (dmm-probe-...), so a repeat after a lost answer is the same prediction
        client_factory = partial(ModelApiClient, repeatable_posts=True)
    result = probe_endpoint(client_factory(endpoint_url, token, timeout), schema, endpoint_url=endpoint_url,
                            token_env=token_env)
    problem = prediction_name_problem(result.facts.get("result"), schema.prediction_name) if result.ok else ""
    if problem:
        return failed(CheckName.ENDPOINT, problem,
                      f"Capture and return the prediction as {schema.prediction_name!r}, the training set's target "
                      "(prediction_capture_example.py's MonitoredModel does), and redeploy the endpoint",
                      **result.facts)
    return result

