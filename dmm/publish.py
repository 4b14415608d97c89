"""Step 6's optional outputs to Domino: previewed values as DMM custom metrics, and the daily drift schedule.

Custom metrics go through python-domino's custom-metrics client (``domino-api.md`` §2.6), one alert per value
that fails its threshold. The schedule reads Model Monitor's drift-check config and schedule state first, saves the
config merged (the monitor's own test and threshold per column kept, flagged columns updated, missing ones added)
and creates the daily drift and model-quality checks only where none is scheduled (§6.4).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any

from dmm.checks.names import CheckName
from dmm.errors import ApiError, UsageError
from dmm.redact import redact

if TYPE_CHECKING:
    from dmm.checks.context import CheckContext

# What publishing needs to have passed: the key writes to Model Monitor, about a model that exists.
PUBLISH_NEEDS = (CheckName.API_KEY, CheckName.DMM_MODEL)

# A passing condition "value <op> threshold" as the acceptable range of a custom-metric alert.
ALERT_CONDITIONS = {"<": "lessThan", "<=": "lessThanEqual", ">": "greaterThan", ">=": "greaterThanEqual"}


@dataclass
class PushResult:
    logged: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)


def metric_values(report: Mapping[str, Any], model_id: str, timestamp: datetime) -> list[dict[str, Any]]:
    """One custom-metric value per drifted column and per quality metric that has a value."""
    stamp = timestamp.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    values = []
    for column in (report.get("drift") or {}).get("columns") or []:
        if column.get("value") is None:
            continue
        main: dict[str, Any] = next((t for t in column.get("tests") or []
                                     if t.get("name") == column.get("main_test")), {})
        values.append({"modelMonitoringId": model_id, "metric": metric_name("drift", column["column"]),
                       "value": float(column["value"]), "timestamp": stamp,
                       "tags": {"column": str(column["column"]), "test": str(column.get("main_test")),
                                "source": "6_check_monitoring"},
                       "_condition": (main.get("operator"), main.get("threshold")), "_passed": column.get("passed")})
    for metric in (report.get("quality") or {}).get("metrics") or []:
        if metric.get("value") is None:
            continue
        values.append({"modelMonitoringId": model_id, "metric": metric_name("quality", metric["name"]),
                       "value": float(metric["value"]), "timestamp": stamp,
                       "tags": {"metric": str(metric["name"]), "source": "6_check_monitoring"},
                       "_condition": (metric.get("operator"), metric.get("threshold")),
                       "_passed": metric.get("passed")})
    for own in (report.get("own_metrics") or {}).get("metrics") or []:  # --metric: under the function's own name
        if own.get("value") is None:
            continue
        values.append({"modelMonitoringId": model_id, "metric": metric_name("", own["name"]).lstrip("_"),
                       "value": float(own["value"]), "timestamp": stamp,
                       "tags": {"metric": str(own["name"]), "source": "6_check_monitoring --metric"},
                       "_condition": (own.get("operator"), own.get("threshold")), "_passed": own.get("passed")})
    return values


def metric_name(kind: str, name: str) -> str:
    return f"{kind}_" + re.sub(r"[^A-Za-z0-9_]+", "_", str(name)).strip("_")


def custom_metrics_client(credentials: Any, host: str, env: Mapping[str, str]) -> Any:
    """python-domino's custom metrics client, with ``credentials`` (``dmm.auth``; a plain string is an API key)."""
    owner, project = env.get("DOMINO_PROJECT_OWNER"), env.get("DOMINO_PROJECT_NAME")
    if not owner or not project:
        raise UsageError("DOMINO_PROJECT_OWNER and DOMINO_PROJECT_NAME are not set, so the project for custom metrics "
                         "is unknown", "Run this in a Domino workspace or job, or export both variables")
    from dmm import domino_clients
    from dmm.auth import API_KEY, Credentials

    if not isinstance(credentials, Credentials):
        credentials = Credentials(API_KEY, "the API key", api_key=str(credentials))
    try:
        return domino_clients.python_domino(credentials, f"{owner}/{project}", host).custom_metrics_client()
    except Exception as error:
        raise ApiError(f"Could not start python-domino's custom metrics client ({redact(str(error))[:300]})",
                       f"Check DOMINO_API_HOST and {credentials.describe()}; custom metrics need Domino 5.3.1 or later",
                       status=getattr(getattr(error, "response", None), "status_code", None)) from None


def push_metrics(report: Mapping[str, Any], model_id: str, client: Any,
                 timestamp: datetime | None = None) -> PushResult:
    """Log every previewed value; raise an alert for each that fails its threshold."""
    values = metric_values(report, model_id, timestamp or datetime.now(timezone.utc))
    result = PushResult()
    if not values:
        return result
    _call(lambda: client.log_metrics([{k: v for k, v in item.items() if not k.startswith("_")} for item in values]),
          "Logging custom metrics")
    result.logged = [item["metric"] for item in values]
    for item in values:
        operator, threshold = item["_condition"]
        if item["_passed"] is not False or operator not in ALERT_CONDITIONS or threshold is None:
            continue
        condition = ALERT_CONDITIONS[operator]
        # python-domino's generated model rejects a None limit, so both carry the threshold (one-sided
        # conditions read only theirs).
        limits = {"lower_limit": threshold, "upper_limit": threshold}
        description = (f"{item['metric']} = {item['value']:.4g} fails 'value {operator} {threshold}' "
                       "(6_check_monitoring preview)")
        _call(partial(client.trigger_alert, model_id, item["metric"], item["value"], condition=condition,
                      description=description, **limits),
              f"Raising an alert for {item['metric']}")
        result.alerts.append(item["metric"])
    return result


def _call(action: Callable[[], Any], what: str) -> Any:
    try:
        return action()
    except ApiError:
        raise
    except Exception as error:
        raise ApiError(f"{what} failed ({redact(str(error))[:300]})",
                       "Check that the DMM model id is right and the API key may write custom metrics") from None


def _preview_entry(column: Mapping[str, Any], main: Mapping[str, Any]) -> dict[str, Any]:
    return {"algorithm": main.get("api_name") or main.get("name"),
            "condition": {"operator": main["operator"], "lower": main["threshold"], "upper": main["threshold"]}}


def scheduler_features(report: Mapping[str, Any], saved: Any = None) -> list[dict[str, Any]]:
    """Model Monitor's saved drift-check config, merged with the preview's: a saved entry keeps its test and
    threshold (the user's settings) unless a flag set that column for this run; columns it lacks are added."""
    by_name = {}
    for column in (report.get("drift") or {}).get("columns") or []:
        main = next((t for t in column.get("tests") or [] if t.get("name") == column.get("main_test")), None)
        if main:
            by_name[column["column"]] = (column, main)
    existing = (saved or {}).get("features") if isinstance(saved, dict) else None
    features, seen = [], set()
    for entry in existing or []:
        entry = dict(entry)
        seen.add(entry.get("name"))
        if entry.get("name") in by_name and by_name[entry["name"]][0].get("source") == "flag":
            entry.update(_preview_entry(*by_name[entry["name"]]))
        features.append(entry)
    for name, (column, main) in by_name.items():
        if name not in seen:
            features.append({"name": name, "type": column.get("value_type"), **_preview_entry(column, main),
                             "alertable": True})
    return features


@dataclass
class ScheduleResult:
    features: int
    saved: bool  # False: the monitor's drift-check config already held every column as merged
    drift: str  # "created", "already scheduled" or "unknown" (not created: the summary did not say)
    quality: str  # what happened to the model-quality schedule, one phrase


def _scheduled(monitor: Any, model_id: str, flag: str) -> bool | None:
    """``isDataDriftCheckScheduled`` / ``isModelQualityCheckScheduled`` from the model summary, else the model."""
    for read in (monitor.model_summary, monitor.get_model):
        try:
            value = (read(model_id) or {}).get(flag)
        except ApiError:
            continue
        if isinstance(value, bool):
            return value
    return None


def schedule_drift_checks(report: Mapping[str, Any], model_id: str, monitor: Any) -> ScheduleResult:
    """Read Model Monitor's drift-check config and schedules first, save the merged config when it changes, and
    create the daily checks (12:00 UTC, data since the last check) only where none is scheduled: Domino's own
    scripts check ``isDataDriftCheckScheduled`` before creating (Fraud-Detection-Workshop
    ``monitoring_blueprints/scripts/ensure_drift_scheduled.py``; domino-api.md audit)."""
    try:
        saved = monitor.drift_scheduler_query(model_id)
    except ApiError:
        saved = None
    features = scheduler_features(report, saved)
    if not features:
        raise UsageError("There is no drift result to schedule checks for",
                         "Run without --no-preview, with captured predictions in the window")
    before = (saved or {}).get("features") if isinstance(saved, dict) else None
    changed = features != before
    if changed:
        monitor.save_scheduler_query(model_id, features)
    drift = _scheduled(monitor, model_id, "isDataDriftCheckScheduled")
    if drift is False:
        monitor.create_drift_schedule(model_id)
    quality = _schedule_quality(monitor, model_id)
    state = "created" if drift is False else "already scheduled" if drift else "unknown"
    return ScheduleResult(len(features), changed, state, quality)


def _schedule_quality(monitor: Any, model_id: str) -> str:
    """Model-quality checks where the monitor's API allows it (the path is [uncertain]: ``QUALITY_SCHEDULE_ACTION``)."""
    scheduled = _scheduled(monitor, model_id, "isModelQualityCheckScheduled")
    if scheduled is not False:
        return "already scheduled" if scheduled else "not created: Model Monitor did not say whether one exists"
    try:
        monitor.create_quality_schedule(model_id)
    except ApiError as error:
        why = "this Model Monitor has no known API for it" if error.status == 404 else (
            error.server_message or error.message)
        return f"not created ({redact(str(why))[:200]}); schedule it in Model Monitor's UI"
    return "created"


def publish(ctx: CheckContext, report: dict[str, Any], *, push: bool = False, schedule: bool = False) -> list[str]:
    """Step 6's --push-metrics and --schedule; what they did, for the summary (also recorded in the report)."""
    notes: list[str] = []
    if not (push or schedule):
        return notes
    blocked = [name for name in PUBLISH_NEEDS if not ctx.results[name].ok]
    if blocked:
        return [f"Skipped --push-metrics/--schedule: {', '.join(blocked)} did not pass"]
    model_id = ctx.config.model_monitor_id
    if push:
        pushed = push_metrics(report, model_id, ctx.services.custom_metrics(), ctx.end)
        report["custom_metrics"] = {"logged": pushed.logged, "alerts": pushed.alerts}
        notes.append(f"Custom metrics: logged {len(pushed.logged)} value(s), raised {len(pushed.alerts)} alert(s)")
    if schedule:
        done = schedule_drift_checks(report, model_id, ctx.monitor)
        report["schedule"] = {"features": done.features, "saved": done.saved, "drift": done.drift,
                              "quality": done.quality}
        config = (f"saved the merged drift-check config ({done.features} column(s); Model Monitor's own tests and "
                  "thresholds kept)" if done.saved else "Model Monitor's drift-check config already covers every "
                  "column; left as it is")
        drift = {"created": "created the daily drift check", "already scheduled": "a drift check is already "
                 "scheduled, so none was added"}.get(done.drift, "no drift check created: Model Monitor did not say "
                                                                 "whether one is scheduled (check its UI)")
        notes.append(f"Schedule: {config}; {drift}; model-quality check: {done.quality}")
    return notes
