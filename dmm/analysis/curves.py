"""What the report draws for quality, computed with scikit-learn's algorithms in numpy (``dmm.analysis.metrics``)
on the matched rows the quality join holds.

Classification: precision, recall, F1 and support per class; ROC and precision-recall curves (binary: the positive
class, the last label; multiclass: one-vs-rest per class, up to ``MAX_CURVE_CLASSES``) and the distribution of
predicted probabilities. Regression: the distribution of residuals (label - prediction) and predicted against
actual (binned means, and an evenly spaced sample of points). Memory is the matched rows the join already holds
(at most one per label); every curve is thinned to at most ``MAX_POINTS`` points, every distribution to
``BINS`` bins, so the report stays small whatever the row count.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dmm.analysis import metrics

MAX_POINTS = 200
MAX_CURVE_CLASSES = 6
BINS = 20
SCATTER_POINTS = 400
CURVE_RULE = (f"computed as scikit-learn computes them, on the matched rows; curves thinned to at most "
              f"{MAX_POINTS} points, distributions in {BINS} equal-width bins")


def _thin(*arrays: np.ndarray) -> list[list[float]]:
    """Every array at the same at most ``MAX_POINTS`` evenly spaced positions, the first and last kept."""
    n = len(arrays[0])
    keep = np.unique(np.linspace(0, n - 1, min(n, MAX_POINTS)).round().astype(int)) if n else np.zeros(0, int)
    return [[float(v) for v in np.asarray(a, dtype="float64")[keep]] for a in arrays]


Scores = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def class_scores(true: np.ndarray, pred: np.ndarray, classes: list[str]) -> Scores:
    """(precision, recall, F1, support) per class (codes ``0..len(classes)-1``), zero_division=0: computed once, for
    the report's table and the weighted metrics (scikit-learn's "weighted" average is ``np.average`` of these by
    support)."""
    return metrics.f_scores(true, pred, len(classes))


def per_class(true: np.ndarray, pred: np.ndarray, classes: list[str],
              scores: Scores | None = None) -> list[dict[str, Any]]:
    precision, recall, f1, support = scores if scores is not None else class_scores(true, pred, classes)
    return [{"label": classes[i], "precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
             "support": int(support[i])} for i in range(len(classes))]


def roc(positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, metrics.Counts]:
    """(fpr, tpr, area, counts) of one class against the rest: the area is ``roc_auc_score``'s binary value, which
    scikit-learn computes as ``auc`` of this same ``roc_curve``; computed once for the metric and the chart, and
    ``counts`` (``binary_clf_curve``) once for this curve and the precision-recall curve."""
    counts = metrics.binary_clf_curve(positive, score)
    fpr, tpr, _ = metrics.roc_curve(positive, score, counts=counts)
    return fpr, tpr, metrics.auc(fpr, tpr), counts


def _curves_for(positive: np.ndarray, score: np.ndarray, label: str,
                known_roc: tuple[np.ndarray, np.ndarray, float, metrics.Counts] | None = None
                ) -> dict[str, Any] | None:
    if positive.all() or not positive.any():
        return None
    fpr, tpr, area, counts = known_roc if known_roc is not None else roc(positive, score)
    precision, recall, _ = metrics.precision_recall_curve(positive, score, counts=counts)
    # average_precision_score's binary value, from the same curve: -sum(diff(recall) * precision[:-1])
    average_precision = -np.sum(np.diff(recall) * np.asarray(precision)[:-1])
    roc_x, roc_y = _thin(fpr, tpr)
    pr_x, pr_y = _thin(recall[::-1], precision[::-1])
    return {"label": label, "roc": {"x": roc_x, "y": roc_y, "auc": area},
            "pr": {"x": pr_x, "y": pr_y, "average_precision": float(average_precision),
                   "base_rate": float(positive.mean())}}


def _histogram(values: np.ndarray, edges: np.ndarray) -> list[int]:
    return [int(c) for c in np.histogram(values, bins=edges)[0]]


def classification_details(true: np.ndarray, pred: np.ndarray, classes: list[str], proba: np.ndarray | None,
                           positive_roc: tuple[np.ndarray, np.ndarray, float, metrics.Counts] | None = None,
                           scores: Scores | None = None) -> dict[str, Any]:
    """``true``/``pred``: class codes (positions in ``classes``); ``proba``: one column per class, or None;
    ``positive_roc``: binary only, ``roc(true == 1, proba[:, 1])`` computed already for the AUC metric;
    ``scores``: ``class_scores(true, pred, classes)`` computed already for the weighted metrics."""
    details: dict[str, Any] = {"per_class": per_class(true, pred, classes, scores),
                               "per_class_rule": "per class: one class against the rest; support = labelled rows "
                                                 "of that class", "curve_rule": CURVE_RULE, "curves": [],
                               "probabilities": None}
    if proba is None or len(true) == 0:
        return details
    if len(classes) == 2:
        targets = [1]
    else:
        support = np.bincount(true, minlength=len(classes))
        targets = [int(i) for i in np.argsort(-support, kind="stable")[:MAX_CURVE_CLASSES] if support[i]]
    details["curves"] = [c for c in (_curves_for(true == i, proba[:, i], classes[i], positive_roc if i == 1
                                                 and len(classes) == 2 else None) for i in targets) if c]
    edges = np.linspace(0.0, 1.0, BINS + 1)
    if len(classes) == 2:
        score = proba[:, 1]
        details["probabilities"] = {
            "of": f"the positive class {classes[1]}", "edges": [float(e) for e in edges],
            "series": [{"label": f"true {classes[i]}", "counts": _histogram(score[true == i], edges)} for i in (0, 1)]}
    else:
        score = proba[np.arange(len(pred)), pred]
        right = true == pred
        details["probabilities"] = {
            "of": "the predicted class", "edges": [float(e) for e in edges],
            "series": [{"label": "right", "counts": _histogram(score[right], edges)},
                       {"label": "wrong", "counts": _histogram(score[~right], edges)}]}
    return details


def regression_details(actual: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Residuals (label - prediction) in ``BINS`` bins, and predicted against actual: binned means by actual value
    and an evenly spaced sample of at most ``SCATTER_POINTS`` rows."""
    if actual.size == 0:
        return {"curve_rule": CURVE_RULE}
    residual = actual - predicted
    low, high = float(residual.min()), float(residual.max())
    edges = np.linspace(low, high if high > low else low + 1.0, BINS + 1)
    order = np.argsort(actual, kind="stable")
    sample = order[np.unique(np.linspace(0, actual.size - 1, min(actual.size, SCATTER_POINTS)).round().astype(int))]
    return {"curve_rule": CURVE_RULE,
            "residuals": {"edges": [float(e) for e in edges], "counts": _histogram(residual, edges),
                          "mean": float(residual.mean()), "rule": "residual = label - prediction"},
            "predicted_vs_actual": {"actual": [float(v) for v in actual[sample]],
                                    "predicted": [float(v) for v in predicted[sample]],
                                    "rows": int(actual.size), "sampled": int(sample.size)}}
