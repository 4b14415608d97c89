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

from dmm.checks.names import CheckName
from dmm.checks.probes import check_datasource, probe_endpoint
from dmm.checks.result import EXIT_BAD_ANSWER, EXIT_SERVICE, CheckResult, failed, from_error, passed
from dmm.errors import ApiError, AuthError, DmmError, NotFoundError
from dmm.http import ApiClient, api_key_headers, make_session
from dmm.monitor import ModelMonitorClient
from dmm.schema import MonitoringSchema

DOMINO = "domino"
SCHEMA = "schema"

__all__ = ["EXIT_BAD_ANSWER", "EXIT_SERVICE", "check_datasource", "check_domino", "check_model_api",
           "check_model_id", "check_schema"]


def check_domino(base_url: str, api_key: str, monitor_api_url: str, *, api_key_env: str = "DOMINO_USER_API_KEY",
                 env: Mapping[str, str] | None = None, session: requests.Session | None = None,
                 timeout: float = 15) -> CheckResult:
    """Domino answers at ``base_url``, accepts the API key, and Model Monitor answers at ``monitor_api_url``.

    ``/version`` proves the host is Domino; ``findProjectByOwnerAndName`` needs a valid key (401 otherwise; a 404
    for an unknown project still proves the key); listing DMM data sources proves the monitor is reachable with it.
    """
    env = os.environ if env is None else env
    if not api_key:
        return failed(DOMINO, f"The environment variable {api_key_env} (the Domino API key) is not set",
                      f"Export {api_key_env} with the key from Account Settings > API Key, or rerun with --offline")
    session = session if session is not None else make_session()
    session.headers.update(api_key_headers(api_key))
    domino = ApiClient(base_url, session, timeout, "Domino")
    external_hint = "Answer with the external Domino URL you open in your browser, e.g. https://domino.example.com"
    try:
        version = domino.get("/version", what="Reading Domino's version")
    except AuthError:
        return _bad_key(api_key_env)
    except NotFoundError:
        return failed(DOMINO, f"{base_url} does not look like Domino (no /version there)", external_hint)
    except ApiError as error:
        return failed(DOMINO, error.message, external_hint, EXIT_SERVICE)
    if not isinstance(version, dict) or "version" not in version:
        return failed(DOMINO, f"{base_url} does not look like Domino (its /version is not Domino's)", external_hint)
    try:
        domino.get("/v4/gateway/projects/findProjectByOwnerAndName", what="Checking the API key",
                   params={"ownerName": env.get("DOMINO_PROJECT_OWNER", ""),
                           "projectName": env.get("DOMINO_PROJECT_NAME", "")})
    except AuthError:
        return _bad_key(api_key_env)
    except NotFoundError:
        pass
    except ApiError as error:
        return from_error(DOMINO, error)
    try:
        ModelMonitorClient(monitor_api_url, api_key, timeout, session, api_key_env).list_datasources()
    except AuthError:
        return _bad_key(api_key_env)
    except ApiError as error:
        return failed(DOMINO, f"Model Monitor does not answer at {monitor_api_url} ({error.message})", external_hint,
                      EXIT_SERVICE if error.status is None or error.status >= 500 else EXIT_BAD_ANSWER)
    return passed(DOMINO, f"Domino {version['version']} answers at {base_url} and accepts the API key")


def _bad_key(api_key_env: str) -> CheckResult:
    return failed(DOMINO, f"Domino refused the API key in {api_key_env} (HTTP 401)",
                  f"Export {api_key_env} with a current key from Account Settings > API Key")


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
    """The endpoint answers a sample row built from the schema and returns an ``event_id`` with the prediction."""
    if not token:
        return failed(CheckName.ENDPOINT, f"The environment variable {token_env} (the Model API access token) is not "
                                          "set",
                      f"Export {token_env} with the token from the endpoint's Settings > Access page, or rerun "
                      "with --offline")
    if schema is None:
        return failed(CheckName.ENDPOINT, "No monitoring schema to build a sample row from",
                      "Run 1_register_training_set.py first, or answer the schema question with its path")
    if client_factory is None:
        from dmm.model_api import ModelApiClient
        client_factory = ModelApiClient
    return probe_endpoint(client_factory(endpoint_url, token, timeout), schema, endpoint_url=endpoint_url,
                          token_env=token_env)

