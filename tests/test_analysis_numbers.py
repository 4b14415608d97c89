"""Issue 11's classes of wrong numbers, one example each (each failed before the fix), checked against independent
computations (numpy, scikit-learn, hand-counted bins) rather than against our own earlier output."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from dmm.analysis import (
    DRIFT_TESTS,
    DriftCalculator,
    DriftConfig,
    GroundTruthJoiner,
    Threshold,
    fit_categorical_bins,
    fit_numeric_bins,
    join_ground_truth,
    quality_metrics,
    run_test,
)
from dmm.analysis.binning import INVALID, UNTRAINED
from dmm.analysis.quality import normalized_gini
from dmm.errors import ConfigError
from dmm.report import json_ready

ROOT = Path(__file__).resolve().parent.parent


def bin_of(bins, label):
    return bins.labels.index(label)


# --- 1. a class value's bin depends on the value alone ---

def test_whole_float_lands_in_its_trained_class_whatever_its_chunk_neighbours():
    bins = fit_categorical_bins(pd.Series([1, 2, 2, 3]))
    whole_chunk = bins.counts(pd.Series([2.0, 3.0]))      # every value whole
    mixed_chunk = bins.counts(pd.Series([2.0, 2.5]))      # one value not whole
    assert whole_chunk[bin_of(bins, "2")] == 1
    assert mixed_chunk[bin_of(bins, "2")] == 1 and mixed_chunk[bin_of(bins, UNTRAINED)] == 1


def test_one_and_one_point_zero_and_text_one_share_a_bin_in_object_columns():
    bins = fit_categorical_bins(pd.Series([1.0, 2.0, 1.5]))
    counts = bins.counts(pd.Series([1, 1.0, "1", " 1.0 ", np.int64(1)], dtype=object))
    assert counts[bin_of(bins, "1")] == 5 and counts.sum() == 5


def test_true_like_values_join_a_boolean_training_class():
    bins = fit_categorical_bins(pd.Series([True, False, True]))
    counts = bins.counts(pd.Series(["true", "TRUE", 1, True, "false", 0, "maybe"], dtype=object))
    assert counts[bin_of(bins, "True")] == 4 and counts[bin_of(bins, "False")] == 2
    assert counts[bin_of(bins, UNTRAINED)] == 1


def test_categorical_drift_is_the_same_in_one_chunk_or_many():
    rng = np.random.default_rng(11)
    training = pd.DataFrame({"tier": rng.integers(0, 4, 2000).astype(float)})
    production = pd.DataFrame({"tier": np.r_[rng.integers(0, 4, 999).astype(float), 0.5]})
    whole = DriftCalculator().fit(training, {"tier": "categorical"}).update(production)
    chunked = DriftCalculator().fit(training, {"tier": "categorical"})
    for part in np.array_split(production.index, 10):
        chunked.update(production.loc[part])
    a, b = whole.results()[0], chunked.results()[0]
    np.testing.assert_array_equal(a.production_counts, b.production_counts)
    assert a.main.value == pytest.approx(b.main.value)
    assert a.production_counts[bin_of(a.bins, UNTRAINED)] == 1  # only the 0.5


# --- 2. infinite and huge values in a categorical float column land in a bin ---

def test_infinite_and_huge_categorical_floats_land_in_bins():
    bins = fit_categorical_bins(pd.Series([1.0, 2.0, np.inf]))
    counts, unseen = bins.counts_and_unseen(pd.Series([np.inf, -np.inf, 1e300, 1.0, np.nan]))
    assert counts[bin_of(bins, "inf")] == 1 and counts[bin_of(bins, "1")] == 1
    assert counts[bin_of(bins, UNTRAINED)] == 2 and counts[bin_of(bins, INVALID)] == 1
    assert set(unseen) == {"-inf", "1e+300"}


def test_drift_keeps_every_column_when_one_holds_infinities():
    training = pd.DataFrame({"code": [1.0, 2.0, 3.0] * 10, "x": np.arange(30.0)})
    production = pd.DataFrame({"code": [1.0, np.inf, 1e308] * 5, "x": np.arange(15.0)})
    result = DriftCalculator().fit(training, {"code": "categorical", "x": "numerical"}).update(production).to_dict()
    assert {column["column"] for column in result["columns"]} == {"code", "x"}
    json.dumps(json_ready(result))


# --- 3. regression quality with rows that cannot be scored ---

def test_regression_counts_and_names_unscoreable_rows_and_scores_the_rest():
    y_true = pd.Series(["3.0", "abc", "5", "7", "inf", "2"], dtype=object)
    y_pred = pd.Series([2.5, 4.0, np.inf, 6.0, 1.0, 2.5])
    ids = ["a", "b", "c", "d", "e", "f"]
    result = quality_metrics("regression", y_true, y_pred, ids=ids)
    unscoreable = result.unscoreable_rows
    assert unscoreable["count"] == 3
    assert {example["id"] for example in unscoreable["examples"]} == {"b", "c", "e"}
    assert unscoreable["causes"] == {"label is not a number": 1, "label is infinite": 1, "prediction is infinite": 1}
    assert result.reason.startswith("3 row(s) could not be scored")  # shown in the report's summary line
    good_true, good_pred = np.array([3.0, 7.0, 2.0]), np.array([2.5, 6.0, 2.5])
    assert result.metric("mse").value == pytest.approx(skm.mean_squared_error(good_true, good_pred))
    assert result.metric("r2").value == pytest.approx(skm.r2_score(good_true, good_pred))
    json.dumps(result.to_dict())


# --- 4. conventions that misled ---

def test_energy_distance_is_unit_free():
    rng = np.random.default_rng(12)
    training, production = rng.normal(10, 2, 3000), rng.normal(10.5, 2.5, 2000)
    values = []
    for scale in (0.001, 1.0, 1000.0):
        bins = fit_numeric_bins(training * scale)
        result = run_test("ENERGY", bins.counts(training * scale), bins.counts(production * scale), bins,
                          DriftConfig())
        values.append(result.value)
        assert "standardised" in result.conventions["scale"]
    assert values[0] == pytest.approx(values[1], rel=1e-6) and values[2] == pytest.approx(values[1], rel=1e-6)


def test_mape_skips_zero_labels_and_says_how_many():
    y_true, y_pred = np.array([0.0, 2.0, 4.0, 0.0]), np.array([1.0, 1.0, 5.0, 0.5])
    mape = quality_metrics("regression", y_true, y_pred).metric("mape")
    assert mape.value == pytest.approx(skm.mean_absolute_percentage_error([2.0, 4.0], [1.0, 5.0]))
    assert "2 row(s) with label 0 left out" in mape.note
    assert mape.reason == mape.note  # shown under the metric in the report
    all_zero = quality_metrics("regression", [0.0, 0.0], [1.0, 2.0]).metric("mape")
    assert all_zero.value is None and "every label is 0" in all_zero.reason


def test_integer_ids_match_the_same_ids_stored_as_floats():
    predictions = pd.DataFrame({"event_id": [1.0, 2.0, np.nan, 4.0], "prediction": [1, 0, 1, 1]})
    labels = pd.DataFrame({"event_id": pd.Series([1, 2, 3], dtype="int64"), "ground_truth": [1, 1, 0]})
    result = join_ground_truth(predictions, labels)
    assert result.matched_rows == 2 and result.prediction_rows_without_id == 1
    assert result.unmatched_label_ids == ["3"]
    assert "1, 1.0 and '1' match" in result.to_dict()["rule"]


def test_latest_prediction_wins_across_chunks_and_files():
    labels = pd.DataFrame({"event_id": ["a", "b", "c"], "ground_truth": [1, 0, 1]})
    joiner = GroundTruthJoiner(labels)
    joiner.add(pd.DataFrame({"event_id": ["a", "b", "z"], "prediction": [0, 0, 1]}))
    joiner.add(pd.DataFrame({"event_id": ["a", "z"], "prediction": [1, 0]}))  # a and z again, later
    result = joiner.result()
    assert result.matched_rows == 2
    assert dict(zip(result.frame["event_id"], result.frame["prediction"], strict=False)) == {"a": 1, "b": 0}
    assert result.duplicate_prediction_rows == 2 and result.unmatched_prediction_count == 1
    assert result.unmatched_label_ids == ["c"]


def test_latest_prediction_by_timestamp_when_given():
    labels = pd.DataFrame({"event_id": ["a"], "ground_truth": [1]})
    joiner = GroundTruthJoiner(labels, prediction_timestamp_column="ts")
    joiner.add(pd.DataFrame({"event_id": ["a"], "prediction": [1], "ts": ["2025-01-02"]}))
    joiner.add(pd.DataFrame({"event_id": ["a"], "prediction": [0], "ts": ["2025-01-01"]}))  # read later, made earlier
    assert joiner.result().frame["prediction"].tolist() == [1]


def test_out_of_range_share_stands_beside_ks_and_fails_on_its_own():
    training = pd.DataFrame({"x": np.arange(100.0)})
    # inside the range the values follow the training data (KS passes); 80% lie above it
    production = pd.DataFrame({"x": np.r_[np.arange(0.0, 100.0, 5.0), np.full(80, 1000.0)]})
    config = {"columns": {"x": {"test": "KS"}}}
    column = DriftCalculator(config).fit(training, {"x": "numerical"}).update(production).results()[0]
    payload = column.to_dict()
    assert payload["out_of_range"]["share"] == pytest.approx(0.8)
    assert payload["out_of_range"]["passed"] is False and payload["passed"] is False
    assert "KS does not see" in payload["reason"]
    ks = next(test for test in payload["tests"] if test["name"] == "KS")
    assert ks["value_passed"] is True and ks["passed"] is False
    assert ks["out_of_range"]["threshold"] == DriftConfig().out_of_range.threshold
    # no values inside the range at all: KS has no value, yet the column still fails
    alone = DriftCalculator(config).fit(training, {"x": "numerical"}).update(pd.DataFrame({"x": [500.0] * 9}))
    assert alone.results()[0].main.value is None and alone.results()[0].passed is False


def test_training_std_states_ddof_zero():
    values = np.random.default_rng(13).normal(size=50)
    bins = fit_numeric_bins(values)
    assert bins.training_std == pytest.approx(np.std(values, ddof=0))
    assert bins.to_dict()["training_std_ddof"] == 0


def test_regression_gini_ties_are_order_free_and_constant_prediction_scores_zero():
    rng = np.random.default_rng(14)
    y = rng.uniform(1, 10, 200)
    for seed in range(3):
        order = np.random.default_rng(seed).permutation(200)
        assert normalized_gini(y[order], np.full(200, 5.0)) == pytest.approx(0, abs=1e-12)
    labels = rng.integers(0, 2, 500)
    tied_scores = np.round(labels * 0.3 + rng.uniform(size=500), 1)  # many ties
    assert normalized_gini(labels, tied_scores) == pytest.approx(2 * skm.roc_auc_score(labels, tied_scores) - 1)


# --- issue 7: one threshold type, a registry, a lazy package ---

def test_bad_quality_threshold_operator_is_an_error_not_ignored():
    with pytest.raises(ConfigError, match="operator"):
        quality_metrics("classification", [1, 0], [1, 0], thresholds={"accuracy": {"operator": "=>"}})
    with pytest.raises(ConfigError, match="accurracy"):
        quality_metrics("classification", [1, 0], [1, 0], thresholds={"accurracy": {"threshold": 0.5}})
    with pytest.raises(ConfigError, match="threshold"):
        Threshold.parse({"operator": "<", "threshold": "high"}, "drift test PSI")


def test_registry_names_each_test_once_with_its_value_types():
    assert set(DRIFT_TESTS) == set(DriftConfig().data["tests"])
    categorical = fit_categorical_bins(["a", "b"])
    for name, test in DRIFT_TESTS.items():
        assert test.api_name and set(test.value_types) <= {"numerical", "categorical"}
        result = run_test(name, np.array([5, 5, 0, 0]), np.array([1, 9, 0, 0]), categorical, DriftConfig())
        assert (result.value is not None) == test.applies_to("categorical")


def test_importing_the_engine_loads_no_heavy_library():
    code = ("import sys, dmm.analysis; heavy = [m for m in ('pandas', 'scipy', 'sklearn', 'numpy') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
