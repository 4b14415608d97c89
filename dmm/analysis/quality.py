"""Model quality over matched rows, the metrics DMM documents, computed with scikit-learn's algorithms in numpy
(``dmm.analysis.metrics``: no scikit-learn import on step 6's path).

``quality_metrics`` returns a ``QualityResult`` (``.to_dict()`` is JSON-able): every metric has a value or ``None``
with a reason, its passing condition (a validated ``Threshold``; defaults as data in
``DEFAULT_QUALITY_THRESHOLDS``) and a ``passed`` flag. Rows that cannot be scored (a regression label that is not a
number, an infinite prediction) are counted and named, and the metrics are computed on the rest. The join of
labels to predictions lives in ``dmm.analysis.join``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dmm.analysis import metrics
from dmm.analysis.curves import class_scores, classification_details, regression_details, roc
from dmm.analysis.keys import CLASS_KEY_RULE, class_keys
from dmm.analysis.thresholds import Threshold
from dmm.errors import ConfigError

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
        "class_values": CLASS_KEY_RULE,
    },
    "regression": {
        "mape": "mean of |label - prediction| / |label| over the rows whose label is not 0, a fraction "
                "(0.1 = 10%); rows with label 0 are left out and counted in the metric's note",
        "gini_norm": "Gini of y_true ordered by y_pred descending / Gini of y_true ordered by y_true; rows with "
                     "tied predictions share their labels' mean, so ties never depend on row order (a constant "
                     "prediction scores 0)",
        "unscoreable_rows": "rows whose label is not a number or whose label or prediction is infinite are left "
                            "out, counted and named in unscoreable_rows",
        "sample_weight": "used only for the normalised Gini, as DMM documents",
    },
}


UNSCOREABLE_EXAMPLES = 10


def quality_thresholds(overrides: Mapping[str, Any] | None = None) -> dict[str, Threshold]:
    """``DEFAULT_QUALITY_THRESHOLDS`` with ``overrides`` ({metric: {operator?, threshold?}}) merged in, each one a
    validated ``Threshold``: an unknown metric or operator is a ``ConfigError``, never silently ignored."""
    merged = {name: Threshold(spec["operator"], spec["threshold"]) for name, spec in DEFAULT_QUALITY_THRESHOLDS.items()}
    for name, spec in (overrides or {}).items():
        if name not in merged:
            raise ConfigError(f"The quality thresholds name an unknown metric {name!r}",
                              f"Use one of {', '.join(merged)}")
        merged[name] = spec if isinstance(spec, Threshold) else \
            Threshold.parse(spec, f"quality metric {name}", default=merged[name])
    return merged


@dataclass
class MetricResult:
    name: str
    value: float | None
    condition: Threshold
    reason: str = ""
    note: str = ""

    @property
    def passed(self) -> bool | None:
        return self.condition.passes(self.value)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "api_name": API_NAMES.get(self.name, self.name), "value": self.value,
                "operator": self.condition.operator, "threshold": self.condition.threshold, "passed": self.passed,
                "reason": self.reason, "note": self.note}


def _metric(name: str, value: Any, reason: str, thresholds: Mapping[str, Threshold], note: str = "") -> MetricResult:
    if value is not None and not np.isfinite(value):
        value, reason = None, reason or "the metric is not finite"
    return MetricResult(name, None if value is None else float(value), thresholds[name], reason, note)


@dataclass
class QualityResult:
    """Quality of the matched rows: one ``MetricResult`` per metric, and what was left out and why."""

    model_type: str
    matched_rows: int
    metrics: list[MetricResult]
    thresholds: dict[str, Threshold]
    rows_with_missing_values: int = 0
    unscoreable_rows: dict[str, Any] = field(default_factory=dict)
    confusion_matrix: dict[str, Any] | None = None
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)  # per-class table, curves, distributions (curves.py)

    @property
    def conventions(self) -> dict[str, str]:
        return CONVENTIONS[self.model_type]

    @property
    def passed(self) -> bool:
        return all(metric.passed is not False for metric in self.metrics)

    def metric(self, name: str) -> MetricResult:
        return next(metric for metric in self.metrics if metric.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {"model_type": self.model_type, "matched_rows": self.matched_rows,
                "rows_with_missing_values": self.rows_with_missing_values,
                "unscoreable_rows": self.unscoreable_rows or {"count": 0},
                "conventions": self.conventions,
                "thresholds": {metric.name: metric.condition.to_dict() for metric in self.metrics},
                "confusion_matrix": self.confusion_matrix, "reason": self.reason,
                "metrics": [metric.to_dict() for metric in self.metrics], "passed": self.passed,
                "details": self.details}


def _guarded(fn: Callable[[], Any]) -> tuple[Any, str]:
    """Value and reason: a metric's refusal (scikit-learn's message, dmm.analysis.metrics) becomes the reason
    instead of an exception."""
    try:
        return fn(), ""
    except (ValueError, ZeroDivisionError, IndexError) as error:
        return None, str(error).split("\n")[0]


def _probability_matrix(proba: Any, labels: list[str]) -> tuple[np.ndarray | None, str]:
    matrix = np.asarray(proba, dtype="float64")
    if matrix.ndim == 1:
        if len(labels) > 2:
            return None, "a single probability column was given for a multiclass model"
        matrix = np.column_stack([1.0 - matrix, matrix])
    if matrix.shape[1] != len(labels):
        return None, f"{matrix.shape[1]} probability columns for {len(labels)} labels; pass labels in column order"
    if np.isnan(matrix).any():
        return None, "prediction probabilities contain missing values"
    if not np.isfinite(matrix).all():
        return None, "prediction probabilities contain infinite values"
    return matrix, ""


def normalized_gini(y_true: Any, y_score: Any, sample_weight: Any = None) -> float | None:
    """Gini of y_true ordered by y_score over the Gini of y_true ordered by itself (weighted Lorenz curves).
    Rows with tied scores share their weighted mean label, so the value never depends on row order."""
    actual = np.asarray(y_true, dtype="float64")
    weights = np.ones_like(actual) if sample_weight is None else np.asarray(sample_weight, dtype="float64")

    def gini(order_by: np.ndarray) -> float:
        score = -np.asarray(order_by, dtype="float64")
        order = np.argsort(score, kind="stable")
        s, a, w = score[order], actual[order], weights[order]
        starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        group_mass = np.add.reduceat(a * w, starts)
        group_weight = np.add.reduceat(w, starts)
        sizes = np.diff(np.r_[starts, s.size])
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(group_weight != 0, group_mass / group_weight, 0.0)
        mass = np.repeat(mean, sizes) * w
        total = np.sum(mass)
        if total == 0 or not np.isfinite(total):
            return 0.0
        lorenz = np.cumsum(mass) / total
        random = np.cumsum(w) / np.sum(w)
        return float(np.sum((lorenz - random) * w) / np.sum(w))

    if actual.size == 0:
        return None
    best = gini(actual)
    return None if best == 0 else gini(y_score) / best


def _label_order(texts: Any) -> list[str]:
    """Numeric-looking labels in numeric order ("2" before "10"), others alphabetically."""
    texts = list(texts)
    numbers = pd.to_numeric(pd.Series(texts, dtype="string"), errors="coerce")
    if numbers.notna().all():
        return [text for _, text in sorted(zip(numbers.tolist(), texts, strict=False))]
    return sorted(texts)


def _classification(y_true: pd.Series, y_pred: pd.Series, proba: Any, labels: Sequence[Any] | None,
                    sample_weight: Any,
                    thresholds: Mapping[str, Threshold]) -> tuple[list[MetricResult], dict[str, Any], dict[str, Any]]:
    true_codes, true_seen = pd.factorize(y_true)  # each column hashed once: its classes and its codes
    pred_codes, pred_seen = pd.factorize(y_pred)
    seen = set(true_seen.tolist()) | set(pred_seen.tolist())
    if labels is None:
        labels = _label_order(seen)
    else:
        labels = list(class_keys(pd.Series(list(labels))).dropna())
    classes = labels + _label_order(seen - set(labels))
    # integer codes 0..len(classes)-1, what dmm.analysis.metrics takes
    position = {name: i for i, name in enumerate(classes)}
    true = np.array([position[name] for name in true_seen.tolist()], dtype=np.int64)[true_codes]
    pred = np.array([position[name] for name in pred_seen.tolist()], dtype=np.int64)[pred_codes]
    scores = class_scores(true, pred, classes)  # per class once: the weighted metrics and the report's table
    # scikit-learn's average="weighted" is np.average of the per-class values weighted by support (no NaN here:
    # zero_division=0, and the matched rows give some class a support)
    precision, recall, f1 = (float(np.average(values, weights=scores[3])) for values in scores[:3])
    averaged = "weighted average over classes by support"
    results = [_metric("accuracy", metrics.accuracy(true, pred), "", thresholds),
               _metric("precision", precision, "", thresholds, averaged),
               _metric("recall", recall, "", thresholds, averaged), _metric("f1", f1, "", thresholds, averaged)]
    matrix, why = (None, "no prediction probabilities were given") if proba is None else \
        _probability_matrix(proba, classes)
    auc = weighted_auc = log_loss = None
    why_auc = log_why = why
    positive_roc = None
    if matrix is not None:
        log_loss, log_why = _guarded(lambda: metrics.log_loss(true, matrix))
        if np.count_nonzero(np.bincount(true, minlength=len(classes))) < 2:
            why_auc = "only one class in the labels: AUC-ROC and Gini are undefined"
        elif len(classes) == 2:
            positive = true == 1
            # roc_auc_score's binary value is auc(roc_curve(...)); the curve is kept for the report's chart
            positive_roc, why_auc = _guarded(lambda: roc(positive, matrix[:, 1]))
            auc = None if positive_roc is None else positive_roc[2]
            weighted_auc = auc if sample_weight is None else \
                _guarded(lambda: metrics.roc_auc(positive, matrix[:, 1], sample_weight))[0]
        else:
            auc, why_auc = _guarded(lambda: metrics.ovr_weighted_auc(true, matrix))
            # without weights the weighted AUC is the same call on the same inputs: computed once
            weighted_auc = auc if sample_weight is None else \
                _guarded(lambda: metrics.ovr_weighted_auc(true, matrix, sample_weight))[0]
    gini = None if weighted_auc is None else 2.0 * weighted_auc - 1.0
    results += [_metric("auc_roc", auc, why_auc, thresholds), _metric("log_loss", log_loss, log_why, thresholds),
                _metric("gini_norm", gini, why_auc, thresholds)]
    matrix_of_counts = metrics.confusion_matrix(true, pred, len(classes)).tolist()
    confusion = {"labels": classes, "rows": "true label", "columns": "predicted label", "matrix": matrix_of_counts}
    return results, confusion, classification_details(true, pred, classes, matrix, positive_roc, scores)


def _mape(actual: np.ndarray, predicted: np.ndarray) -> tuple[float | None, str, str]:
    """MAPE over the non-zero labels: (value, reason, note)."""
    nonzero = actual != 0
    zeros = int(actual.size - nonzero.sum())
    if not nonzero.any():
        return None, "every label is 0: MAPE is undefined", ""
    with np.errstate(over="ignore", invalid="ignore"):
        value = float(np.mean(np.abs(actual[nonzero] - predicted[nonzero]) / np.abs(actual[nonzero])))
    note = f"computed over {int(nonzero.sum())} row(s) with a non-zero label"
    return value, "", note + (f"; {zeros} row(s) with label 0 left out" if zeros else "")


def _regression(actual: np.ndarray, predicted: np.ndarray, sample_weight: Any,
                thresholds: Mapping[str, Threshold]) -> list[MetricResult]:
    constant = np.all(actual == actual[0])
    gini = normalized_gini(actual, predicted, sample_weight)
    mape, mape_reason, mape_note = _mape(actual, predicted)
    with np.errstate(over="ignore", invalid="ignore"):
        mse = metrics.mean_squared_error(actual, predicted)
        mae = metrics.mean_absolute_error(actual, predicted)
        r2 = None if constant else metrics.r2_score(actual, predicted)
    return [
        _metric("mse", mse, "", thresholds),
        _metric("mae", mae, "", thresholds),
        _metric("mape", mape, mape_reason or (mape_note if "left out" in mape_note else ""), thresholds, mape_note),
        _metric("r2", r2, "the labels are constant: R2 is undefined" if constant else "", thresholds),
        _metric("gini_norm", gini, "" if gini is not None else
                "the labels sum to 0 or are constant: normalised Gini is undefined", thresholds),
    ]


def _unscoreable(actual: np.ndarray, predicted: np.ndarray, y_true: pd.Series, y_pred: pd.Series,
                 ids: pd.Series | None) -> tuple[np.ndarray, dict[str, Any]]:
    """Rows a regression cannot score, (mask, summary): labels that are not numbers, infinite values."""
    causes = {"label is not a number": np.isnan(actual), "label is infinite": np.isinf(actual),
              "prediction is not a number": np.isnan(predicted), "prediction is infinite": np.isinf(predicted)}
    bad = np.zeros(actual.size, dtype=bool)
    for mask in causes.values():
        bad |= mask
    if not bad.any():
        return bad, {"count": 0}
    examples = []
    for i in np.flatnonzero(bad)[:UNSCOREABLE_EXAMPLES].tolist():
        example = {"row": i, "label": str(y_true.iloc[i]), "prediction": str(y_pred.iloc[i])}
        if ids is not None:
            example["id"] = str(ids.iloc[i])
        examples.append(example)
    return bad, {"count": int(bad.sum()), "causes": {name: int(mask.sum()) for name, mask in causes.items()
                                                      if mask.any()},
                 "examples": examples, "examples_capped_at": UNSCOREABLE_EXAMPLES}


def _keep(keep: np.ndarray, *columns: Any) -> list[Any]:
    out: list[Any] = []
    for column in columns:
        if column is None:
            out.append(None)
        elif isinstance(column, pd.Series):
            out.append(column[keep].reset_index(drop=True))
        else:
            out.append(np.asarray(column, dtype="float64")[keep])
    return out


def quality_metrics(model_type: str, y_true: Any, y_pred: Any, proba: Any = None, labels: Sequence[Any] | None = None,
                    sample_weight: Any = None, thresholds: Mapping[str, Any] | None = None,
                    ids: Any = None) -> QualityResult:
    """Quality of matched rows. ``model_type`` is "classification" or "regression"; ``proba`` is one column
    (binary, positive class) or one column per label in ``labels`` order; ``ids`` (optional, row-aligned) name
    the rows that could not be scored."""
    if model_type not in CONVENTIONS:
        raise ValueError(f"model_type must be 'classification' or 'regression', not {model_type!r}")
    conditions = quality_thresholds(thresholds)
    y_true, y_pred = pd.Series(y_true).reset_index(drop=True), pd.Series(y_pred).reset_index(drop=True)
    ids = None if ids is None else pd.Series(ids).reset_index(drop=True)
    if model_type == "classification":
        y_true, y_pred = class_keys(y_true), class_keys(y_pred)
    keep = (y_true.notna() & y_pred.notna()).to_numpy()
    dropped = int((~keep).sum())
    y_true, y_pred, ids, proba, sample_weight = _keep(keep, y_true, y_pred, ids, proba, sample_weight)
    names = METRIC_NAMES[model_type]
    result = QualityResult(model_type=model_type, matched_rows=int(len(y_true)), metrics=[],
                           thresholds={name: conditions[name] for name in names}, rows_with_missing_values=dropped)
    if model_type == "regression" and len(y_true):
        actual = pd.to_numeric(y_true, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        predicted = pd.to_numeric(y_pred, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        bad, result.unscoreable_rows = _unscoreable(actual, predicted, y_true, y_pred, ids)
        actual, predicted = actual[~bad], predicted[~bad]
        if sample_weight is not None:
            sample_weight = sample_weight[~bad]
        if bad.all():
            result.reason = "no row could be scored: every label or prediction is not a finite number"
        else:
            if bad.any():
                causes = ", ".join(f"{name}: {count}" for name, count in result.unscoreable_rows["causes"].items())
                result.reason = f"{int(bad.sum())} row(s) could not be scored and were left out ({causes})"
            result.metrics = _regression(actual, predicted, sample_weight, conditions)
            result.details = regression_details(actual, predicted)
    if len(y_true) == 0:
        result.reason = "no matched rows: no label matched a prediction"
    elif model_type == "classification":
        result.metrics, result.confusion_matrix, result.details = _classification(
            y_true, y_pred, proba, labels, sample_weight, conditions)
        if y_true.nunique() < 2:
            result.reason = "the labels hold a single class"
    if not result.metrics:
        result.metrics = [_metric(name, None, result.reason, conditions) for name in names]
    return result
