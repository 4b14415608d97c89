"""The classification and regression metrics step 6 reports, in numpy: scikit-learn's own algorithms, without
importing scikit-learn (which loads scipy.stats and joblib: ~1 s of CPU, more than the rest of step 6's imports).

Each function mirrors one scikit-learn function, read from its source (sklearn/metrics/_ranking.py,
_classification.py, _regression.py, _base.py at 1.9.1, and at 1.3.0 for the floor lock). Where both versions do the
same numpy operations the values are bit-for-bit equal to scikit-learn's, and the tests
(tests/test_analysis_metrics.py) assert equality. Where the two versions differ, this module follows 1.9.1:

- ``f_scores``: F1 = 2 tp / (2 tp + fp + fn) from counts (1.4+); 1.3 computes 2 p r / (p + r), equal to ~1 ulp.
- ``log_loss``: probabilities are clipped to [eps, 1 - eps] and not renormalised per row, and a probability outside
  [0, 1] is refused (1.5+); 1.3 renormalises each row after clipping (equal to ~1e-15 relative for rows summing to 1).
- ``ovr_weighted_auc``: a class with no true row scores NaN, then 0 with weight 0, so it does not count (1.6+);
  1.3 raises "Only one class present in y_true" for it and the metric has no value.
- ties in ``binary_clf_curve`` are sorted stable-descending (1.6+, ``argsort(stable=True, descending=True)``); 1.3
  reverses a stable ascending sort. Sums inside a tie group are then added in another order: identical without
  sample weights (integer counts), equal to ~1e-15 relative with them.

Inputs are already clean: class codes ``0..k-1`` (``dmm.analysis.quality`` maps labels to codes), a finite float
probability matrix, finite regression values. A metric scikit-learn refuses raises ``ValueError`` with
scikit-learn's own message (quality.py's ``_guarded`` turns it into the metric's reason).
"""

from __future__ import annotations

from typing import Any

import numpy as np

Counts = tuple[np.ndarray, np.ndarray, np.ndarray]  # binary_clf_curve's (fps, tps, thresholds)

# --- classification from hard predictions (codes) -------------------------------------------------------------


def accuracy(true: np.ndarray, pred: np.ndarray) -> float:
    """``accuracy_score``: ``np.average(y_true == y_pred)``."""
    return float(np.average(true == pred))


def confusion_matrix(true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``confusion_matrix(labels=range(n_classes))``: rows true, columns predicted, int64 counts."""
    index = np.asarray(true, dtype=np.int64) * n_classes + np.asarray(pred, dtype=np.int64)
    return np.bincount(index, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``_prf_divide(zero_division=0)``: float division, 0 where the denominator is 0."""
    mask = denominator == 0
    denominator = np.asarray(denominator, dtype=np.float64).copy()
    denominator[mask] = 1
    result = np.asarray(numerator, dtype=np.float64) / denominator
    result[mask] = 0.0
    return result


def f_scores(true: np.ndarray, pred: np.ndarray,
             n_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``precision_recall_fscore_support(labels=range(n_classes), average=None, zero_division=0)``: (precision,
    recall, F1, support) per class. F1 from counts, as scikit-learn 1.4+ (see the module's docstring)."""
    true = np.asarray(true, dtype=np.int64)
    pred = np.asarray(pred, dtype=np.int64)
    tp_sum = np.bincount(true[true == pred], minlength=n_classes)
    pred_sum = np.bincount(pred, minlength=n_classes)
    true_sum = np.bincount(true, minlength=n_classes)
    precision = _divide(tp_sum, pred_sum)
    recall = _divide(tp_sum, true_sum)
    denom = 1.0 * true_sum.astype(np.float64) + pred_sum.astype(np.float64)  # beta2 * true + pred, beta = 1
    f1 = _divide(2.0 * tp_sum.astype(np.float64), denom)
    return precision, recall, f1, true_sum


# --- ranking: curves and areas ---------------------------------------------------------------------------------


def _weights(weight: Any, size: int, allow_all_zero: bool = False) -> np.ndarray | None:
    """``_check_sample_weight``: one finite weight per row, not all 0 (scikit-learn 1.9 refuses those; 1.3 did not)."""
    if weight is None:
        return None
    weight = np.asarray(weight, dtype=np.float64).reshape(-1)
    if weight.size != size:
        raise ValueError(f"sample_weight.shape == ({weight.size},), expected ({size},)!")
    if not np.isfinite(weight).all():
        raise ValueError("Input sample_weight contains NaN or infinity.")
    if not allow_all_zero and size and not np.any(weight):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return weight


def binary_clf_curve(positive: np.ndarray, score: np.ndarray,
                     sample_weight: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``confusion_matrix_at_thresholds`` (1.3: ``_binary_clf_curve``): (fps, tps, thresholds) at each distinct
    score, scores descending; zero-weight rows are left out."""
    y_true = np.asarray(positive).reshape(-1) == 1
    y_score = np.asarray(score, dtype=np.float64).reshape(-1)
    if y_true.size != y_score.size:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                         f"[{y_true.size}, {y_score.size}]")
    if not np.isfinite(y_score).all():
        raise ValueError("Input contains NaN or infinity.")
    weight = _weights(sample_weight, y_true.size)
    if weight is not None:
        nonzero = weight != 0
        y_true, y_score, weight = y_true[nonzero], y_score[nonzero], weight[nonzero]
    # stable descending, as array_api_compat's argsort(descending=True, stable=True): flip, sort, flip back
    # (temporaries in place where the values allow: at 5M matched rows each one is 40 MB of step 6's peak)
    n = y_score.size
    order = np.argsort(np.flip(y_score), kind="stable")
    np.subtract(n - 1, order, out=order)
    order = np.flip(order)
    y_score, y_true = y_score[order], y_true[order]
    distinct = np.nonzero(np.diff(y_score))[0]
    threshold_idxs = np.concatenate([distinct, np.asarray([n - 1])])
    del distinct
    if weight is None:
        tps = np.cumsum(y_true, dtype=np.float64)[threshold_idxs]  # the same sums as of y_true * 1.0
        fps = 1 + threshold_idxs.astype(np.float64) - tps
    else:
        truth = y_true.astype(np.float64)
        weight = weight[order]
        tps = np.cumsum(truth * weight, dtype=np.float64)[threshold_idxs]
        fps = np.cumsum((1 - truth) * weight, dtype=np.float64)[threshold_idxs]
    return fps, tps, y_score[threshold_idxs]


def roc_curve(positive: np.ndarray, score: np.ndarray, sample_weight: Any = None, *,
              counts: Counts | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``roc_curve(drop_intermediate=True)``: (fpr, tpr, thresholds); NaN rates when a side has no rows.
    ``counts``: ``binary_clf_curve(positive, score, sample_weight)`` computed already."""
    fps, tps, thresholds = counts if counts is not None else binary_clf_curve(positive, score, sample_weight)
    if fps.shape[0] > 2:  # drop the collinear points in between: they do not change the area
        keep = np.nonzero(np.concatenate([[True], np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), [True]]))[0]
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    tps = np.concatenate([[0.0], tps])
    fps = np.concatenate([[0.0], fps])
    thresholds = np.concatenate([[np.inf], thresholds])
    fpr = np.full(fps.shape, np.nan) if fps[-1] <= 0 else fps / fps[-1]
    tpr = np.full(tps.shape, np.nan) if tps[-1] <= 0 else tps / tps[-1]
    return fpr, tpr, thresholds


def auc(x: np.ndarray, y: np.ndarray) -> float:
    """``auc``: the trapezoidal rule, ``sum(diff(x) * (y[1:] + y[:-1]) / 2.0)`` (numpy's trapz and scipy's
    trapezoid both compute exactly this), x increasing or decreasing."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if x.shape[0] < 2:
        raise ValueError(f"At least 2 points are needed to compute area under curve, but x.shape = {x.shape}")
    direction = 1
    dx = np.diff(x)
    if np.any(dx < 0):
        if np.all(dx <= 0):
            direction = -1
        else:
            raise ValueError(f"x is neither increasing nor decreasing : {x}.")
    return float(direction * (dx * (y[1:] + y[:-1]) / 2.0).sum())


def roc_auc(positive: np.ndarray, score: np.ndarray, sample_weight: Any = None) -> float:
    """``roc_auc_score`` of one class against the rest (``_binary_roc_auc_score``): NaN when ``positive`` holds
    one value only (1.6+; 1.3 raises)."""
    positives = np.count_nonzero(positive)
    if positives in (0, np.size(positive)):  # one class only (callers pass bool or 0/1)
        return float("nan")
    fpr, tpr, _ = roc_curve(positive, score, sample_weight)
    return auc(fpr, tpr)


def ovr_weighted_auc(true: np.ndarray, proba: np.ndarray, sample_weight: Any = None) -> float:
    """``roc_auc_score(multi_class="ovr", average="weighted", labels=range(k))`` with ``proba`` (n, k): each
    class against the rest, averaged with the (weighted) count of its true rows as weight."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2:
        raise ValueError(f"`y_score` needs to be of shape `(n_samples, n_classes)`, since `y_true` contains "
                         f"multiple classes. Got `y_score.shape={proba.shape}`.")
    if not np.allclose(1, proba.sum(axis=1)):
        raise ValueError("Target scores need to be probabilities for multiclass roc_auc, i.e. they should sum up "
                         "to 1.0 over classes")
    n_classes = proba.shape[1]
    true = np.asarray(true, dtype=np.int64)
    onehot = (true[:, None] == np.arange(n_classes)[None, :]).astype(np.int64)  # label_binarize
    weight = _weights(sample_weight, true.size, allow_all_zero=True)  # all 0: the weighted average is 0 below
    if weight is None:
        average_weight = np.sum(onehot, axis=0)
    else:
        average_weight = np.sum(np.multiply(onehot.astype(np.float64), weight.reshape(-1, 1)), axis=0)
    if np.isclose(np.sum(average_weight), 0):
        return 0.0
    score = np.zeros((n_classes,))
    for c in range(n_classes):
        score[c] = roc_auc(onehot[:, c], proba[:, c], weight)
    score[average_weight == 0] = 0
    return float(np.average(score, weights=average_weight))


def precision_recall_curve(positive: np.ndarray, score: np.ndarray, *,
                           counts: Counts | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``precision_recall_curve`` (drop_intermediate=False): (precision, recall, thresholds), recall decreasing,
    ending at (recall 0, precision 1); recall is 1 everywhere when no row is positive. ``counts``:
    ``binary_clf_curve(positive, score)`` computed already (the ROC curve's: one sort for both)."""
    fps, tps, thresholds = counts if counts is not None else binary_clf_curve(positive, score)
    ps = tps + fps
    precision = np.zeros_like(tps)
    np.divide(tps, ps, out=precision, where=ps != 0)
    recall = np.ones_like(tps) if tps[-1] == 0 else tps / tps[-1]
    return (np.concatenate([np.flip(precision), [1.0]]), np.concatenate([np.flip(recall), [0.0]]),
            np.flip(thresholds))


def log_loss(true: np.ndarray, proba: np.ndarray) -> float:
    """``log_loss(labels=range(k))`` with ``proba`` (n, k), k >= 2: the mean of -log(probability of the true
    class), probabilities clipped to [eps, 1 - eps] (float64 eps) and not renormalised (1.5+)."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.size and proba.max() > 1:
        raise ValueError(f"y_prob contains values greater than 1: {proba.max()}")
    if proba.size and proba.min() < 0:
        raise ValueError(f"y_prob contains values lower than 0: {proba.min()}")
    if proba.ndim == 1:  # the positive class's probability of two classes
        proba = np.column_stack([1 - proba, proba])
    n_classes = proba.shape[1]  # one column is one class (labels=[0]): refused, as scikit-learn refuses it
    if n_classes < 2:
        raise ValueError(f"The labels array needs to contain at least two labels, got {list(range(n_classes))}.")
    true = np.asarray(true, dtype=np.int64)
    if true.size == 0:
        raise ValueError("Found array with 0 sample(s) (shape=(0,)) while a minimum of 1 is required.")
    eps = np.finfo(np.float64).eps
    clipped = np.clip(proba[np.arange(true.size), true], eps, 1 - eps)
    # scikit-learn: -sum(xlogy(onehot, clipped), axis=1): the other classes add exact zeros
    return float(np.average(-np.log(clipped)))


# --- regression --------------------------------------------------------------------------------------------------


def _column(values: Any) -> np.ndarray:
    """A (n, 1) float column, as ``_check_reg_targets`` shapes a 1-D target (the reductions run over axis 0)."""
    return np.asarray(values, dtype=np.float64).reshape(-1, 1)


def mean_squared_error(actual: Any, predicted: Any) -> float:
    """``mean_squared_error``: ``np.average((y_true - y_pred) ** 2, axis=0)``."""
    return float(np.average(np.average((_column(actual) - _column(predicted)) ** 2, axis=0)))


def mean_absolute_error(actual: Any, predicted: Any) -> float:
    """``mean_absolute_error``: ``np.average(np.abs(y_pred - y_true), axis=0)``."""
    return float(np.average(np.average(np.abs(_column(predicted) - _column(actual)), axis=0)))


def r2_score(actual: Any, predicted: Any) -> float:
    """``r2_score`` (force_finite=True): 1 - SS_res / SS_tot; NaN under two rows, 1 for a perfect fit, 0 when the
    labels are constant and the fit is not perfect."""
    y_true, y_pred = _column(actual), _column(predicted)
    if y_true.shape[0] < 2:
        return float("nan")
    numerator = (1.0 * (y_true - y_pred) ** 2).sum(axis=0, dtype=np.float64)
    denominator = (1.0 * (y_true - np.average(y_true, axis=0)) ** 2).sum(axis=0, dtype=np.float64)
    if numerator[0] == 0:
        return 1.0
    if denominator[0] == 0:
        return 0.0
    return float(np.average(1 - numerator / denominator))
