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
from dmm.checks.scan import BATCH_ROWS, PROBABILITY_COLUMN, WindowScan, engine_ready, window_scan
from dmm.errors import DmmError
from dmm.redact import redact
from dmm.report import json_ready

REPORT_FORMAT_VERSION = 1


@dataclass(frozen=True)
class PreviewOptions:
    drift_config: dict | None = None
    batch_rows: int = BATCH_ROWS


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
    return report


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
    out = {"status": status, "production_rows": result["production_rows_read"],
           "failing_columns": [c["column"] for c in result["columns"] if c["passed"] is False],
           "columns": result["columns"], "config": result["config"], "conventions": conventions,
           "engine": scan.engine}  # which executor counted the bins (dmm.analysis.engine)
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
    label_name = truth.label_column if truth.label_column != prediction else f"{truth.label_column}_label"
    # labels indexed once; the latest prediction and the latest label win across every chunk and file
    joined = _scan(ctx, options).result("quality")
    rows = joined.frame
    if rows.empty:
        return {"status": "empty", "matched_rows": 0, "label_column": truth.label_column,
                "reason": "no labelled prediction in the window", "join": json_ready(joined.to_dict())}
    labels_order = list(schema.class_labels) or None
    metrics = quality_metrics(schema.model_type, rows[label_name], rows[prediction],
                              proba=_probabilities(rows), labels=labels_order, ids=rows[ID_COLUMN])
    return {**json_ready(metrics.to_dict()), "status": "ok", "label_column": truth.label_column,
            "prediction_column": prediction, "join": json_ready(joined.to_dict())}


def _probabilities(rows: pd.DataFrame) -> np.ndarray | None:
    if PROBABILITY_COLUMN not in rows.columns or rows[PROBABILITY_COLUMN].isna().any():
        return None
    values = rows[PROBABILITY_COLUMN].tolist()
    try:
        return np.asarray([np.asarray(v, dtype="float64") for v in values])
    except (TypeError, ValueError):
        return None

