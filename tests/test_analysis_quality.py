"""Quality metrics against scikit-learn, edge cases, and the ground-truth join."""

import json

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn import metrics as skm

from dmm.analysis import join_ground_truth, quality_metrics
from dmm.analysis.quality import normalized_gini
from dmm.errors import UsageError


def values(result):
    return {metric["name"]: metric["value"] for metric in result["metrics"]}


@pytest.fixture
def binary():
    rng = np.random.default_rng(5)
    n = 600
    proba = rng.uniform(size=n)
    y_true = (rng.uniform(size=n) < proba).astype(int)
    y_pred = (proba > 0.5).astype(int)
    return y_true, y_pred, proba


def test_binary_classification_matches_sklearn(binary):
    y_true, y_pred, proba = binary
    result = quality_metrics("classification", y_true, y_pred, proba=proba).to_dict()
    got = values(result)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert got["precision"] == pytest.approx(skm.precision_score(y_true, y_pred, average="weighted"))
    assert got["recall"] == pytest.approx(skm.recall_score(y_true, y_pred, average="weighted"))
    assert got["f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average="weighted"))
    auc = skm.roc_auc_score(y_true, proba)
    assert got["auc_roc"] == pytest.approx(auc)
    assert got["gini_norm"] == pytest.approx(2 * auc - 1)
    assert got["log_loss"] == pytest.approx(skm.log_loss(y_true, proba))
    assert result["confusion_matrix"]["labels"] == ["0", "1"]
    assert result["confusion_matrix"]["matrix"] == skm.confusion_matrix(y_true, y_pred).tolist()
    assert result["matched_rows"] == len(y_true)
    json.dumps(result)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_binary_auc_and_average_precision_are_sklearns_own_values_exactly(seed):
    """The AUC metric and the report's curves share one roc_curve, and the average precision comes from the
    precision-recall curve drawn: both must equal scikit-learn's own functions bit for bit, ties included."""
    rng = np.random.default_rng(seed)
    n = 5000
    proba = rng.integers(0, 40, size=n) / 40.0  # many tied scores
    y_true = (rng.uniform(size=n) < proba).astype(int)
    y_pred = (proba > 0.5).astype(int)
    result = quality_metrics("classification", y_true, y_pred, proba=proba, labels=[0, 1])
    auc = skm.roc_auc_score(y_true, proba)
    assert result.metric("auc_roc").value == auc
    assert result.metric("gini_norm").value == 2.0 * auc - 1.0
    (curve,) = result.details["curves"]
    assert curve["roc"]["auc"] == auc
    assert curve["pr"]["average_precision"] == skm.average_precision_score(y_true, proba)


def test_multiclass_with_string_labels_matches_sklearn():
    rng = np.random.default_rng(6)
    labels = ["cat", "dog", "eel"]
    n = 900
    proba = rng.dirichlet([1, 1, 1], size=n)
    y_true = np.array([labels[rng.choice(3, p=row)] for row in proba])
    y_pred = np.array([labels[i] for i in proba.argmax(axis=1)])
    got = values(quality_metrics("classification", y_true, y_pred, proba=proba, labels=labels).to_dict())
    auc = skm.roc_auc_score(y_true, proba, multi_class="ovr", average="weighted", labels=labels)
    assert got["auc_roc"] == pytest.approx(auc)
    assert got["gini_norm"] == pytest.approx(2 * auc - 1)
    assert got["log_loss"] == pytest.approx(skm.log_loss(y_true, proba, labels=labels))
    assert got["f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average="weighted"))


def test_sample_weight_is_used_only_for_gini(binary):
    y_true, y_pred, proba = binary
    weights = np.random.default_rng(1).uniform(0.1, 3, size=len(y_true))
    got = values(quality_metrics("classification", y_true, y_pred, proba=proba, sample_weight=weights).to_dict())
    assert got["gini_norm"] == pytest.approx(2 * skm.roc_auc_score(y_true, proba, sample_weight=weights) - 1)
    assert got["auc_roc"] == pytest.approx(skm.roc_auc_score(y_true, proba))


def test_without_probabilities_three_metrics_have_reasons(binary):
    y_true, y_pred, _ = binary
    result = quality_metrics("classification", y_true, y_pred).to_dict()
    for metric in result["metrics"]:
        if metric["name"] in ("auc_roc", "log_loss", "gini_norm"):
            assert metric["value"] is None and "probabilit" in metric["reason"]
        else:
            assert metric["value"] is not None


def test_single_class_labels_give_reasons():
    result = quality_metrics("classification", [1, 1, 1, 1], [1, 0, 1, 1], proba=[0.9, 0.3, 0.8, 0.7]).to_dict()
    got = {metric["name"]: metric for metric in result["metrics"]}
    assert got["accuracy"]["value"] == pytest.approx(0.75)
    assert got["auc_roc"]["value"] is None and "one class" in got["auc_roc"]["reason"]
    assert got["auc_roc"]["passed"] is None
    assert "single class" in result["reason"]


def test_labels_as_text_match_integer_predictions():
    got = values(quality_metrics("classification", ["1", "0", "1"], [1.0, 0.0, 0.0]).to_dict())
    assert got["accuracy"] == pytest.approx(2 / 3)


def test_empty_input_gives_reason():
    result = quality_metrics("classification", [], []).to_dict()
    assert result["matched_rows"] == 0 and result["reason"]
    assert all(metric["value"] is None for metric in result["metrics"])
    assert quality_metrics("regression", [], []).to_dict()["metrics"][0]["value"] is None


def test_regression_matches_sklearn():
    rng = np.random.default_rng(8)
    y_true = rng.uniform(1, 10, size=500)
    y_pred = y_true + rng.normal(0, 1, size=500)
    result = quality_metrics("regression", y_true, y_pred).to_dict()
    got = values(result)
    assert got["mse"] == pytest.approx(skm.mean_squared_error(y_true, y_pred))
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y_true, y_pred))
    assert got["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y_true, y_pred))
    assert got["r2"] == pytest.approx(skm.r2_score(y_true, y_pred))
    assert 0 < got["gini_norm"] < 1
    assert result["confusion_matrix"] is None
    json.dumps(result)


def test_regression_constant_labels_give_reason():
    got = {m["name"]: m for m in quality_metrics("regression", [2.0, 2.0, 2.0], [1.0, 2.0, 3.0]).to_dict()["metrics"]}
    assert got["r2"]["value"] is None and "constant" in got["r2"]["reason"]
    assert got["mse"]["value"] == pytest.approx(2 / 3)


def test_normalized_gini_of_binary_labels_is_2auc_minus_1():
    rng = np.random.default_rng(9)
    y_true = rng.integers(0, 2, size=400)
    score = y_true * 0.5 + rng.uniform(size=400)
    assert normalized_gini(y_true, score) == pytest.approx(2 * skm.roc_auc_score(y_true, score) - 1)
    assert normalized_gini(y_true, y_true) == pytest.approx(1)


def test_thresholds_are_data_and_overridable(binary):
    y_true, y_pred, proba = binary
    result = quality_metrics("classification", y_true, y_pred, proba=proba,
                             thresholds={"accuracy": {"threshold": 0.99}}).to_dict()
    accuracy = next(m for m in result["metrics"] if m["name"] == "accuracy")
    assert accuracy["threshold"] == 0.99 and accuracy["passed"] is False and result["passed"] is False


def test_join_latest_label_wins_and_counts_unmatched():
    predictions = pd.DataFrame({"event_id": ["a", "b", "c", "d"], "prediction": [1, 0, 1, 0]})
    labels = pd.DataFrame({"event_id": ["a", "b", "b", "x", "y"], "ground_truth": [1, 1, 0, 1, 0],
                           "ts": ["2024-01-01", "2024-01-03", "2024-01-02", "2024-01-01", "2024-01-01"]})
    result = join_ground_truth(predictions, labels, label_column="ground_truth", gt_timestamp_column="ts")
    assert result.matched_rows == 2
    assert dict(zip(result.frame["event_id"], result.frame["ground_truth"], strict=False)) == {"a": 1, "b": 1}
    assert result.duplicate_label_rows == 1
    assert sorted(result.unmatched_label_ids) == ["x", "y"]
    assert result.join_rate == pytest.approx(2 / 4)
    assert result.prediction_coverage == pytest.approx(2 / 4)
    json.dumps(result.to_dict())


def test_join_by_order_without_timestamp_and_ids_as_text():
    predictions = pd.DataFrame({"event_id": [1, 2], "prediction": [1, 0]})
    labels = pd.DataFrame({"id": ["1", "1"], "label": [0, 1]})
    result = join_ground_truth(predictions, labels, gt_id_column="id", label_column="label", max_listed=1)
    assert result.frame["label"].tolist() == [1]


def test_join_caps_listed_ids_and_names_missing_columns():
    predictions = pd.DataFrame({"event_id": ["p"], "prediction": [1]})
    labels = pd.DataFrame({"event_id": [f"x{i}" for i in range(50)], "ground_truth": [1] * 50})
    result = join_ground_truth(predictions, labels, max_listed=5)
    assert len(result.unmatched_label_ids) == 5 and result.unmatched_label_count == 50
    assert result.join_rate == 0
    with pytest.raises(UsageError, match="label"):
        join_ground_truth(predictions, labels, label_column="label")


@pytest.mark.parametrize("seed", [4, 5])
def test_weighted_scores_from_the_per_class_table_equal_sklearns_weighted_average_exactly(seed):
    """Precision, recall and F1 per class are computed once, for the report's table and for the weighted metrics;
    the weighted values must equal scikit-learn's average="weighted" bit for bit, a class without rows included."""
    rng = np.random.default_rng(seed)
    labels = ["a", "b", "c", "never"]
    y_true = rng.choice(labels[:3], size=3000, p=[0.6, 0.3, 0.1])
    y_pred = np.where(rng.uniform(size=3000) < 0.7, y_true, rng.choice(labels[:2], size=3000))
    result = quality_metrics("classification", y_true, y_pred, labels=labels)
    for name, function in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)):
        expected = function(y_true, y_pred, labels=labels, average="weighted", zero_division=0)
        # dmm.analysis.metrics computes F1 from counts, as scikit-learn >= 1.4; 1.3 (the floor) computes
        # 2pr/(p+r), equal to the last bit or so
        old_f1 = name == "f1" and tuple(int(p) for p in sklearn.__version__.split(".")[:2]) < (1, 4)
        assert result.metric(name).value == (pytest.approx(expected, rel=1e-12, abs=0) if old_f1 else expected)
    table = {row["label"]: row for row in result.details["per_class"]}
    assert table["never"]["support"] == 0 and table["a"]["support"] == int((y_true == "a").sum())
