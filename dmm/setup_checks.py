"""The live checks of step 3: each takes one answer (plus what it needs) and returns a ``CheckResult``.

A check never raises for a problem the user can fix: it returns ``ok=False`` with the problem (``message``) and
what to do (``fix``). ``exit_code`` says how an unattended run should end: 2 for a wrong answer, 3 when a
service could not be reached or failed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import requests

from dmm.errors import ApiError, AuthError, DmmError, NotFoundError
from dmm.http import ApiClient, api_key_headers, make_session
from dmm.monitor import ModelMonitorClient
from dmm.redact import redact
from dmm.schema import MonitoringSchema

EXIT_BAD_ANSWER = 2
EXIT_SERVICE = 3


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str
    fix: str = ""
    exit_code: int = 0
    details: Mapping[str, Any] = field(default_factory=dict)

    def sentence(self) -> str:
        text = self.message.rstrip(".") + "."
        return f"{text} {self.fix.rstrip('.')}." if self.fix else text


def passed(message: str, **details: Any) -> CheckResult:
    return CheckResult(True, message, details=details)


def failed(message: str, fix: str, exit_code: int = EXIT_BAD_ANSWER) -> CheckResult:
    return CheckResult(False, redact(message), redact(fix), exit_code)


def from_error(error: DmmError, fix: str = "") -> CheckResult:
    is_service = isinstance(error, ApiError) and not isinstance(error, (NotFoundError, AuthError))
    return failed(error.message, fix or error.advice, EXIT_SERVICE if is_service else EXIT_BAD_ANSWER)


def check_domino(base_url: str, api_key: str, monitor_api_url: str, *, api_key_env: str = "DOMINO_USER_API_KEY",
                 env: Mapping[str, str] | None = None, session: requests.Session | None = None,
                 timeout: float = 15) -> CheckResult:
    """Domino answers at ``base_url``, accepts the API key, and Model Monitor answers at ``monitor_api_url``.

    ``/version`` proves the host is Domino; ``findProjectByOwnerAndName`` needs a valid key (401 otherwise; a 404
    for an unknown project still proves the key); listing DMM data sources proves the monitor is reachable with it.
    """
    env = os.environ if env is None else env
    if not api_key:
        return failed(f"The environment variable {api_key_env} (the Domino API key) is not set",
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
        return failed(f"{base_url} does not look like Domino (no /version there)", external_hint)
    except ApiError as error:
        return failed(error.message, external_hint, EXIT_SERVICE)
    if not isinstance(version, dict) or "version" not in version:
        return failed(f"{base_url} does not look like Domino (its /version is not Domino's)", external_hint)
    try:
        domino.get("/v4/gateway/projects/findProjectByOwnerAndName", what="Checking the API key",
                   params={"ownerName": env.get("DOMINO_PROJECT_OWNER", ""),
                           "projectName": env.get("DOMINO_PROJECT_NAME", "")})
    except AuthError:
        return _bad_key(api_key_env)
    except NotFoundError:
        pass
    except ApiError as error:
        return from_error(error)
    try:
        ModelMonitorClient(monitor_api_url, api_key, timeout, session, api_key_env).list_datasources()
    except AuthError:
        return _bad_key(api_key_env)
    except ApiError as error:
        return failed(f"Model Monitor does not answer at {monitor_api_url} ({error.message})", external_hint,
                      EXIT_SERVICE if error.status is None or error.status >= 500 else EXIT_BAD_ANSWER)
    return passed(f"Domino {version['version']} answers at {base_url} and accepts the API key")


def _bad_key(api_key_env: str) -> CheckResult:
    return failed(f"Domino refused the API key in {api_key_env} (HTTP 401)",
                  f"Export {api_key_env} with a current key from Account Settings > API Key")


def check_model_id(client: ModelMonitorClient, model_id: str) -> CheckResult:
    """The DMM model exists."""
    try:
        model = client.get_model(model_id)
    except DmmError as error:
        return from_error(error)
    name = model.get("name") if isinstance(model, dict) else None
    return passed(f"Model Monitor knows model {model_id!r}" + (f" ({name})" if name else ""), model=model)


def check_schema(path: str | os.PathLike[str]) -> CheckResult:
    """The monitoring schema written by step 1 can be read (the Model API check needs its sample row)."""
    try:
        schema = MonitoringSchema.load(path)
    except DmmError as error:
        return from_error(error)
    return passed(f"Schema of training set {schema.training_set_name!r}: {len(schema.features)} features, "
                  f"target {schema.target!r}", schema=schema)


def check_model_api(endpoint_url: str, token: str, schema: MonitoringSchema | None, *, timeout: float = 30,
                    token_env: str = "DOMINO_MODEL_API_TOKEN", client_factory: Callable[..., Any] | None = None
                    ) -> CheckResult:
    """The endpoint answers a sample row built from the schema and returns an ``event_id`` with the prediction."""
    if not token:
        return failed(f"The environment variable {token_env} (the Model API access token) is not set",
                      f"Export {token_env} with the token from the endpoint's Settings > Access page, or rerun "
                      "with --offline")
    if schema is None:
        return failed("No monitoring schema to build a sample row from",
                      "Run 1_register_training_set.py first, or answer the schema question with its path")
    if client_factory is None:
        from dmm.model_api import ModelApiClient
        client_factory = ModelApiClient
    try:
        prediction = client_factory(endpoint_url, token, timeout).predict(schema.sample_row())
    except AuthError as error:
        return failed(f"The endpoint refused the token in {token_env} ({error.message})",
                      f"Export {token_env} with the endpoint's access token (Endpoints > your endpoint > Settings > "
                      "Access)")
    except NotFoundError as error:
        return failed(f"No endpoint answers at {endpoint_url} ({error.message})",
                      "Copy the URL from Endpoints > your endpoint > Overview in Domino")
    except DmmError as error:
        return from_error(error)
    if not getattr(prediction, "event_id", None):
        return failed("The endpoint answered but returned no event_id, so labels could not be matched to predictions",
                      "Add the capture lines of prediction_capture_example.py to the endpoint's predict() and "
                      "redeploy it")
    return passed(f"The endpoint answered a sample row (event_id {prediction.event_id})",
                  event_id=prediction.event_id, result=getattr(prediction, "result", None))


def domino_datasource_exists(name: str) -> None:
    """Look the data source up with Domino's own client (it reads DOMINO_API_HOST and the credentials from env)."""
    from domino_data.data_sources import DataSourceClient

    from dmm.datasources import check_client_environment

    check_client_environment()
    try:
        client = DataSourceClient()
    except Exception as error:  # e.g. TypeError when DOMINO_DATASOURCE_PROXY_FLIGHT_HOST is unset
        raise ApiError(f"Domino's data source client could not start ({redact(str(error))[:200]})",
                       "Run this in a Domino workspace or job, where DOMINO_API_HOST and the "
                       "DOMINO_DATASOURCE_PROXY_* variables are set, or add --offline") from None
    client.get_datasource(name)


def check_datasource(client: ModelMonitorClient, name: str, *,
                     domino_lookup: Callable[[str], Any] = domino_datasource_exists) -> CheckResult:
    """The ground-truth data source exists as a Domino data source and in Model Monitor under the same name."""
    try:
        domino_lookup(name)
    except DmmError as error:
        return from_error(error)
    except Exception as error:  # Domino's client raises bare Exceptions (and others) for every failure
        return failed(f"Domino has no data source named {name!r} that this project can use "
                      f"({redact(str(error))[:200] or type(error).__name__})",
                      "Create it under Data > Data Sources and add it to this project, or answer with its exact name")
    try:
        record = client.datasource_named(name)
    except DmmError as error:
        return from_error(error)
    if record is None:
        return failed(f"Model Monitor has no data source named {name!r}",
                      "Add it under Model Monitor > Monitoring Data Sources with the same name as the Domino data "
                      "source")
    return passed(f"Data source {name!r} exists in Domino and in Model Monitor", record=record)
