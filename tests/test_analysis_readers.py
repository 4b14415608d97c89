"""Readers: parquet in the prediction_data layout streamed in batches, windows, whole table files."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dmm.analysis import count_parquet_rows, iter_parquet_batches, read_table_file
from dmm.errors import UsageError


def write_partitioned(root, timestamps_as_text=False):
    """Two hours of predictions in Domino's layout: <root>/$$date$$=YYYY-MM-DDZ/$$hour$$=HHZ/*.parquet."""
    rows = []
    for hour in (10, 11):
        stamps = pd.date_range(f"2024-03-01 {hour}:00", periods=50, freq="min", tz="UTC")
        frame = pd.DataFrame({"event_id": [f"{hour}-{i}" for i in range(50)], "x": np.arange(50.0) + hour,
                              "timestamp": stamps.strftime("%Y-%m-%dT%H:%M:%SZ") if timestamps_as_text else stamps})
        folder = root / "$$date$$=2024-03-01Z" / f"$$hour$$={hour}Z"
        folder.mkdir(parents=True)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "predictions_1.parquet")
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def test_streams_all_rows_in_bounded_batches(tmp_path):
    written = write_partitioned(tmp_path)
    batches = list(iter_parquet_batches(tmp_path, batch_size=30))
    assert all(len(batch) <= 30 for batch in batches)
    combined = pd.concat(batches, ignore_index=True)
    assert sorted(combined["event_id"]) == sorted(written["event_id"])
    assert "$$date$$" in combined.columns and "$$hour$$" in combined.columns
    assert count_parquet_rows(tmp_path) == len(written)


def test_selected_columns_only(tmp_path):
    write_partitioned(tmp_path)
    batch = next(iter_parquet_batches(tmp_path, columns=["x", "missing"]))
    assert list(batch.columns) == ["x"]


@pytest.mark.parametrize("as_text", [False, True])
def test_time_window_filters_rows(tmp_path, as_text):
    written = write_partitioned(tmp_path, timestamps_as_text=as_text)
    start, end = "2024-03-01T10:30:00Z", "2024-03-01T11:10:00Z"
    batches = list(iter_parquet_batches(tmp_path, columns=["event_id"], timestamp_column="timestamp",
                                        start=start, end=end))
    got = pd.concat(batches)["event_id"].tolist()
    stamps = pd.to_datetime(written["timestamp"], utc=True)
    expected = written.loc[(stamps >= pd.Timestamp(start)) & (stamps < pd.Timestamp(end)), "event_id"].tolist()
    assert sorted(got) == sorted(expected) and len(got) == 30  # 10:30-10:49 and 11:00-11:09


def test_missing_path_and_timestamp_column_are_user_errors(tmp_path):
    with pytest.raises(UsageError):
        list(iter_parquet_batches(tmp_path / "nope"))
    write_partitioned(tmp_path)
    with pytest.raises(UsageError, match="when"):
        list(iter_parquet_batches(tmp_path, timestamp_column="when", start="2024-01-01"))


@pytest.mark.parametrize("suffix", ["csv", "parquet", "jsonl"])
def test_read_table_file_by_suffix(tmp_path, suffix):
    frame = pd.DataFrame({"event_id": ["a", "b"], "y": [1, 0]})
    path = tmp_path / f"labels.{suffix}"
    {"csv": lambda: frame.to_csv(path, index=False), "parquet": lambda: frame.to_parquet(path),
     "jsonl": lambda: frame.to_json(path, orient="records", lines=True)}[suffix]()
    assert read_table_file(path)["y"].tolist() == [1, 0]


def test_read_table_file_format_flag_and_errors(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("event_id,y\na,1\n")
    assert read_table_file(path, file_format="csv")["y"].tolist() == [1]
    with pytest.raises(UsageError, match="format"):
        read_table_file(path)
    with pytest.raises(UsageError):
        read_table_file(tmp_path / "absent.csv")
