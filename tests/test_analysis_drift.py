"""DriftCalculator: fit on training data, stream production chunks, results sorted by severity, edge cases."""

import json

import numpy as np
import pandas as pd
import pytest

from dmm.analysis import DriftCalculator, DriftConfig
from dmm.errors import UsageError

COLUMNS = {"age": "numerical", "income": "numerical", "state": "categorical", "flat": "numerical",
           "empty": "numerical"}


@pytest.fixture
def frames():
    rng = np.random.default_rng(11)
    n = 4000
    training = pd.DataFrame({"age": rng.normal(40, 10, n), "income": rng.lognormal(10, 0.5, n),
                             "state": rng.choice(["CA", "NY", "TX"], n), "flat": np.full(n, 1.0),
                             "empty": [np.nan] * n})
    m = 3000
    production = pd.DataFrame({"age": rng.normal(55, 10, m), "income": rng.lognormal(10, 0.5, m),
                               "state": rng.choice(["CA", "NY", "TX", "WA"], m), "flat": np.full(m, 1.0),
                               "empty": [np.nan] * m})
    return training, production


def by_column(results):
    return {result.column: result for result in results}


def test_drifted_column_fails_and_comes_first(frames):
    training, production = frames
    results = DriftCalculator().fit(training, COLUMNS).update(production).results()
    assert results[0].column in ("age", "state") and results[0].passed is False
    columns = by_column(results)
    assert columns["income"].passed is True
    assert columns["age"].passed is False
    severities = [r.main.severity for r in results if r.passed is False]
    assert severities == sorted(severities, reverse=True)


def test_to_dict_shape_and_json(frames):
    training, production = frames
    payload = DriftCalculator().fit(training, COLUMNS).update(production).to_dict()
    text = json.dumps(payload)
    assert "NaN" not in text
    age = next(column for column in payload["columns"] if column["column"] == "age")
    assert len(age["bins"]) == len(age["reference_counts"]) == len(age["production_counts"])
    assert age["bins"][-2:] == ["Untrained Classes", "Invalid"]
    assert sum(age["production_counts"]) == len(production)
    assert {test["name"] for test in age["tests"]} == {"KL", "PSI", "CHI_SQUARE", "KS", "WASSERSTEIN", "ENERGY", "JS"}
    assert age["main_test"] == "PSI" and age["passed"] is False
    assert 1 <= len(age["top_bins"]) <= 3
    assert abs(age["top_bins"][0]["contribution"]) >= abs(age["top_bins"][-1]["contribution"])
    state = next(column for column in payload["columns"] if column["column"] == "state")
    assert {test["name"] for test in state["tests"]} == {"KL", "PSI", "CHI_SQUARE", "JS"}


def test_unseen_categories_are_counted_and_explained(frames):
    training, production = frames
    state = by_column(DriftCalculator().fit(training, COLUMNS).update(production).results())["state"]
    unseen = (production["state"] == "WA").sum()
    assert state.production_counts[-2] == unseen
    assert state.unseen_classes["examples"] == {"WA": int(unseen)}
    assert "unseen" in state.reason
    assert state.top_bins()[0]["bin"] == "Untrained Classes"


def test_constant_and_all_null_columns_give_value_and_reason(frames):
    training, production = frames
    columns = by_column(DriftCalculator().fit(training, COLUMNS).update(production).results())
    assert columns["flat"].main.value == pytest.approx(0) and "constant" in columns["flat"].reason
    empty = columns["empty"]
    assert empty.main.value is not None and "no valid" in empty.reason
    assert "missing" in empty.reason


def test_empty_window_gives_reason_not_exception(frames):
    training, _ = frames
    results = DriftCalculator().fit(training, COLUMNS).results()
    for result in results:
        assert result.passed is None and "no production rows" in result.reason
        json.dumps(result.to_dict())


def test_column_missing_from_production_is_reported(frames):
    training, production = frames
    result = by_column(DriftCalculator().fit(training, COLUMNS).update(production.drop(columns="age"))
                       .results())["age"]
    assert result.passed is None and "not found in the production data" in result.reason


def test_streaming_in_chunks_equals_one_pass(frames):
    training, production = frames
    whole = DriftCalculator().fit(training, COLUMNS).update(production).to_dict()
    chunked = DriftCalculator().fit(training, COLUMNS)
    for chunk in np.array_split(np.arange(len(production)), 5):
        chunked.update(production.iloc[chunk])
    assert chunked.to_dict() == whole


def test_config_override_changes_main_test(frames):
    training, production = frames
    config = DriftConfig({"columns": {"income": {"test": "KS", "threshold": 0.5}}})
    income = by_column(DriftCalculator(config).fit(training, COLUMNS).update(production).results())["income"]
    assert income.main_test == "KS" and income.main.threshold == 0.5 and income.passed is True


def test_bad_value_type_is_refused(frames):
    training, _ = frames
    with pytest.raises(UsageError, match="text"):
        DriftCalculator().fit(training, {"age": "text"})


def test_a_sample_too_small_for_the_bins_is_flagged_but_still_tested(frames):
    training, production = frames
    small = DriftCalculator().fit(training, {"age": "numerical"}).update(production.head(12)).results()[0].to_dict()
    assert small["small_sample"] is True and small["value"] is not None
    assert "noisy" in small["reason"] and str(small["reliable_rows"]) in small["reason"]
    large = DriftCalculator().fit(training, {"age": "numerical"}).update(production).results()[0].to_dict()
    assert large["small_sample"] is False and "noisy" not in large["reason"]
    assert large["reliable_rows"] == small["reliable_rows"] >= 5


def test_a_tests_selection_computes_only_the_main_test_and_the_named_ones(frames):
    training, production = frames
    every = {c.column: c for c in DriftCalculator().fit(training, COLUMNS).update(production).results()}
    alone = DriftCalculator(tests=()).fit(training, COLUMNS).update(production).results()
    with_ks = DriftCalculator(tests=["KS"]).fit(training, COLUMNS).update(production).results()
    assert all([t.name for t in c.tests] == [c.main_test] for c in alone)
    for column in with_ks:  # KS applies to numbers only; categorical columns keep their main test alone
        expected = [column.main_test] + (["KS"] if column.value_type == "numerical" else [])
        assert [t.name for t in column.tests] == expected
    for column in alone:  # the same bins, counts, main value and verdict as when every test is computed
        full = every[column.column]
        assert column.to_dict()["value"] == full.to_dict()["value"] and column.passed == full.passed
        np.testing.assert_array_equal(column.production_counts, full.production_counts)
    with pytest.raises(UsageError) as refused:
        DriftCalculator(tests=["KS", "NOPE"])
    assert "NOPE" in str(refused.value)
