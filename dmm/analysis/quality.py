"""Model quality over matched rows, the metrics DMM documents, computed with scikit-learn.

``quality_metrics`` returns a JSON-able dict; every metric has a value or ``None`` with a reason, its passing
condition and threshold (defaults as data in ``DEFAULT_QUALITY_THRESHOLDS``) and a ``passed`` flag.
``join_ground_truth`` matches labels to predictions by id, latest label winning.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from dmm.analysis.binning import as_class_text
from dmm.analysis.divergence import OPERATORS
from dmm.errors import UsageError

# DMM's default quality thresholds are undocumented; these are common choices. None = no pass/fail.
DEFAULT_QUALITY_THRESHOLDS: dict = {
    "accuracy": {"operator": ">=", "threshold": 0.7},
    "precision": {"operator": ">=", "threshold": 0.7},
    "recall": {"operator": ">=", "threshold": 0.7},
    "f1": {"operator": ">=", "threshold": 0.7},
    "auc_roc": {"operator": ">=", "threshold": 0.7},
    "log_loss": {"operator": "<=", "threshold": 0.7},
    "gini_norm": {"operator": ">=", "threshold": 0.4},
    "mse": {"operator": "<=", "threshold": None},
    "mae": {"operator": "<=", "threshold": None},
    "mape": {"operator": "<=", "threshold": 0.2},
    "r2": {"operator": ">=", "threshold": 0.5},
}

METRIC_NAMES = {"classification": ("accuracy", "precision", "recall", "f1", "auc_roc", "log_loss", "gini_norm"),
                "regression": ("mse", "mae", "mape", "r2", "gini_norm")}

API_NAMES = {"accuracy": "Accuracy", "precision": "Precision", "recall": "Recall", "f1": "F1",
             "auc_roc": "AUC-ROC", "log_loss": "Log Loss", "gini_norm": "Gini (normalized)", "mse": "MSE",
             "mae": "MAE", "mape": "MAPE", "r2": "R2"}

CONVENTIONS = {
    "classification": {
        "averaging": "precision, recall and F1 are weighted by support (zero_division=0)",
        "auc_roc": "binary: probability of the positive class (the last label); multiclass: one-vs-rest, "
                   "weighted by support",
        "gini_norm": "2 * AUC - 1; multiclass: 2 * (one-vs-rest AUC weighted by support) - 1",
        "sample_weight": "used only for the normalised Gini, as DMM documents",
        "probabilities": "AUC-ROC, log loss and Gini need prediction probabilities",
    },
    "regression": {
        "mape": "scikit-learn's mean_absolute_percentage_error, a fraction (0.1 = 10%)",
        "gini_norm": "Gini of y_true ordered by y_pred descending / Gini of y_true ordered by y_true; "
                     "ties keep row order",
        "sample_weight": "used only for the normalised Gini, as DMM documents",
    },
}


def _metric(name: str, value, reason: str, thresholds: dict) -> dict:
    spec = thresholds.get(name, {"operator": None, "threshold": None})
    operator, threshold = spec.get("operator"), spec.get("threshold")
    if value is not None and not np.isfinite(value):
        value, reason = None, reason or "the metric is not finite"
    passed = None
    if value is not None and threshold is not None and operator in OPERATORS:
        passed = bool(OPERATORS[operator](value, threshold))
    return {"name": name, "api_name": API_NAMES.get(name, name), "value": None if value is None else float(value),
            "operator": operator, "threshold": threshold, "passed": passed, "reason": reason}


def _guarded(fn):
    """Value and reason: scikit-learn's refusal becomes the reason instead of an exception."""
    try:
        return fn(), ""
    except (ValueError, ZeroDivisionError, IndexError) as error:
        return None, str(error).split("\n")[0]


def _probability_matrix(proba, labels: list) -> tuple[np.ndarray | None, str]:
    matrix = np.asarray(proba, dtype="float64")
    if matrix.ndim == 1:
        if len(labels) > 2:
            return None, "a single probability column was given for a multiclass model"
        matrix = np.column_stack([1.0 - matrix, matrix])
    if matrix.shape[1] != len(labels):
        return None, f"{matrix.shape[1]} probability columns for {len(labels)} labels; pass labels in column order"
    if np.isnan(matrix).any():
        return None, "prediction probabilities contain missing values"
    return matrix, ""


def normalized_gini(y_true, y_score, sample_weight=None) -> float | None:
    """Gini of y_true ordered by y_score over the Gini of y_true ordered by itself (weighted Lorenz curves)."""
    actual = np.asarray(y_true, dtype="float64")
    weights = np.ones_like(actual) if sample_weight is None else np.asarray(sample_weight, dtype="float64")

    def gini(order_by):
        order = np.lexsort((np.arange(actual.size), -np.asarray(order_by, dtype="float64")))
        a, w = actual[order], weights[order]
        total = np.sum(a * w)
        if total == 0:
            return 0.0
        lorenz = np.cumsum(a * w) / total
        random = np.cumsum(w) / np.sum(w)
        return float(np.sum((lorenz - random) * w) / np.sum(w))

    best = gini(actual)
    return None if best == 0 else gini(y_score) / best


def _label_order(texts) -> list[str]:
    """Numeric-looking labels in numeric order ("2" before "10"), others alphabetically."""
    numbers = pd.to_numeric(pd.Series(list(texts), dtype="string"), errors="coerce")
    if numbers.notna().all():
        return [text for _, text in sorted(zip(numbers.tolist(), texts))]
    return sorted(texts)


def _classification(y_true, y_pred, proba, labels, sample_weight, thresholds) -> tuple[list, dict | None]:
    seen = set(y_true.unique().tolist()) | set(y_pred.unique().tolist())
    if labels is None:
        labels = _label_order(seen)
    else:
        labels = list(as_class_text(pd.Series(list(labels))))
    classes = labels + _label_order(seen - set(labels))
    # integer codes: scikit-learn's checks sort the labels, which is slow on strings
    codes = list(range(len(classes)))
    true = pd.Categorical(y_true, categories=classes).codes.astype(np.int64)
    pred = pd.Categorical(y_pred, categories=classes).codes.astype(np.int64)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(true, pred, labels=codes, average="weighted",
                                                                   zero_division=0)
    results = [_metric("accuracy", skm.accuracy_score(true, pred), "", thresholds),
               _metric("precision", precision, "", thresholds), _metric("recall", recall, "", thresholds),
               _metric("f1", f1, "", thresholds)]
    matrix, why = (None, "no prediction probabilities were given") if proba is None else \
        _probability_matrix(proba, classes)
    auc = weighted_auc = log_loss = None
    why_auc = log_why = why
    if matrix is not None:
        log_loss, log_why = _guarded(lambda: skm.log_loss(true, matrix, labels=codes))
        if len(np.unique(true)) < 2:
            why_auc = "only one class in the labels: AUC-ROC and Gini are undefined"
        elif len(classes) == 2:
            positive = true == 1
            auc, why_auc = _guarded(lambda: skm.roc_auc_score(positive, matrix[:, 1]))
            weighted_auc, _ = _guarded(lambda: skm.roc_auc_score(positive, matrix[:, 1], sample_weight=sample_weight))
        else:
            auc, why_auc = _guarded(lambda: skm.roc_auc_score(true, matrix, multi_class="ovr", average="weighted",
                                                              labels=codes))
            weighted_auc, _ = _guarded(lambda: skm.roc_auc_score(true, matrix, multi_class="ovr",
                                                                 average="weighted", labels=codes,
                                                                 sample_weight=sample_weight))
    gini = None if weighted_auc is None else 2.0 * weighted_auc - 1.0
    results += [_metric("auc_roc", auc, why_auc, thresholds), _metric("log_loss", log_loss, log_why, thresholds),
                _metric("gini_norm", gini, why_auc, thresholds)]
    confusion = {"labels": classes, "rows": "true label", "columns": "predicted label",
                 "matrix": skm.confusion_matrix(true, pred, labels=codes).tolist()}
    return results, confusion


def _regression(y_true, y_pred, sample_weight, thresholds) -> list:
    actual = pd.to_numeric(y_true, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    predicted = pd.to_numeric(y_pred, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    constant = np.all(actual == actual[0])
    mape_note = "labels contain 0, where scikit-learn divides by a tiny epsilon" if np.any(actual == 0) else ""
    gini = normalized_gini(actual, predicted, sample_weight)
    return [
        _metric("mse", skm.mean_squared_error(actual, predicted), "", thresholds),
        _metric("mae", skm.mean_absolute_error(actual, predicted), "", thresholds),
        _metric("mape", skm.mean_absolute_percentage_error(actual, predicted), mape_note, thresholds),
        _metric("r2", None if constant else skm.r2_score(actual, predicted),
                "the labels are constant: R2 is undefined" if constant else "", thresholds),
        _metric("gini_norm", gini, "" if gini is not None else
                "the labels sum to 0 or are constant: normalised Gini is undefined", thresholds),
    ]


def _drop_missing(y_true: pd.Series, y_pred: pd.Series, proba, sample_weight) -> tuple:
    keep = (y_true.notna() & y_pred.notna()).to_numpy()
    if proba is not None:
        proba = np.asarray(proba, dtype="float64")[keep]
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype="float64")[keep]
    return y_true[keep].reset_index(drop=True), y_pred[keep].reset_index(drop=True), proba, sample_weight, \
        int((~keep).sum())


def quality_metrics(model_type: str, y_true, y_pred, proba=None, labels=None, sample_weight=None,
                    thresholds: dict | None = None) -> dict:
    """Quality of matched rows. ``model_type`` is "classification" or "regression"; ``proba`` is one column
    (binary, positive class) or one column per label in ``labels`` order."""
    if model_type not in CONVENTIONS:
        raise ValueError(f"model_type must be 'classification' or 'regression', not {model_type!r}")
    merged = copy.deepcopy(DEFAULT_QUALITY_THRESHOLDS)
    for name, spec in (thresholds or {}).items():
        merged.setdefault(name, {}).update(spec)
    if model_type == "classification":
        y_true, y_pred = as_class_text(pd.Series(y_true)), as_class_text(pd.Series(y_pred))
    else:
        y_true, y_pred = pd.Series(y_true).reset_index(drop=True), pd.Series(y_pred).reset_index(drop=True)
    y_true, y_pred, proba, sample_weight, dropped = _drop_missing(y_true, y_pred, proba, sample_weight)
    names = METRIC_NAMES[model_type]
    result = {"model_type": model_type, "matched_rows": int(len(y_true)), "rows_with_missing_values": dropped,
              "conventions": CONVENTIONS[model_type], "thresholds": {name: merged[name] for name in names},
              "confusion_matrix": None, "reason": ""}
    if len(y_true) == 0:
        result["reason"] = "no matched rows: no label matched a prediction"
        result["metrics"] = [_metric(name, None, result["reason"], merged) for name in names]
    elif model_type == "classification":
        result["metrics"], result["confusion_matrix"] = _classification(y_true, y_pred, proba, labels,
                                                                        sample_weight, merged)
        if y_true.nunique() < 2:
            result["reason"] = "the labels hold a single class"
    else:
        result["metrics"] = _regression(y_true, y_pred, sample_weight, merged)
    result["passed"] = all(metric["passed"] is not False for metric in result["metrics"])
    return result


@dataclass
class JoinResult:
    """Predictions joined to their latest label; counts that explain what did not match."""

    frame: pd.DataFrame
    prediction_rows: int
    ground_truth_rows: int
    matched_rows: int
    duplicate_label_rows: int
    duplicate_prediction_rows: int
    unmatched_label_ids: list
    unmatched_label_count: int
    unmatched_prediction_count: int

    @property
    def join_rate(self) -> float | None:
        """Share of distinct labelled ids that match a prediction."""
        labelled = self.ground_truth_rows - self.duplicate_label_rows
        return None if labelled == 0 else self.matched_rows / labelled

    @property
    def prediction_coverage(self) -> float | None:
        """Share of distinct predictions that have a label."""
        predicted = self.prediction_rows - self.duplicate_prediction_rows
        return None if predicted == 0 else self.matched_rows / predicted

    def to_dict(self) -> dict:
        return {"prediction_rows": self.prediction_rows, "ground_truth_rows": self.ground_truth_rows,
                "matched_rows": self.matched_rows, "join_rate": self.join_rate,
                "prediction_coverage": self.prediction_coverage,
                "duplicate_label_rows": self.duplicate_label_rows,
                "duplicate_prediction_rows": self.duplicate_prediction_rows,
                "unmatched_label_ids": self.unmatched_label_ids,
                "unmatched_label_count": self.unmatched_label_count,
                "unmatched_prediction_count": self.unmatched_prediction_count,
                "rule": "ids compared as text; the latest label wins on duplicate ids (by timestamp when given, "
                        "else by row order); the latest prediction wins on duplicate prediction ids"}


def _latest(frame: pd.DataFrame, key: str, timestamp_column: str | None) -> pd.DataFrame:
    if timestamp_column and timestamp_column in frame.columns:
        order = pd.to_datetime(frame[timestamp_column], errors="coerce", utc=True)
        frame = frame.assign(_order=order).sort_values("_order", kind="stable", na_position="first")
        frame = frame.drop(columns="_order")
    return frame.drop_duplicates(subset=key, keep="last")


def join_ground_truth(predictions_df: pd.DataFrame, gt_df: pd.DataFrame, id_column: str = "event_id",
                      label_column: str = "ground_truth", gt_id_column: str | None = None,
                      gt_timestamp_column: str | None = None, prediction_timestamp_column: str | None = None,
                      max_listed: int = 20) -> JoinResult:
    """Inner join of predictions to labels by id; the result frame has the prediction columns plus
    ``label_column`` (suffixed ``_label`` if the predictions already hold a column of that name)."""
    gt_id_column = gt_id_column or id_column
    for frame, column, what in ((predictions_df, id_column, "predictions"), (gt_df, gt_id_column, "ground truth"),
                                (gt_df, label_column, "ground truth")):
        if column not in frame.columns:
            raise UsageError(f"Column {column!r} is not in the {what} (columns: {', '.join(map(str, frame.columns))})",
                             "Name the id and label columns that the files hold")
    key = "_join_id"
    predictions = predictions_df.assign(**{key: predictions_df[id_column].astype("string")})
    labels = gt_df[[gt_id_column, label_column] + ([gt_timestamp_column] if gt_timestamp_column else [])]
    labels = labels.assign(**{key: gt_df[gt_id_column].astype("string")}).dropna(subset=[key])
    latest_labels = _latest(labels, key, gt_timestamp_column)
    latest_predictions = _latest(predictions.dropna(subset=[key]), key, prediction_timestamp_column)
    label_name = label_column if label_column not in predictions_df.columns else f"{label_column}_label"
    right = latest_labels[[key, label_column]].rename(columns={label_column: label_name})
    joined = latest_predictions.merge(right, on=key, how="inner", validate="one_to_one")
    unmatched = latest_labels.loc[~latest_labels[key].isin(latest_predictions[key]), key]
    return JoinResult(
        frame=joined.drop(columns=key).reset_index(drop=True),
        prediction_rows=len(predictions_df), ground_truth_rows=len(gt_df), matched_rows=len(joined),
        duplicate_label_rows=len(labels) - len(latest_labels),
        duplicate_prediction_rows=int(predictions[key].notna().sum()) - len(latest_predictions),
        unmatched_label_ids=unmatched.head(max_listed).tolist(), unmatched_label_count=int(unmatched.size),
        unmatched_prediction_count=len(latest_predictions) - len(joined),
    )
