"""Client for Domino Model Monitor's REST API v2 (``{domino}/model-monitor/v2/api``) and its scheduler.

Paths follow ``domino-api.md`` §2.2 and §6.4. Model lookups take the id as the snake_case query parameter
``model_id`` (``modelId`` makes DMM answer 500). Errors are ``dmm.errors.ApiError`` subclasses whose advice
names what to check: the model id on 404, the API key on 401/403.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

import requests

from dmm.auth import Credentials, RequestsAuth
from dmm.errors import ApiError, AuthError, NotFoundError, UsageError
from dmm.http import ApiClient, api_key_headers, build_retry, make_session

DatasetKind = Literal["prediction", "ground_truth"]
DATASET_KINDS = ("prediction", "ground_truth")
SERVICE_NAME = "Domino Model Monitor"


def scheduler_base_url(api_url: str) -> str:
    """``…/model-monitor/v2/api`` -> ``…/model-monitor/api/scheduler``."""
    root = api_url.rstrip("/")
    if root.endswith("/v2/api"):
        root = root[: -len("/v2/api")]
    return f"{root}/api/scheduler"


def model_id_from(response: Any) -> str:
    """The model id of a register-model answer, which carries it as ``id`` or ``modelId``."""
    if isinstance(response, dict):
        for key in ("id", "modelId"):
            if response.get(key):
                return str(response[key])
    raise ApiError("Model Monitor registered the model but its answer carries no model id",
                   "Look the model up in Model Monitor's UI and put its id in model_monitor.model_id",
                   code="monitor-no-model-id")


def _epoch_seconds(value: datetime | int | float, up: bool = False) -> int:
    """Whole epoch seconds, as Model Monitor takes them; ``up`` for a window's end, so that a prediction made in the
    window's last second (step 6 run right after step 4) is not left out of the count the files include."""
    seconds = value.timestamp() if isinstance(value, datetime) else float(value)
    return math.ceil(seconds) if up else math.floor(seconds)


class ModelMonitorClient:
    """One method per Model Monitor endpoint the toolkit uses; each returns parsed JSON or raises ApiError."""

    def __init__(self, api_url: str, api_key: str | Credentials, timeout: float = 30,
                 session: requests.Session | None = None, api_key_env: str = "DOMINO_USER_API_KEY") -> None:
        """``api_key`` is a user API key, or the ``dmm.auth.Credentials`` of any method of the chain."""
        session = session if session is not None else make_session(retry=build_retry(), client="model-monitor")
        if isinstance(api_key, Credentials):
            session.auth = RequestsAuth(api_key)
            self.credentials: Credentials | None = api_key
        else:
            session.headers.update(api_key_headers(api_key))
            self.credentials = None
        self.api_key_env = api_key_env
        self.api = ApiClient(api_url.rstrip("/"), session, timeout, SERVICE_NAME)
        self.scheduler = ApiClient(scheduler_base_url(api_url), session, timeout, SERVICE_NAME)

    @property
    def api_url(self) -> str:
        return self.api.base_url

    def _call(self, client: ApiClient, method: str, path: str, what: str, *, not_found: str = "",
              conflict: str = "", **kwargs: Any) -> Any:
        try:
            return client.request(method, path, what=what, **kwargs)
        except AuthError as error:
            raise _with_advice(error, self._auth_advice(error.status)) from None
        except NotFoundError as error:
            raise _with_advice(error, not_found or self._missing_service_advice()) from None
        except ApiError as error:
            if conflict and error.status in (400, 409):
                raise _with_advice(error, conflict) from None
            raise

    def _auth_advice(self, status: int | None) -> str:
        if status == 403:
            return ("The identity was accepted but may not act on this model: ask the model's owner to add you "
                    "as a collaborator in Model Monitor")
        if self.credentials is not None and self.credentials.method != "api-key":
            return (f"Model Monitor at {self.api_url} refused {self.credentials.describe()}. "
                    f"{self.credentials.fix()}")
        return (f"Check that {self.api_key_env} holds a valid Domino API key (Account Settings > API Key) and that "
                f"{self.api_url} is your Domino's external URL (Model Monitor is not served on the internal host)")

    def _missing_service_advice(self) -> str:
        return (f"Check that Model Monitor answers at {self.api_url}: domino.base_url must be the external Domino "
                "URL (or set model_monitor.base_url)")

    @staticmethod
    def _model_advice(model_id: str) -> str:
        return (f"Check model_monitor.model_id ({model_id!r}): open Model Monitor (or the endpoint's Monitoring tab) "
                "in Domino and copy the model's id from the page URL")

    # --- models -------------------------------------------------------------------------------------------

    def get_model(self, model_id: str) -> dict[str, Any]:
        return self._call(self.api, "GET", "/model", f"Looking up Model Monitor model {model_id!r}",
                          not_found=self._model_advice(model_id), params={"model_id": model_id})

    def model_summary(self, model_id: str) -> dict[str, Any]:
        return self._call(self.api, "GET", "/get_model_summary", f"Reading the summary of model {model_id!r}",
                          not_found=self._model_advice(model_id), params={"model_id": model_id})

    def list_models(self, page_size: int = 100) -> list[dict[str, Any]]:
        """Every model, page by page. Pages count from 0 (Domino's tutorial client ``list_models(page_number=0)``,
        "0-indexed", dominodatalab/model-monitoring-setup app-model-monitor-extension/api_client.py); a Domino
        that refuses page 0 with a 400 is read from page 1 (ids seen twice are dropped)."""
        models: list[dict[str, Any]] = []
        seen: set[Any] = set()
        page = 0
        while True:
            try:
                body = self._call(self.api, "GET", "/models", "Listing Model Monitor models",
                                  params={"pageNumber": page, "pageSize": page_size, "numberOfLastChecksToFetch": 1})
            except ApiError as error:
                if page != 0 or error.status != 400:
                    raise
                page = 1
                continue
            items = body.get("modelDashboardItems", []) if isinstance(body, dict) else (body or [])
            fresh = [item for item in items if item.get("id") not in seen]
            models.extend(fresh)
            seen.update(item.get("id") for item in fresh)
            if len(items) < page_size or not fresh:
                return models
            page += 1

    def register_model(self, config: dict[str, Any]) -> dict[str, Any]:
        return self._call(self.api, "PUT", "/model", "Registering the model with Model Monitor", json=config,
                          conflict="Model Monitor refused the model config; fix the field it names and try again")

    def delete_model(self, model_id: str) -> Any:
        return self._call(self.api, "DELETE", "/model", f"Deleting Model Monitor model {model_id!r}",
                          not_found=self._model_advice(model_id), params={"model_id": model_id},
                          conflict="Stop the endpoint version this monitor belongs to, then delete it")

    def variables(self, model_id: str) -> list[dict[str, Any]]:
        """The model's variables: ``{name, variableType, valueType, forPredictionOutput?}`` each."""
        body = self._call(self.api, "GET", f"/model/{model_id}/variables/summary",
                          f"Reading the variables of model {model_id!r}", not_found=self._model_advice(model_id))
        if isinstance(body, dict):
            body = body.get("variables", [])
        return list(body or [])

    # --- data sources and datasets ------------------------------------------------------------------------

    def list_datasources(self) -> list[dict[str, Any]]:
        body = self._call(self.api, "GET", "/datasources", "Listing Model Monitor data sources")
        if isinstance(body, dict):
            body = body.get("datasources") or body.get("items") or []
        return list(body or [])

    def datasource_named(self, name: str) -> dict[str, Any] | None:
        """The DMM data source record registered under ``name``, or None."""
        return next((source for source in self.list_datasources() if source.get("name") == name), None)

    def register_dataset(self, model_id: str, kind: DatasetKind, payload: dict[str, Any]) -> Any:
        if kind not in DATASET_KINDS:
            raise UsageError(f"Unknown dataset kind {kind!r}", f"Use one of {', '.join(DATASET_KINDS)}",
                             code="dataset-kind-unknown")
        return self._call(self.api, "PUT", f"/model/{model_id}/register-dataset/{kind}",
                          f"Registering a {kind.replace('_', ' ')} dataset with model {model_id!r}",
                          not_found=self._model_advice(model_id), json=payload,
                          conflict="Model Monitor refused the dataset; fix what it names and run the step again")

    # --- traffic --------------------------------------------------------------------------------------------

    def prediction_traffic(self, model_id: str, start: datetime | int | float, end: datetime | int | float) -> Any:
        return self._call(self.api, "GET", "/model/get-prediction-traffic",
                          f"Reading the prediction traffic of model {model_id!r}",
                          not_found=self._model_advice(model_id),
                          params={"model_ids": model_id, "start_date": _epoch_seconds(start),
                                  "end_date": _epoch_seconds(end, up=True)})

    def reported_prediction_count(self, model_id: str, start: datetime | int | float,
                                  end: datetime | int | float) -> int | None:
        """``prediction_count``, or None when the traffic answer's shape names no count (``reported_traffic_count``)."""
        return reported_traffic_count(self.prediction_traffic(model_id, start, end))

    def prediction_count(self, model_id: str, start: datetime | int | float, end: datetime | int | float) -> int:
        """How many predictions Model Monitor has ingested for the model in [start, end)."""
        return traffic_count(self.prediction_traffic(model_id, start, end))

    def ground_truth_traffic(self, model_id: str, start: datetime | int | float, end: datetime | int | float) -> Any:
        """Parameter names are undocumented; these are the ones Domino's tutorial client uses (epoch seconds)."""
        return self._call(self.api, "GET", f"/model/{model_id}/traffic/ground-truth",
                          f"Reading the ground-truth traffic of model {model_id!r}",
                          not_found=self._model_advice(model_id),
                          params={"startTimestamp": _epoch_seconds(start),
                                  "endTimestamp": _epoch_seconds(end, up=True)})

    # --- analyses -----------------------------------------------------------------------------------------

    def analyse_drift(self, model_id: str, body: dict[str, Any]) -> Any:
        return self._call(self.api, "POST", f"/model/{model_id}/analyse-drift",
                          f"Analysing drift of model {model_id!r}", not_found=self._model_advice(model_id), json=body)

    def analyze_model_quality(self, model_id: str, body: dict[str, Any]) -> Any:
        return self._call(self.api, "POST", f"/model/{model_id}/analyze-model-quality",
                          f"Analysing the model quality of model {model_id!r}",
                          not_found=self._model_advice(model_id), json=body)

    # --- scheduled checks ---------------------------------------------------------------------------------

    def drift_scheduler_query(self, model_id: str) -> dict[str, Any]:
        return self._call(self.api, "GET", f"/model/{model_id}/drift-scheduler-query",
                          f"Reading the drift check config of model {model_id!r}",
                          not_found=self._model_advice(model_id))

    def save_scheduler_query(self, model_id: str, features: list[dict[str, Any]]) -> Any:
        return self._call(self.api, "POST", f"/model/{model_id}/save-scheduler-query",
                          f"Saving the drift check config of model {model_id!r}",
                          not_found=self._model_advice(model_id), json={"config": features})

    def create_drift_schedule(self, model_id: str, name: str = "daily drift check", *,
                              cron_expression: str = "0 12 * * *", timezone: str = "UTC",
                              calendar_type: Literal["D", "W", "M"] = "D", data_since_last_check: bool = True,
                              data_since: int = 1) -> Any:
        body = {"modelId": model_id, "name": name, "timezone": timezone, "cronExpression": cron_expression,
                "calendarType": calendar_type, "dataSinceLastCheck": data_since_last_check,
                "data_since": data_since}
        return self._call(self.scheduler, "POST", "/create_drift_schedule_check",
                          f"Scheduling the drift check of model {model_id!r}", not_found=self._model_advice(model_id),
                          json=body, conflict="Model Monitor schedules drift checks only after the first predictions "
                                              "are ingested; try again after ingestion")

    def create_quality_schedule(self, model_id: str, name: str = "daily model quality check", *,
                                cron_expression: str = "0 12 * * *", timezone: str = "UTC",
                                action: str = "") -> Any:
        """The model-quality schedule at the [uncertain] ``QUALITY_SCHEDULE_ACTION`` (same body as drift's)."""
        body = {"modelId": model_id, "name": name, "timezone": timezone, "cronExpression": cron_expression,
                "calendarType": "D", "dataSinceLastCheck": True, "data_since": 1}
        return self._call(self.scheduler, "POST", f"/{action or QUALITY_SCHEDULE_ACTION}",
                          f"Scheduling the model quality check of model {model_id!r}",
                          not_found="This Model Monitor offers no known API to schedule model-quality checks; "
                                    "schedule them in Model Monitor's UI (the model's Model Quality tab)", json=body)


# The model-quality schedule's action under /model-monitor/api/scheduler/: no public source shows it (domino-api.md
# §2.2 "MQ scheduler config get/save: path not captured"); a guess mirroring create_drift_schedule_check, which the
# sandbox serves under its option ``quality_schedule_action``. A Domino without it answers 404: step 6 says so.
QUALITY_SCHEDULE_ACTION = "create_model_quality_schedule_check"


def traffic_count(answer: Any) -> int:
    """The number of predictions in a traffic answer, whatever its exact shape (domino-api.md §2.2 is vague); 0 where
    no part of it names a count (``reported_traffic_count`` tells that case apart)."""
    return reported_traffic_count(answer) or 0


def reported_traffic_count(answer: Any, _known: bool = True) -> int | None:
    """The number of predictions a traffic answer reports, or None when no part of it names a count we know (the
    shape is undocumented, domino-api.md "Still open": then step 6 says "not reported by this Domino")."""
    if answer is None or isinstance(answer, bool):
        return None
    if isinstance(answer, (int, float)):
        return int(answer)
    if isinstance(answer, list):
        counts = [count for item in answer if (count := reported_traffic_count(item, _known)) is not None]
        return sum(counts) if counts or (not answer and _known) else None
    if isinstance(answer, dict):
        for key in TRAFFIC_COUNT_KEYS:
            value = answer.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return int(value)
        for key in TRAFFIC_LIST_KEYS:
            if key in answer:
                return reported_traffic_count(answer[key])
        counts = [count for value in answer.values() if isinstance(value, (list, dict))
                  and (count := reported_traffic_count(value, False)) is not None]
        return sum(counts) if counts else None
    return None


TRAFFIC_COUNT_KEYS = ("count", "total", "totalCount", "totalQueries", "queries", "numberOfPredictions",
                      "predictionCount", "rowCount", "matchedRowCount", "numberOfRows")
TRAFFIC_LIST_KEYS = ("traffic", "data", "items", "buckets", "predictionTraffic", "counts")


def _with_advice(error: ApiError, advice: str) -> ApiError:
    return type(error)(error.message, advice, status=error.status, server_message=error.server_message,
                       url=error.url, code=error.code)
