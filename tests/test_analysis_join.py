"""The quality join (dmm/analysis/join.py) keeps the latest prediction per labelled id in slots of numpy arrays;
it must give what the frame-based join it replaced gives (tests/join_reference.py), for any chunking, duplicate
ids on both sides, timestamps, missing ids and columns, and Arrow tables as well as pandas frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from join_reference import GroundTruthJoiner as ReferenceJoiner

from dmm.analysis.join import GroundTruthJoiner, LabelIndex

IDS = st.one_of(st.integers(0, 8), st.sampled_from([1.0, 2.0, "3", " 4 ", None, "x", "y"]))
STAMPS = st.one_of(st.none(), st.sampled_from(["2025-01-01", "2025-01-02", "2025-01-03"]))
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def comparable(frame: pd.DataFrame) -> list[tuple]:
    def plain(value):
        if isinstance(value, np.ndarray):
            return tuple(value.tolist())
        return None if value is None or (isinstance(value, float) and np.isnan(value)) else value
    return [tuple(plain(v) for v in row) for row in frame.itertuples(index=False)]


def assert_same(new, old) -> None:
    assert new.to_dict() == old.to_dict()
    assert list(new.frame.columns) == list(old.frame.columns)
    assert comparable(new.frame) == comparable(old.frame)


def chunks_of(rows: list, cuts: list[int]) -> list[list]:
    edges = sorted({min(c, len(rows)) for c in cuts} | {0, len(rows)})
    return [rows[a:b] for a, b in zip(edges, edges[1:], strict=False)]


@SETTINGS
@given(labels=st.lists(st.tuples(IDS, st.integers(0, 1), STAMPS), max_size=25),
       predictions=st.lists(st.tuples(IDS, st.integers(0, 1), STAMPS, st.floats(0, 1)), max_size=40),
       cuts=st.lists(st.integers(0, 40), max_size=6), label_times=st.booleans(), prediction_times=st.booleans())
def test_slots_give_what_the_frame_join_gave(labels, predictions, cuts, label_times, prediction_times):
    truth = pd.DataFrame(labels, columns=["event_id", "ground_truth", "ts"])
    options = {"timestamp_column": "ts" if label_times else None,
               "prediction_timestamp_column": "when" if prediction_times else None, "max_listed": 5}
    new, old = GroundTruthJoiner(truth, **options), ReferenceJoiner(truth, **options)
    for part in chunks_of(predictions, cuts):
        frame = pd.DataFrame(part, columns=["event_id", "prediction", "when", "score"])
        new.add(frame)
        old.add(frame)
    assert_same(new.result(), old.result())


@SETTINGS
@given(labels=st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d", None]), st.sampled_from(["0", "1"])),
                       max_size=12),
       predictions=st.lists(st.tuples(st.sampled_from(["a", "b", "c", "e", None]), st.sampled_from(["0", "1"]),
                                      st.floats(0, 1), st.booleans()), max_size=30),
       cuts=st.lists(st.integers(0, 30), max_size=5))
def test_arrow_chunks_with_probability_lists(labels, predictions, cuts):
    truth = pd.DataFrame(labels, columns=["event_id", "churned"])
    index = LabelIndex(truth["event_id"])
    new = GroundTruthJoiner(truth, label_column="churned", label_name="churned_label", index=index)
    old = ReferenceJoiner(truth, label_column="churned", label_name="churned_label")
    for part in chunks_of(predictions, cuts):
        ids = [p[0] for p in part]
        table = pa.table({"event_id": pa.array(ids, pa.string()), "churned": [p[1] for p in part],
                          "prediction_probability": pa.array([[p[2], 1 - p[2]] if p[3] else [p[2]] for p in part],
                                                             pa.list_(pa.float64()))})
        new.add(table)
        old.add(table.to_pandas())
    result, reference = new.result(), old.result()
    assert_same(result, reference)
    if result.matched_rows:
        probabilities = result.column("prediction_probability")
        expected = reference.frame["prediction_probability"].tolist()
        if isinstance(probabilities, np.ndarray):  # one length: a float matrix
            assert probabilities.tolist() == [list(v) for v in expected]
        else:
            assert [list(v) for v in probabilities] == [list(v) for v in expected]


def test_a_column_missing_from_a_later_chunk_is_missing_for_the_rows_it_won():
    truth = pd.DataFrame({"event_id": ["a", "b"], "ground_truth": [1, 0]})
    new, old = GroundTruthJoiner(truth), ReferenceJoiner(truth)
    for frame in (pd.DataFrame({"event_id": ["a", "b"], "prediction": [1, 0], "p": [0.9, 0.1]}),
                  pd.DataFrame({"event_id": ["a"], "prediction": [0]})):
        new.add(frame)
        old.add(frame)
    result = new.result()
    assert_same(result, old.result())
    assert result.frame["event_id"].tolist() == ["b", "a"]  # in the order of each id's latest prediction
    assert result.frame["p"].isna().tolist() == [False, True]


def test_memory_follows_the_labels_not_the_predictions():
    truth = pd.DataFrame({"event_id": [f"id{i}" for i in range(100)], "ground_truth": [i % 2 for i in range(100)]})
    joiner = GroundTruthJoiner(truth)
    for round_ in range(30):  # every label predicted again and again: the slots stay 100 long
        joiner.add(pd.DataFrame({"event_id": [f"id{i}" for i in range(100)] + [f"other{round_}-{i}" for i in range(50)],
                                 "prediction": [round_ % 2] * 150}))
    assert all(len(store.filled) == 100 for store in joiner._slots.values())
    result = joiner.result()
    assert result.matched_rows == 100 and result.duplicate_prediction_rows == 29 * 100
    assert result.unmatched_prediction_count == 30 * 50
    assert set(result.frame["prediction"]) == {29 % 2}


@SETTINGS
@given(batches=st.lists(st.lists(st.integers(0, 2 ** 64 - 1) | st.sampled_from([0, 1, 2 ** 63, 2 ** 64 - 1]),
                                 max_size=30), max_size=12))
def test_distinct_prediction_ids_are_counted_exactly_across_batches(batches):
    from dmm.analysis import join_slots

    distinct = join_slots.DistinctHashes()
    for batch in batches:
        distinct.add(np.asarray(batch + batch[:3], dtype=np.uint64))  # repeats within a batch too
    assert distinct.count() == len({value for batch in batches for value in batch})
    assert distinct.files == []  # the temporary files are closed (and so removed) once counted


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_text_slot_values_equal_arrows_own_conversion_with_one_string_per_distinct_value(kind):
    """``column_values`` of a text column: the values and dtype ``to_pandas`` gives (missing as it gives them), built
    from the column's distinct values, so a repeated value is one Python object however many rows hold it."""
    from dmm.analysis.join_slots import column_values

    table = pa.table({"p": pa.array(["yes", None, "no", "yes", "", "no", None, "yes"], kind)})
    rows = np.array([7, 0, 1, 2, 3, 5, 6])
    values, dtype = column_values(table, "p", rows)
    expected = table.column("p").to_pandas()
    assert dtype == expected.dtype
    assert pd.Series(values, dtype=object).equals(pd.Series(expected.to_numpy()[rows], dtype=object))
    assert values[0] is values[1] is values[4] and values[3] is values[5]  # "yes" three times, "no" twice
