"""dmm.analysis.metrics against scikit-learn itself (a test dependency only): random labels and scores with ties,
weights (zeros included), 2 and 3+ classes, one class only, constant scores, probabilities of 0 and 1.

Equal bit for bit where scikit-learn runs the same numpy operations; where the installed version differs from the
behaviour the module follows (scikit-learn 1.9: see its docstring), to 1e-12 relative, or the old behaviour is
named (1.3 raises for a class without rows in the one-vs-rest AUC)."""

import warnings

import numpy as np
import pytest
import sklearn
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from dmm.analysis import metrics

SKLEARN = tuple(int(part) for part in sklearn.__version__.split(".")[:2])
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCORES = [0.0, 0.1, 0.25, 0.5, 0.5000000000000001, 0.75, 0.9, 1.0]  # few values: many ties


def same(got, expected, exact=True, atol=0.0):
    """Equal bit for bit (NaN equal to NaN), or to 1e-12 relative (plus ``atol``)."""
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    assert got.shape == expected.shape
    if exact:
        assert np.array_equal(got, expected, equal_nan=True), (got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=atol)


@st.composite
def coded(draw, min_classes=1, max_classes=5, min_rows=1):
    k = draw(st.integers(min_classes, max_classes))
    n = draw(st.integers(min_rows, 80))
    true = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)), dtype=np.int64)
    pred = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)), dtype=np.int64)
    return k, true, pred


@st.composite
def scored(draw, weighted=None):
    n = draw(st.integers(1, 80))
    positive = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    constant = draw(st.booleans())
    score = np.full(n, draw(st.sampled_from(SCORES))) if constant else \
        np.array(draw(st.lists(st.sampled_from(SCORES), min_size=n, max_size=n)))
    use_weights = draw(st.booleans()) if weighted is None else weighted
    weights = np.array(draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 1.7, 3.0]), min_size=n, max_size=n))) \
        if use_weights else None
    return positive, score, weights


@given(coded())
@SETTINGS
def test_accuracy_confusion_and_per_class_scores_equal_sklearns(case):
    k, true, pred = case
    labels = list(range(k))
    same(metrics.accuracy(true, pred), skm.accuracy_score(true, pred))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected_matrix = skm.confusion_matrix(true, pred, labels=labels)
        expected = skm.precision_recall_fscore_support(true, pred, labels=labels, average=None, zero_division=0)
    assert metrics.confusion_matrix(true, pred, k).tolist() == expected_matrix.tolist()
    got = metrics.f_scores(true, pred, k)
    same(got[0], expected[0])
    same(got[1], expected[1])
    same(got[2], expected[2], exact=SKLEARN >= (1, 4))  # F1 from counts since 1.4
    assert got[3].tolist() == expected[3].tolist()


@given(scored())
@SETTINGS
def test_curves_and_binary_auc_equal_sklearns(case):
    positive, score, weights = case
    if weights is not None and not weights.any():  # scikit-learn >= 1.6 refuses all-zero weights, and so do we
        with pytest.raises(ValueError, match="at least one non-zero"):
            metrics.roc_curve(positive, score, weights)
        return
    # ties in another order before 1.6: weighted sums inside a tie group add up in another order
    exact = weights is None or SKLEARN >= (1, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected_roc = skm.roc_curve(positive, score, sample_weight=weights)
    got_roc = metrics.roc_curve(positive, score, weights)
    for got, expected in zip(got_roc, expected_roc, strict=True):
        same(got, expected, exact)
    both = len(np.unique(positive)) == 2
    if both:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected_auc = skm.roc_auc_score(positive, score, sample_weight=weights)
        same(metrics.roc_auc(positive, score, weights), expected_auc, exact)
        same(metrics.auc(got_roc[0], got_roc[1]), skm.auc(expected_roc[0], expected_roc[1]), exact)
    else:
        assert np.isnan(metrics.roc_auc(positive, score, weights))  # scikit-learn >= 1.6; 1.3 raises
    if weights is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected_pr = skm.precision_recall_curve(positive, score)
        for got, expected in zip(metrics.precision_recall_curve(positive, score), expected_pr, strict=True):
            same(got, expected)


def _pool(k):
    """Probability rows with 0s and 1s and repeats (ties across rows), each summing to 1."""
    rows = [np.eye(k)[i] for i in range(k)] + [np.full(k, 1.0 / k)]
    rows += [np.r_[0.5, np.full(k - 1, 0.5 / (k - 1))], np.r_[np.full(k - 1, 0.1), 1 - 0.1 * (k - 1)]]
    return np.array(rows)


@given(st.integers(3, 5), st.data())
@SETTINGS
def test_one_vs_rest_weighted_auc_equals_sklearns(k, data):
    n = data.draw(st.integers(2, 80))
    true = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)), dtype=np.int64)
    assume(len(np.unique(true)) >= 2)  # quality gives a reason before asking for AUC with one class
    pool = _pool(k)
    proba = pool[data.draw(st.lists(st.integers(0, len(pool) - 1), min_size=n, max_size=n))]
    weights = np.array(data.draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.5]), min_size=n, max_size=n))) \
        if data.draw(st.booleans()) else None
    got = metrics.ovr_weighted_auc(true, proba, weights)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = skm.roc_auc_score(true, proba, multi_class="ovr", average="weighted", labels=list(range(k)),
                                         sample_weight=weights)
    except ValueError as error:  # scikit-learn < 1.6: a class without rows raises
        assert SKLEARN < (1, 6) and "Only one class" in str(error)
        assert len(np.unique(true)) < k
        return
    same(got, expected, exact=weights is None or SKLEARN >= (1, 6))


def test_one_vs_rest_refuses_rows_that_are_not_probabilities_with_sklearns_message():
    proba = np.array([[0.5, 0.5, 0.5], [0.2, 0.3, 0.5]])
    with pytest.raises(ValueError) as expected:
        skm.roc_auc_score([0, 1], proba, multi_class="ovr", average="weighted", labels=[0, 1, 2])
    with pytest.raises(ValueError) as got:
        metrics.ovr_weighted_auc(np.array([0, 1]), proba)
    assert str(got.value) == str(expected.value)


@given(st.integers(2, 5), st.data())
@SETTINGS
def test_log_loss_equals_sklearns(k, data):
    n = data.draw(st.integers(1, 80))
    true = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)), dtype=np.int64)
    pool = _pool(k)
    proba = pool[data.draw(st.lists(st.integers(0, len(pool) - 1), min_size=n, max_size=n))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = skm.log_loss(true, proba, labels=list(range(k)))
    # 1.3 renormalises each row after clipping: each row's loss moves by about eps (2.2e-16), even near 0
    same(metrics.log_loss(true, proba), expected, exact=SKLEARN >= (1, 5), atol=1e-15)


def test_log_loss_refuses_one_class_as_sklearn_does():
    """One class with one probability column: scikit-learn (labels=[0]) refuses it, and so the metric is None."""
    true, proba = np.array([0, 0]), np.array([[0.9], [1.0]])
    with pytest.raises(ValueError) as expected:
        skm.log_loss(true, proba, labels=[0])
    with pytest.raises(ValueError) as got:
        metrics.log_loss(true, proba)
    assert "needs to contain at least two labels" in str(expected.value)  # 1.3 adds "for log_loss"
    assert "needs to contain at least two labels" in str(got.value)


def test_log_loss_refuses_probabilities_above_one():
    with pytest.raises(ValueError, match="greater than 1"):
        metrics.log_loss(np.array([0, 1]), np.array([[0.5, 0.5], [-0.5, 1.5]]))


@given(st.data())
@SETTINGS
def test_regression_metrics_equal_sklearns(data):
    n = data.draw(st.integers(1, 80))
    values = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
    actual = np.array(data.draw(st.lists(values | st.sampled_from([0.0, 1.0]), min_size=n, max_size=n)))
    if data.draw(st.booleans()):  # constant labels: R2's zero denominator
        actual = np.full(n, actual[0])
    predicted = actual.copy() if data.draw(st.booleans()) else \
        np.array(data.draw(st.lists(values, min_size=n, max_size=n)))
    same(metrics.mean_squared_error(actual, predicted), skm.mean_squared_error(actual, predicted))
    same(metrics.mean_absolute_error(actual, predicted), skm.mean_absolute_error(actual, predicted))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same(metrics.r2_score(actual, predicted), skm.r2_score(actual, predicted))
