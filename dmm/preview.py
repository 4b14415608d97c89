"""Step 6's preview: drift and model quality as DMM will compute them, now, from the training set and the captures.

Drift compares the training set with the predictions captured in a window: every feature, and the prediction
(captured under the target's name, so the training set's target column is its reference). Quality is computed
over predictions that have a label, latest label winning. Prediction files are read in chunks, so memory holds
bin counts and the matched rows, never the whole window. ``build_report`` returns the JSON-able dict that
``dmm.report`` renders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from dmm.checks.context import CheckContext
from dmm.checks.ground_truth import ID_COLUMN
from dmm.checks.names import CheckName
from dmm.checks.registry import any_failed
from dmm.checks.result import CheckResult
from dmm.checks.scan import (
    BATCH_ROWS,
    PLAN_KEY,
    PROBABILITY_COLUMN,
    SCAN_KEY,
    ScanPlan,
    WindowScan,
    engine_ready,
    window_scan,
)
from dmm.drift_settings import DriftFlags, DriftSettings, flagged_unknown, resolve
from dmm.errors import DmmError
from dmm.redact import redact
from dmm.report import json_ready

REPORT_FORMAT_VERSION = 1


@dataclass(frozen=True)
class PreviewOptions:
    drift_config: dict | None = None
    batch_rows: int = BATCH_ROWS
    metrics: tuple[Any, ...] = ()  # dmm.own_metrics.OwnMetric, from --metric
    drift_settings: DriftSettings | None = None  # where each column's test came from (dmm/drift_settings.py)


def read_drift_settings(ctx: CheckContext, flags: DriftFlags) -> DriftSettings:
    """Model Monitor's saved test and threshold per column (drift-scheduler-query), the flags over them."""
    try:
        saved, error = ctx.monitor.drift_scheduler_query(ctx.config.model_monitor_id), None
    except Exception as exc:  # a config or monitor the checks report; the preview falls back to defaults
        saved, error = None, redact(str(exc))[:200]
    return resolve(saved, flags, monitor_error=error)


def build_report(ctx: CheckContext, results: Sequence[CheckResult], *, preview: bool = True,
                 options: PreviewOptions = PreviewOptions()) -> dict[str, Any]:
    """The whole report: checks, and unless ``preview`` is False, drift, quality and their conventions."""
    report: dict[str, Any] = {
        "report_version": REPORT_FORMAT_VERSION,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "inputs": describe_inputs(ctx),
        "checks": [result.to_dict() for result in results],
        "passed": not any_failed(results),
    }
    if preview:
        engine_ready(ctx)
        drift = _guarded(lambda: preview_drift(ctx, options), "drift")
        report["drift"] = drift
        report["quality"] = _guarded(lambda: preview_quality(ctx, options), "quality")
        report["conventions"] = drift.pop("conventions", {})
        watchers = {watcher.name: watcher for watcher in ctx.memo.get(PLAN_KEY, ScanPlan).watchers}
        if "timeline" in watchers:
            report["timeline"] = _guarded(lambda: preview_timeline(ctx, watchers["timeline"], drift, options),
                                          "timeline")
        if options.metrics:  # a failing function is the user's to fix: step 6 exits 2 after the report is written
            try:
                report["own_metrics"] = preview_own_metrics(ctx, options, watchers.get("own_metrics"))
            except DmmError as error:
                report["own_metrics"] = {"status": "error", "reason": redact(str(error)), "code": error.code,
                                         "metrics": []}
    report["probes"] = describe_probes(ctx, results)
    return report


def describe_probes(ctx: CheckContext, results: Sequence[CheckResult]) -> dict[str, Any]:
    """The toolkit's own probe predictions, counted apart: Domino captures them like any prediction, step 6 leaves
    them out of drift, quality, traffic counts and the join rate (their event ids start with ``prefix``)."""
    from dmm.checks.probes import PROBE_EVENT_PREFIX

    endpoint = next((r for r in results if r.name == CheckName.ENDPOINT), None)
    scan = ctx.memo.peek(SCAN_KEY)
    return {"prefix": PROBE_EVENT_PREFIX, "sent": bool(endpoint and endpoint.facts.get("event_id")),
            "event_id": endpoint.facts.get("event_id") if endpoint else None,
            "probe": ctx.inputs.probe,
            "rows_in_window": scan.probes if scan is not None else None,
            "rows_in_files": scan.listed_probes if scan is not None else None}


def _guarded(compute: Callable[[], dict[str, Any]], what: str) -> dict[str, Any]:
    """A preview that cannot be computed says why in the report; the checks and the report still come out."""
    try:
        return compute()
    except DmmError as error:
        return {"status": "error", "reason": f"the {what} preview failed: {redact(str(error))}", "columns": []}
    except Exception as error:
        return {"status": "error", "reason": f"the {what} preview failed: {type(error).__name__}: "
                                             f"{redact(str(error))}", "columns": []}


def describe_inputs(ctx: CheckContext) -> dict[str, Any]:
    inputs: dict[str, Any] = {"window": {"start": ctx.start.isoformat(timespec="seconds"),
                                         "end": ctx.end.isoformat(timespec="seconds")}}
    for name, read in (("config", lambda: str(ctx.config.source_path)),
                       ("model_monitor_id", lambda: ctx.config.model_monitor_id),
                       ("model", lambda: _model_name(ctx)),
                       ("training_set", lambda: f"{ctx.schema.training_set_name} v{ctx.schema.training_set_version}"),
                       ("model_type", lambda: ctx.schema.model_type),
                       ("target", lambda: ctx.schema.target),
                       ("prediction_data", lambda: str(ctx.prediction_dir) if ctx.prediction_dir else None),
                       ("prediction_files", lambda: len(ctx.prediction_files)),
                       ("ground_truth", lambda: list(ctx.ground_truth.sources) if ctx.ground_truth else None)):
        try:
            inputs[name] = read()
        except Exception:  # an input the checks could not establish is reported there, not here
            inputs[name] = None
    return inputs


def _model_name(ctx: CheckContext) -> dict[str, Any] | None:
    """The DMM model's name and version, when the checks already fetched its record (no call of its own)."""
    model = ctx.memo.peek("model")
    if not isinstance(model, dict) or not model.get("name"):
        return None
    return {"name": model.get("name"), "version": model.get("version")}


def _unavailable(ctx: CheckContext, needs: Sequence[CheckName]) -> str | None:
    """Why the preview cannot run, if a check it relies on failed or was skipped."""
    blocked = [name for name in needs if name in ctx.results and not ctx.results[name].ok]
    return f"not computed because {', '.join(blocked)} did not pass" if blocked else None


def preview_drift(ctx: CheckContext, options: PreviewOptions = PreviewOptions()) -> dict[str, Any]:
    reason = _unavailable(ctx, [CheckName.TRAINING_SET])
    if reason:
        return {"status": "skipped", "reason": reason, "columns": []}
    # the counts come from step 6's one pass over the window's files (dmm/checks/scan.py)
    scan = _scan(ctx, options)
    calculator = scan.result("drift")
    result = calculator.to_dict()
    conventions = collect_conventions(result)
    status = "ok" if result["production_rows_read"] else "empty"
    settings = options.drift_settings or DriftSettings()
    for column in result["columns"]:
        column["source"] = settings.source(column["column"])
    out = {"status": status, "production_rows": result["production_rows_read"], "probe_rows": scan.probes,
           "failing_columns": [c["column"] for c in result["columns"] if c["passed"] is False],
           "columns": result["columns"], "config": result["config"], "conventions": conventions,
           "prediction_column": ctx.schema.prediction_name, "settings": settings.to_dict(),
           "engine": scan.engine}  # which executor counted the bins (dmm.analysis.engine)
    unknown = flagged_unknown(settings, [c["column"] for c in result["columns"]])
    if unknown:
        out["settings"]["notes"].append(f"--drift-test/--drift-threshold name no previewed column: "
                                        f"{', '.join(unknown)}")
    if status == "empty":
        out["reason"] = ("no captured predictions in the window"
                         + ("" if ctx.prediction_dir else "; pass --prediction-data DIR"))
    return out


def _scan(ctx: CheckContext, options: PreviewOptions) -> WindowScan:
    return window_scan(ctx, preview=True, drift_config=options.drift_config, batch_rows=options.batch_rows)


def collect_conventions(drift: dict[str, Any]) -> dict[str, Any]:
    """One entry per test: its condition, threshold and conventions (bins, smoothing, log base, direction)."""
    tests: dict[str, Any] = {}
    for column in drift["columns"]:
        for test in column["tests"]:
            tests.setdefault(test["name"], {"api_name": test["api_name"], "condition": test["condition"],
                                            "conventions": test["conventions"]})
    return {"binning": "Freedman-Diaconis on the training data, capped at 20 bins, for numbers; one bin per "
                       "training class for categories; plus 'Untrained Classes' and 'Invalid' guard bins",
            "reference": "the training set; the prediction's reference is the training set's target column",
            "tests": tests, "config": drift.get("config", {})}


def preview_quality(ctx: CheckContext, options: PreviewOptions = PreviewOptions()) -> dict[str, Any]:
    from dmm.analysis import quality_metrics

    reason = _unavailable(ctx, [CheckName.TRAINING_SET])
    if reason:
        return {"status": "skipped", "reason": reason}
    try:
        truth = ctx.ground_truth
    except Exception as error:  # already reported by the join-rate check
        return {"status": "skipped", "reason": f"ground truth unavailable: {error}"}
    if truth is None or truth.frame.empty:
        return {"status": "skipped",
                "reason": "no ground truth (pass --ground-truth FILE or run 5_upload_ground_truth.py)"}
    schema = ctx.schema
    prediction = schema.prediction_name
    label_name = truth.joined_label(prediction)
    # labels indexed once; the latest prediction and the latest label win across every chunk and file
    joined = _scan(ctx, options).result("quality")
    if not joined.matched_rows:
        return {"status": "empty", "matched_rows": 0, "label_column": truth.label_column,
                "reason": "no labelled prediction in the window", "join": json_ready(joined.to_dict())}
    labels_order = list(schema.class_labels) or None
    metrics = quality_metrics(schema.model_type, joined.column(label_name), joined.column(prediction),
                              proba=_probabilities(joined.columns.get(PROBABILITY_COLUMN)), labels=labels_order,
                              ids=joined.columns.get(ID_COLUMN))
    return {**json_ready(metrics.to_dict()), "status": "ok", "label_column": truth.label_column,
            "prediction_column": prediction, "join": json_ready(joined.to_dict())}


def _probabilities(values: Any) -> np.ndarray | None:
    """The matched rows' probabilities as a float matrix (the join keeps lists of one length as one), or None
    when a row has none or the rows' lists differ in length."""
    if values is None:
        return None
    if isinstance(values, np.ndarray) and values.ndim == 2:
        return values
    rows = pd.Series(values)
    if rows.isna().any():
        return None
    try:
        return np.asarray([np.asarray(v, dtype="float64") for v in rows.tolist()])
    except (TypeError, ValueError):
        return None


def _label_name(ctx: CheckContext) -> tuple[str, str] | None:
    """(the label column as the ground truth names it, its name in the joined rows), or None without labels."""
    try:
        truth = ctx.ground_truth
    except Exception:
        return None
    if truth is None or truth.frame.empty:
        return None
    return truth.label_column, truth.joined_label(ctx.schema.prediction_name)


def _not_watched(scan: WindowScan) -> str | None:
    """Why a watcher's view is missing: the executor did not run the watchers (Spark: ``scan.engine["watchers"]``)."""
    said = scan.engine.get("watchers")
    return f"{said}; run step 6 with --engine local for it" if said else None


def preview_timeline(ctx: CheckContext, timeline: Any, drift: dict[str, Any],
                     options: PreviewOptions = PreviewOptions()) -> dict[str, Any]:
    """Traffic, drift of the top columns and the prediction, and quality, per day (per hour in short windows)."""
    scan = _scan(ctx, options)
    skipped = _not_watched(scan)
    if skipped:
        return {"status": "skipped", "reason": skipped}
    if "timeline" in scan.errors:
        raise scan.errors["timeline"]
    columns = list(drift.get("columns") or [])
    prediction = ctx.schema.prediction_name
    from dmm.analysis.timeline import TOP_COLUMNS

    shown = [c for c in columns if c["column"] != prediction][:TOP_COLUMNS]
    shown += [c for c in columns if c["column"] == prediction]
    calculator = scan.drift if "drift" not in scan.errors else None
    quality = None
    names = _label_name(ctx)
    if names is not None and "quality" not in scan.errors and scan.joined is not None:
        rows = scan.joined.select([*timeline.columns, names[1], prediction])  # not the probability lists
        quality = timeline.quality_over_time(rows, ctx.schema.model_type, names[1], prediction)
    out = timeline.to_dict(calculator, shown, quality)
    out["status"] = "ok"
    return out


def preview_own_metrics(ctx: CheckContext, options: PreviewOptions, rows: Any) -> dict[str, Any]:
    """Each --metric function on (training set, the window's rows with their labels)."""
    from dmm.analysis.join import normalise_ids
    from dmm.own_metrics import METRIC_RULE, run_metrics

    reason = _unavailable(ctx, [CheckName.TRAINING_SET])
    if reason:  # the baseline is the training set
        return {"status": "skipped", "reason": reason, "metrics": []}
    scan = _scan(ctx, options)
    skipped = _not_watched(scan)
    if skipped:
        return {"status": "skipped", "reason": skipped, "metrics": []}
    if "own_metrics" in scan.errors:
        raise scan.errors["own_metrics"]
    window = rows.frame() if rows is not None else pd.DataFrame()
    if window.empty and not len(window.columns):  # a quiet window: no rows, but the columns a function may name
        window = pd.DataFrame(columns=[ID_COLUMN, "timestamp", *ctx.schema.feature_names,
                                       ctx.schema.prediction_name])
    names = _label_name(ctx)
    joined = scan.joined.select([ID_COLUMN, names[1]]) if names is not None and scan.joined is not None \
        and "quality" not in scan.errors else None
    if names is not None and joined is not None and not joined.empty and ID_COLUMN in window.columns:
        label = names[0] if names[0] not in window.columns else names[1]
        labels = pd.DataFrame({"_key": normalise_ids(joined[ID_COLUMN]).to_numpy(dtype=object),
                               label: joined[names[1]].to_numpy()}).drop_duplicates("_key", keep="last")
        window = window.assign(_key=normalise_ids(window[ID_COLUMN]).to_numpy(dtype=object))
        window = window.merge(labels, on="_key", how="left").drop(columns="_key")
    values = run_metrics(options.metrics, ctx.training_frame, window)
    return {"status": "ok", "window_rows": len(window), "rule": METRIC_RULE, "metrics": values}
