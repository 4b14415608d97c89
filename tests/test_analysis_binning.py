"""Bins: Freedman-Diaconis as numpy computes it, guard bins, vectorised counting that adds up over chunks."""

import numpy as np
import pandas as pd
import pytest

from dmm.analysis.binning import INVALID, UNTRAINED, fit_categorical_bins, fit_numeric_bins
from dmm.analysis.keys import as_class_text


@pytest.mark.parametrize("sample", [
    lambda rng: rng.normal(size=500),
    lambda rng: rng.exponential(size=2000),
    lambda rng: rng.integers(0, 7, size=300).astype(float),
    lambda rng: rng.uniform(-5, 5, size=40),
])
def test_fd_bin_count_and_edges_match_numpy(sample):
    values = sample(np.random.default_rng(3))
    expected = np.histogram_bin_edges(values, bins="fd")
    bins = fit_numeric_bins(values)
    if len(expected) - 1 <= 20:
        np.testing.assert_allclose(bins.edges, expected)
    else:
        assert bins.trained_bin_count == 20 and "capped at 20" in bins.note


def test_fd_is_capped_at_20_over_training_range():
    values = np.random.default_rng(0).normal(size=100_000)
    bins = fit_numeric_bins(values)
    assert bins.trained_bin_count == 20
    assert bins.edges[0] == values.min() and bins.edges[-1] == values.max()
    assert bins.labels[-2:] == [UNTRAINED, INVALID]


def test_numeric_counts_match_numpy_histogram_and_guard_bins():
    rng = np.random.default_rng(1)
    training = rng.normal(size=1000)
    bins = fit_numeric_bins(training)
    production = pd.Series(np.r_[rng.normal(size=500), [100.0, -100.0, np.inf], [np.nan, np.nan]])
    production = pd.concat([production.astype(object), pd.Series(["abc", None], dtype=object)], ignore_index=True)
    counts = bins.counts(production)
    finite = production.iloc[:500].astype(float).to_numpy()
    expected, _ = np.histogram(finite, bins=bins.edges)
    np.testing.assert_array_equal(counts[:-2], expected)
    assert counts[-2] == 3 + int(((finite < bins.edges[0]) | (finite > bins.edges[-1])).sum())
    assert counts[-1] == 4  # two NaN, one unparseable string, one None
    assert counts.sum() == len(production)


def test_training_values_all_fall_in_trained_bins():
    training = np.random.default_rng(2).gamma(2.0, size=5000)
    counts = fit_numeric_bins(training).counts(training)
    assert counts[:-2].sum() == training.size and counts[-2:].sum() == 0


def test_constant_column_gets_one_bin():
    bins = fit_numeric_bins(np.full(50, 3.5))
    assert bins.trained_bin_count == 1 and "constant" in bins.note
    np.testing.assert_array_equal(bins.counts([3.5, 3.5, 4.0, None]), [2, 1, 1])


def test_zero_iqr_falls_back_to_sturges_and_says_so():
    values = np.r_[np.zeros(95), np.linspace(1, 10, 5)]
    bins = fit_numeric_bins(values)
    assert "Sturges" in bins.note
    assert 1 < bins.trained_bin_count <= 20


def test_all_null_training_column_has_only_guard_bins():
    bins = fit_numeric_bins([None, np.nan, "x"])
    assert bins.labels == [UNTRAINED, INVALID] and "no valid" in bins.note
    np.testing.assert_array_equal(bins.counts([1.0, None]), [1, 1])


def test_counts_over_chunks_equal_one_pass():
    rng = np.random.default_rng(4)
    bins = fit_numeric_bins(rng.normal(size=3000))
    production = rng.normal(0.5, 1.3, size=10_001)
    chunked = sum(bins.counts(chunk) for chunk in np.array_split(production, 7))
    np.testing.assert_array_equal(chunked, bins.counts(production))


def test_categorical_bins_one_per_class_and_unseen():
    bins = fit_categorical_bins(pd.Series(["b", "a", "a", None, "c"]))
    assert bins.labels == ["a", "b", "c", UNTRAINED, INVALID]
    counts, unseen = bins.counts_and_unseen(pd.Series(["a", "z", "z", "y", None, "", "c"]))
    np.testing.assert_array_equal(counts, [1, 0, 1, 3, 2])
    assert unseen == {"z": 2, "y": 1}


def test_categorical_numbers_match_across_types():
    bins = fit_categorical_bins([0, 1, 1, 2])
    assert bins.classes == ("0", "1", "2")
    np.testing.assert_array_equal(bins.counts(pd.Series([1.0, 2.0, np.nan, 0.0])), [1, 1, 1, 0, 1])
    np.testing.assert_array_equal(bins.counts(["1", "7"]), [0, 1, 0, 1, 0])


def test_categorical_empty_values():
    bins = fit_categorical_bins(pd.Series([], dtype="string"))
    assert bins.labels == [UNTRAINED, INVALID]
    np.testing.assert_array_equal(bins.counts(pd.Series([], dtype=object)), [0, 0])


def test_as_class_text_keeps_order_and_missing():
    text = as_class_text(pd.Series([2.0, None, 1.0, 2.0]))
    assert text.tolist()[0] == "2" and text.isna().tolist() == [False, True, False, False]


def test_to_dict_is_json_ready():
    import json
    json.dumps(fit_numeric_bins(np.arange(10.0)).to_dict())
    json.dumps(fit_categorical_bins(["x", "y"]).to_dict())


def test_a_subnormal_training_range_bins_without_numpy_overflow():
    """numpy < 2 (the floor lock) indexes out of bounds when bins / width overflows; found by hypothesis."""
    import numpy as np

    from dmm.analysis.binning import fit_numeric_bins

    bins = fit_numeric_bins(np.array([0.0, 1.1125369292536007e-308]))
    counts = bins.counts(np.array([0.0, 1.1125369292536007e-308, 1.0, np.nan]))
    assert counts.sum() == 4 and counts[-1] == 1 and counts[-2] == 1  # 1.0 is untrained, nan invalid
    assert counts[:-2].sum() == 2
