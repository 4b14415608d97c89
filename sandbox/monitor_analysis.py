"""The monitor's analyses, shaped as DMM answers them: drift per column, model quality, traffic.

The numbers come from the toolkit's engine (``dmm.analysis``), imported when an analysis runs, so the routes work
(and refuse with 501) before the engine is installed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sandbox.errors import RouteError
from sandbox.monitor_data import (
    INGESTED_AT,
    LABEL,
    ROW_ID,
    TIME,
    ground_truth_frame,
    matched_rows,
    parse_time,
    prediction_frames,
    prediction_variable,
    training_frame,
    variables_of,
)
from sandbox.monitor_options import OPTIONS
from sandbox.monitor_rules import refuse
from sandbox.state import SandboxState

SORT_KEYS = ("column_name", "divergence", "model_column_id", "feature_importance", "created_on", "created_at",
             "updated_at")


def _engine():
    try:
        import dmm.analysis as engine  # noqa: PLC0415 - the engine is optional until it is installed
    except ImportError as error:
        raise RouteError(501, f"The analysis engine (dmm.analysis) is not available: {error}") from None
    return engine


def default_drift_features(model: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": f"{model['id']}-{index}", "name": variable["name"], "type": variable["variableType"],
             "value": None, "algorithm": OPTIONS["default_drift_algorithm"],
             "condition": dict(OPTIONS["default_drift_condition"]), "alertable": True}
            for index, variable in enumerate(variables_of(model, "feature", "prediction"))]


def _window(body: dict[str, Any]) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    start = parse_time(body.get("startDate", body.get("start_date")), "startDate")
    end = parse_time(body.get("endDate", body.get("end_date")), "endDate")
    return start, end


def _engine_test(engine, algorithm: str) -> str:
    """DMM's test name (``"POPULATION STABILITY INDEX"``) or the engine's key (``"PSI"``) -> the engine's key."""
    tests = engine.DEFAULT_DRIFT_CONFIG["tests"]
    for key, spec in tests.items():
        if algorithm.upper() in (key, spec["api_name"]):
            return key
    raise refuse(f"Unknown drift algorithm {algorithm!r}; use one of {[spec['api_name'] for spec in tests.values()]}")


def _column_config(engine, chosen: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    columns = {}
    for name, item in chosen.items():
        condition = item.get("condition") or OPTIONS["default_drift_condition"]
        if condition.get("operator") not in ("<", "<=", ">", ">="):
            raise refuse(f"Variable {name}: condition.operator must be one of <, <=, >, >=")
        columns[name] = {"test": _engine_test(engine, item.get("algorithm") or OPTIONS["default_drift_algorithm"]),
                         "operator": condition["operator"], "threshold": float(condition["lower"])}
    return columns


def analyse_drift(state: SandboxState, model: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    pagination = body.get("pagination")
    if OPTIONS["drift_requires_pagination"] and not isinstance(pagination, dict):
        raise refuse("pagination{sortOrder, sortOn} is required")
    pagination = pagination or {"sortOrder": 1, "sortOn": "column_name"}
    if pagination.get("sortOn") not in SORT_KEYS or pagination.get("sortOrder") not in (1, -1):
        raise refuse(f"pagination.sortOn must be one of {list(SORT_KEYS)} and pagination.sortOrder 1 or -1")
    if model.get("ingestionStatus") != "prediction":
        raise refuse("No prediction data registered")
    start, end = _window(body)
    engine = _engine()
    chosen = {item["name"]: item for item in (body.get("features") or model.get("_driftQuery")
                                              or default_drift_features(model)) if isinstance(item, dict)}
    monitored = [v for v in variables_of(model, "feature", "prediction") if v["name"] in chosen]
    calculator = engine.DriftCalculator(config={"columns": _column_config(engine, chosen)})
    calculator.fit(training_frame(state, model), {v["name"]: v["valueType"] for v in monitored})
    count = 0
    for frame in prediction_frames(state, model, start, end):
        calculator.update(frame)
        count += len(frame)
    results = {result.column: result.to_dict() for result in calculator.results()}
    features = []
    for index, variable in enumerate(monitored):
        result, config = results[variable["name"]], chosen[variable["name"]]
        features.append({
            "name": variable["name"], "modelColumnId": f"{model['id']}-{index}",
            "variableType": variable["variableType"], "valueType": variable["valueType"],
            "featureImportance": variable.get("featureImportance"),
            "algorithm": next(t["api_name"] for t in result["tests"] if t["name"] == result["main_test"]),
            "condition": config.get("condition") or OPTIONS["default_drift_condition"],
            "alertable": config.get("alertable", True), "divergence": result["value"],
            "isDrifted": result["passed"] is False, "bins": result["bins"],
            "counts": {"training": result["reference_counts"], "prediction": result["production_counts"]},
            "tests": result["tests"], "topBins": result["top_bins"], "unseenClasses": result["unseen_classes"],
            "outOfRange": result["out_of_range"],
            "reason": result["reason"]})
    sort_key = {"column_name": "name", "divergence": "divergence", "model_column_id": "modelColumnId",
                "feature_importance": "featureImportance"}.get(pagination["sortOn"], "modelColumnId")
    features.sort(key=lambda item: (item[sort_key] is None, item[sort_key] if item[sort_key] is not None else 0),
                  reverse=pagination["sortOrder"] == -1)
    drifted = [item["name"] for item in features if item["isDrifted"]]
    return {"modelId": model["id"], "startDate": start.isoformat() if start is not None else None,
            "endDate": end.isoformat() if end is not None else None, "numberOfPredictions": count,
            "totalNumberOfVariables": len(features), "numberOfVariablesDrifted": len(drifted),
            "variablesDrifted": drifted, "pagination": pagination,
            "conventions": {"epsilon": calculator.config.epsilon, "binning": "fitted on the training data only"},
            "features": features}


def _probabilities(model: dict[str, Any], matched: pd.DataFrame) -> np.ndarray | None:
    declared = variables_of(model, "prediction_probability")
    column = declared[0]["name"] if declared else "prediction_probability"
    if column not in matched.columns or matched[column].isna().any():
        return None
    rows = [np.ravel(np.asarray(value, dtype=float)) for value in matched[column]]
    if len({len(row) for row in rows}) != 1:
        return None
    matrix = np.vstack(rows)
    return matrix[:, 0] if matrix.shape[1] == 1 else matrix


def analyze_model_quality(state: SandboxState, model: dict[str, Any], body: dict[str, Any]) -> dict[str, Any] | None:
    """Metrics over predictions matched to labels; None when nothing matched (DMM answers 204)."""
    prediction = prediction_variable(model)
    if prediction is None:
        raise refuse("The model has no prediction variable, so model quality cannot be computed")
    if not model.get("_groundTruthVariables"):
        raise refuse("No ground truth registered")
    start, end = _window(body)
    matched = matched_rows(state, model, start, end)
    if matched.empty:
        return None
    engine = _engine()
    proba = _probabilities(model, matched)
    labels = None
    if model["modelType"] == "classification" and proba is not None:
        # capture lists probabilities in the model's class order; scikit-learn's is sorted
        labels = sorted(set(engine.class_keys(matched[LABEL]).dropna())
                        | set(engine.class_keys(matched[prediction["name"]]).dropna()))
    thresholds = {**OPTIONS["default_quality_conditions"], **(body.get("thresholds") or {})}
    from dmm.errors import ConfigError  # noqa: PLC0415 - with the engine, which is optional

    try:
        conditions = engine.quality_thresholds(thresholds)
    except ConfigError as error:
        raise refuse(str(error)) from None
    result = engine.quality_metrics(model["modelType"], matched[LABEL], matched[prediction["name"]], proba=proba,
                                    labels=labels, thresholds=conditions, ids=matched[ROW_ID]).to_dict()
    metrics = [{"name": metric["api_name"], "key": metric["name"], "value": metric["value"],
                "isFailed": metric["passed"] is False, "condition": {"operator": metric["operator"],
                                                                    "threshold": metric["threshold"]},
                "reason": metric["reason"]} for metric in result["metrics"]]
    return {"modelId": model["id"], "startDate": start.isoformat() if start is not None else None,
            "endDate": end.isoformat() if end is not None else None, "matchedRowCount": int(len(matched)),
            "metrics": metrics, "confusionMatrix": result["confusion_matrix"],
            "conventions": result["conventions"], "reason": result["reason"],
            "unscoreableRows": result["unscoreable_rows"]}


def _hourly(times: pd.Series) -> list[dict[str, Any]]:
    counts = times.dropna().dt.floor("h").value_counts().sort_index()
    return [{"timestamp": int(stamp.timestamp()), "queries": int(count)} for stamp, count in counts.items()]


def prediction_traffic(state: SandboxState, model: dict[str, Any], start, end) -> dict[str, Any]:
    times = [frame[TIME] for frame in prediction_frames(state, model, start, end)]
    series = pd.concat(times) if times else pd.Series([], dtype="datetime64[ns, UTC]")
    traffic = _hourly(series)
    return {"modelId": model["id"], "totalQueries": int(series.notna().sum()), "traffic": traffic}


def ground_truth_traffic(state: SandboxState, model: dict[str, Any], start, end) -> dict[str, Any]:
    labels = ground_truth_frame(state, model)
    times = pd.to_datetime(labels[INGESTED_AT], utc=True) if len(labels) else pd.Series([], dtype="datetime64[ns, UTC]")
    keep = pd.Series(True, index=labels.index)
    if start is not None:
        keep &= times >= start
    if end is not None:
        keep &= times < end
    matched = matched_rows(state, model, None, None, labels)
    matched_ids = set(matched[ROW_ID]) if len(matched) else set()
    in_window = labels[keep]
    return {"modelId": model["id"], "groundTruthRowCount": int(len(in_window)),
            "matchedRowCount": int(in_window[ROW_ID].isin(matched_ids).sum()) if len(in_window) else 0,
            "traffic": _hourly(times[keep]) if len(in_window) else []}
