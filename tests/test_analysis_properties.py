"""Properties of the engine that must hold on any data (hypothesis): chunking and row order never change counts,
1/1.0/"1" share a bin, scale-free distances ignore the column's units, and no finite-size input makes a kernel
raise."""

import json

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from dmm.analysis import (
    DRIFT_TESTS,
    DriftCalculator,
    DriftConfig,
    GroundTruthJoiner,
    class_key,
    fit_categorical_bins,
    fit_numeric_bins,
    join_ground_truth,
    quality_metrics,
    run_test,
)
from dmm.report import json_ready

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

finite = st.floats(allow_nan=False, allow_infinity=False)
any_float = st.floats(allow_nan=True, allow_infinity=True)
class_values = st.one_of(st.integers(-3, 3), st.sampled_from([0.5, 1.0, 2.0, -0.0, np.inf, 1e300, np.nan]),
                         st.sampled_from(["a", "b", " 1", "1.0", "", "true"]), st.booleans(), st.none())
numeric_values = st.one_of(any_float, st.integers(-10, 10), st.none(), st.sampled_from(["x", "3.5", ""]))


def split(values, cuts):
    """``values`` cut at the (sorted, clipped) positions ``cuts``; each chunk a Series whose dtype pandas infers."""
    edges = sorted({min(max(c, 0), len(values)) for c in cuts} | {0, len(values)})
    return [pd.Series(values[a:b]) for a, b in zip(edges, edges[1:], strict=False) if b > a]


@SETTINGS
@given(training=st.lists(class_values, max_size=30), production=st.lists(class_values, max_size=60),
       cuts=st.lists(st.integers(0, 60), max_size=6), seed=st.integers(0, 2 ** 16))
def test_categorical_counts_ignore_chunking_and_row_order(training, production, cuts, seed):
    bins = fit_categorical_bins(pd.Series(training, dtype=object))
    whole = bins.counts(pd.Series(production, dtype=object))
    chunked = sum((bins.counts(chunk) for chunk in split(production, cuts)), np.zeros_like(whole))
    shuffled = [production[i] for i in np.random.default_rng(seed).permutation(len(production))]
    np.testing.assert_array_equal(chunked, whole)
    np.testing.assert_array_equal(bins.counts(pd.Series(shuffled)), whole)
    assert whole.sum() == len(production)


text_values = st.one_of(st.sampled_from(["a", "b", " a ", "1", "1.0", " 01", "-2.50", "", "  ", "true", "False", "c",
                                         "1e3", "x y"]), st.text(max_size=4), st.none())


@SETTINGS
@given(training=st.lists(text_values, max_size=30), production=st.lists(text_values, max_size=60),
       cuts=st.lists(st.integers(0, 60), max_size=6))
def test_arrow_text_counts_equal_the_object_path(training, production, cuts):
    """Arrow-backed text (pandas' "str", what step 6's Arrow reads become) is tallied by Arrow and memoised per
    distinct value; counts and unseen tallies must equal those of the same values as Python objects."""
    reference = fit_categorical_bins(pd.Series(training, dtype=object))
    fast = fit_categorical_bins(pd.Series(training, dtype="string[pyarrow]"))
    assert fast.classes == reference.classes
    expected, expected_unseen = reference.counts_and_unseen(pd.Series(production, dtype=object))
    for _ in range(2):  # the second round reads every bin from the memo
        got = np.zeros_like(expected)
        unseen: dict = {}
        for chunk in split(production, cuts):
            counts, tally = fast.counts_and_unseen(chunk.astype("string[pyarrow]"))
            got += counts
            for name, count in tally.items():
                unseen[name] = unseen.get(name, 0) + count
        np.testing.assert_array_equal(got, expected)
        assert unseen == dict(expected_unseen)


@SETTINGS
@given(training=st.lists(finite, min_size=1, max_size=40), production=st.lists(numeric_values, max_size=60),
       cuts=st.lists(st.integers(0, 60), max_size=6), seed=st.integers(0, 2 ** 16))
def test_numeric_counts_ignore_chunking_and_row_order(training, production, cuts, seed):
    bins = fit_numeric_bins(training)
    whole = bins.counts(pd.Series(production, dtype=object))
    chunked = sum((bins.counts(chunk) for chunk in split(production, cuts)), np.zeros_like(whole))
    shuffled = [production[i] for i in np.random.default_rng(seed).permutation(len(production))]
    np.testing.assert_array_equal(chunked, whole)
    np.testing.assert_array_equal(bins.counts(pd.Series(shuffled, dtype=object)), whole)
    assert whole.sum() == len(production)
    assert bins.counts(training)[:-2].sum() == len(training)  # training values all fall in trained bins


@SETTINGS
@given(number=st.one_of(st.integers(-(2 ** 60), 2 ** 60), st.integers(-1000, 1000)))
def test_one_and_one_point_zero_and_text_one_are_one_class(number):
    spellings = [number, np.int64(number), f" {number} "]
    if abs(number) < 2 ** 53:
        spellings += [float(number), np.float64(number), f"{number}.0"]
    assert len({class_key(value) for value in spellings}) == 1
    bins = fit_categorical_bins(pd.Series([number]))
    counts = bins.counts(pd.Series(spellings, dtype=object))
    assert counts[0] == len(spellings)


SCALE_FREE = ("KL", "PSI", "CHI_SQUARE", "KS", "WASSERSTEIN", "ENERGY", "JS")


@SETTINGS
@given(training=st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=40),
       production=st.lists(st.floats(-2e6, 2e6), min_size=1, max_size=40), power=st.integers(-30, 30))
@example(training=[0.0, 7.18e-163], production=[0.0], power=3)  # the std's squares underflowed at one scale only
@example(training=[0.0, 0.0], production=[5e-324], power=-1)  # halved, the smallest subnormal rounds to 0
@example(training=[0.0, 0.0, 1.1125369292536007e-308], production=[0.0], power=-21)  # a subnormal bin width
def test_scale_free_distances_ignore_a_positive_scale(training, production, power):
    scale = 2.0 ** power  # a power of two scales every normal float exactly, so the bins scale exactly too
    training, production = np.asarray(training), np.asarray(production)
    # ... but not a subnormal one: its last bits fall off (5e-324 / 2 == 0), and neither do the bin widths and
    # centres derived from the data (a span over up to a billion bins), so the data stay this far above them
    floor = np.finfo(float).tiny * 2.0 ** 30
    assume(all(np.all((values == 0) | (np.abs(values) * min(scale, 1.0) >= floor))
               for values in (training, production)))
    bins, scaled_bins = fit_numeric_bins(training), fit_numeric_bins(training * scale)
    for name in SCALE_FREE:
        plain = run_test(name, bins.counts(training), bins.counts(production), bins, DriftConfig())
        scaled = run_test(name, scaled_bins.counts(training * scale), scaled_bins.counts(production * scale),
                          scaled_bins, DriftConfig())
        if plain.value is None:
            assert scaled.value is None
        else:
            assert np.isclose(scaled.value, plain.value, rtol=1e-9, atol=1e-12), name
        assert scaled.passed == plain.passed


frames = st.lists(st.tuples(numeric_values, class_values), max_size=40)


@SETTINGS
@given(training=frames, production=frames)
def test_no_finite_input_makes_drift_raise(training, production):
    columns = {"n": "numerical", "c": "categorical"}
    calculator = DriftCalculator().fit(pd.DataFrame(training, columns=["n", "c"]), columns)
    calculator.update(pd.DataFrame(production, columns=["n", "c"]))
    result = calculator.to_dict()
    json.dumps(json_ready(result), allow_nan=False)
    for column in result["columns"]:
        assert sum(column["production_counts"]) == len(production)
        for test in column["tests"]:
            assert test["value"] is not None or test["reason"]


@SETTINGS
@given(reference=st.lists(st.integers(0, 10 ** 6), min_size=3, max_size=12),
       production=st.lists(st.integers(0, 10 ** 6), min_size=3, max_size=12))
def test_no_counts_make_a_drift_test_raise(reference, production):
    size = min(len(reference), len(production))
    bins = fit_numeric_bins(np.arange(size - 2, dtype=float))
    for name in DRIFT_TESTS:
        result = run_test(name, np.array(reference[:size]), np.array(production[:size]), bins, DriftConfig())
        assert result.value is None or np.isfinite(result.value) or result.reason
        json.dumps(json_ready(result.to_dict()), allow_nan=False)


labels = st.one_of(any_float, st.integers(-5, 5), st.none(), st.sampled_from(["abc", "2", ""]))


@SETTINGS
@given(rows=st.lists(st.tuples(labels, labels), max_size=40), model_type=st.sampled_from(["regression",
                                                                                         "classification"]))
def test_no_finite_input_makes_quality_raise(rows, model_type):
    y_true = pd.Series([row[0] for row in rows], dtype=object)
    y_pred = pd.Series([row[1] for row in rows], dtype=object)
    result = quality_metrics(model_type, y_true, y_pred, ids=list(range(len(rows))))
    payload = result.to_dict()
    json.dumps(json_ready(payload), allow_nan=False)
    left_out = payload["rows_with_missing_values"] + payload["unscoreable_rows"]["count"]
    assert left_out <= len(rows)
    for metric in payload["metrics"]:
        assert metric["value"] is not None or metric["reason"] or metric["threshold"] is None


ids = st.one_of(st.integers(0, 6), st.sampled_from([1.0, 2.0, "3", " 4 ", None]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(labels=st.lists(st.tuples(ids, st.integers(0, 1)), max_size=20),
       predictions=st.lists(st.tuples(ids, st.integers(0, 1)), max_size=30),
       cuts=st.lists(st.integers(0, 30), max_size=5))
def test_join_is_the_same_for_any_chunking(labels, predictions, cuts):
    truth = pd.DataFrame(labels, columns=["event_id", "ground_truth"])
    whole_frame = pd.DataFrame(predictions, columns=["event_id", "prediction"])
    whole = join_ground_truth(whole_frame, truth)
    joiner = GroundTruthJoiner(truth)
    edges = sorted({min(c, len(predictions)) for c in cuts} | {0, len(predictions)})
    for a, b in zip(edges, edges[1:], strict=False):
        joiner.add(pd.DataFrame(predictions[a:b], columns=["event_id", "prediction"]))
    chunked = joiner.result()
    assert chunked.to_dict() == whole.to_dict()
    pairs = zip(chunked.frame.get("event_id", []), chunked.frame.get("prediction", []), strict=True)
    matched = {class_key(i): p for i, p in pairs}
    latest = {}
    for identifier, prediction in predictions:  # the latest prediction of each labelled id, by hand
        if class_key(identifier) is not None and class_key(identifier) in {class_key(i) for i, _ in labels}:
            latest[class_key(identifier)] = prediction
    assert matched == latest


@SETTINGS
@given(values=st.one_of(st.lists(class_values, max_size=30),
                        st.lists(st.text(alphabet=" 0123456789.-+aeE", max_size=6), max_size=30),
                        st.lists(st.integers(-(2 ** 63), 2 ** 63 - 1), max_size=30), st.lists(any_float, max_size=30)))
def test_column_keys_follow_the_one_value_rule(values):
    from dmm.analysis import class_keys

    expected = [class_key(value) for value in values]
    assert class_keys(pd.Series(values, dtype=object)).astype(object).where(lambda s: s.notna(), None).tolist() \
        == expected
    natural = pd.Series(values) if values else pd.Series([], dtype=object)
    got = class_keys(natural).astype(object).where(lambda s: s.notna(), None).tolist()
    assert got == [class_key(value) for value in natural.tolist()]


@SETTINGS
@given(values=st.lists(st.one_of(st.text(alphabet=" 0123456789.-+aeE", max_size=6), st.none()), min_size=1,
                       max_size=12), text_dtype=st.booleans())
def test_long_columns_of_repeated_text_are_keyed_by_the_one_value_rule(values, text_dtype):
    """Past ``SAMPLE_ROWS`` rows, a column that repeats its values is keyed once per distinct value."""
    from dmm.analysis.keys import SAMPLE_ROWS, class_keys

    rows = values * (SAMPLE_ROWS // len(values) + 2)
    series = pd.Series(rows, dtype="string" if text_dtype else object)
    got = class_keys(series).astype(object).where(lambda s: s.notna(), None).tolist()
    assert got == [class_key(value) for value in series.astype(object).where(series.notna(), None).tolist()]
