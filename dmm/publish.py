"""Step 6's optional outputs to Domino: previewed values as DMM custom metrics, and the daily drift schedule.

Custom metrics go through python-domino's custom-metrics client (``domino-api.md`` §2.6), one alert per value
that fails its threshold. The schedule saves the drift-check config (test and threshold per column, as the
preview used them) and creates the daily check through the monitor's scheduler (§6.4).
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


def scheduler_features(report: Mapping[str, Any], saved: Any = None) -> list[dict[str, Any]]:
    """The drift-check config: the monitor's saved entries updated with the preview's test and threshold."""
    by_name = {}
    for column in (report.get("drift") or {}).get("columns") or []:
        main = next((t for t in column.get("tests") or [] if t.get("name") == column.get("main_test")), None)
        if main:
            by_name[column["column"]] = (column, main)
    existing = (saved or {}).get("features") if isinstance(saved, dict) else None
    features = []
    for entry in existing or [{"name": name} for name in by_name]:
        entry = dict(entry)
        if entry.get("name") in by_name:
            column, main = by_name[entry["name"]]
            entry.setdefault("type", column.get("value_type"))
            entry.update({"algorithm": main.get("api_name") or main.get("name"),
                          "condition": {"operator": main["operator"], "lower": main["threshold"],
                                        "upper": main["threshold"]}})
            entry.setdefault("alertable", True)
        features.append(entry)
    return features


def schedule_drift_checks(report: Mapping[str, Any], model_id: str, monitor: Any) -> dict[str, Any]:
    """Save the drift-check config, then create the daily check (12:00 UTC, data since the last check)."""
    try:
        saved = monitor.drift_scheduler_query(model_id)
    except ApiError:
        saved = None
    features = scheduler_features(report, saved)
    if not features:
        raise UsageError("There is no drift result to schedule checks for",
                         "Run without --no-preview, with captured predictions in the window")
    monitor.save_scheduler_query(model_id, features)
    schedule = monitor.create_drift_schedule(model_id)
    return {"features": len(features), "schedule": schedule}


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
        scheduled = schedule_drift_checks(report, model_id, ctx.monitor)
        report["schedule"] = {"features": scheduled["features"]}
        notes.append(f"Schedule: saved the drift-check config for {scheduled['features']} column(s) and created "
                     "the daily drift check")
    return notes
