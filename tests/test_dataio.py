"""dmm.dataio: reading CSV/TSV, Parquet and JSON Lines, and refusing files pandas would misread."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dmm.dataio import check_column_names, read_table
from dmm.errors import UsageError

FRAME = pd.DataFrame({"age": [30, 40], "plan": ["a", "b"], "churned": ["no", "yes"]})


@pytest.mark.parametrize("name", ["data.csv", "data.tsv", "data.parquet", "data.pq", "data.jsonl", "data.ndjson"])
def test_reads_every_supported_format(tmp_path, name):
    path = tmp_path / name
    if name.endswith((".parquet", ".pq")):
        FRAME.to_parquet(path, index=False)
    elif name.endswith((".jsonl", ".ndjson")):
        FRAME.to_json(path, orient="records", lines=True)
    else:
        FRAME.to_csv(path, index=False, sep="\t" if name.endswith(".tsv") else ",")
    frame = read_table(path)
    assert list(frame.columns) == ["age", "plan", "churned"]
    assert frame["age"].tolist() == [30, 40]
    assert frame["plan"].tolist() == ["a", "b"]


def _error(path) -> str:
    with pytest.raises(UsageError) as caught:
        read_table(path)
    assert caught.value.exit_code == 2
    return str(caught.value)


def test_missing_file(tmp_path):
    assert "does not exist" in _error(tmp_path / "nope.csv")


def test_empty_file(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    assert "is empty" in _error(tmp_path / "empty.csv")


def test_header_only_csv(tmp_path):
    (tmp_path / "header.csv").write_text("a,b,c\n")
    assert "no data rows" in _error(tmp_path / "header.csv")


def test_duplicate_csv_columns_are_detected_before_pandas_renames_them(tmp_path):
    (tmp_path / "dup.csv").write_text("a,b,a\n1,2,3\n")
    message = _error(tmp_path / "dup.csv")
    assert "'a' more than once" in message


def test_duplicate_parquet_columns(tmp_path):
    table = pa.table([pa.array([1]), pa.array([2])], names=["x", "x"])
    pq.write_table(table, tmp_path / "dup.parquet")
    assert "'x' more than once" in _error(tmp_path / "dup.parquet")


def test_duplicate_jsonl_keys(tmp_path):
    (tmp_path / "dup.jsonl").write_text('{"a": 1, "a": 2}\n')
    assert "'a' more than once" in _error(tmp_path / "dup.jsonl")


def test_unnamed_and_padded_columns(tmp_path):
    (tmp_path / "blank.csv").write_text("a,,c\n1,2,3\n")
    assert "without a name" in _error(tmp_path / "blank.csv")
    (tmp_path / "padded.csv").write_text("a, b\n1,2\n")
    assert "leading or trailing spaces" in _error(tmp_path / "padded.csv")


def test_corrupt_parquet(tmp_path):
    (tmp_path / "bad.parquet").write_bytes(b"this is not parquet at all")
    assert "could not be read as Parquet" in _error(tmp_path / "bad.parquet")


def test_binary_csv(tmp_path):
    (tmp_path / "bad.csv").write_bytes(b"\xff\xfe\x00\x81\x00garbage\n\x9c\x00")
    assert "is not UTF-8 text (byte 0xff at position 0)" in _error(tmp_path / "bad.csv")


def test_ragged_csv(tmp_path):
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3,4,5,6\n")
    assert "could not be read as CSV" in _error(tmp_path / "ragged.csv")


def test_bad_json_line(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"a": 1}\n{"a": \n')
    assert "could not be read as JSON Lines" in _error(tmp_path / "bad.jsonl")


def test_unsupported_extension(tmp_path):
    (tmp_path / "data.xlsx").write_text("x")
    message = _error(tmp_path / "data.xlsx")
    assert "unsupported extension" in message and ".parquet" in message


def test_check_column_names_accepts_good_names():
    check_column_names(["a", "b c", "d_1"], "x")
    with pytest.raises(UsageError):
        check_column_names(["a", 3], "x")


@pytest.mark.parametrize("name,data,code", [
    ("gt/a.csv", b"event_id,churned\ne\xe91,yes\n", "file-not-utf8"),
    ("gt/a.parquet", b"not parquet", "file-unreadable"),
    ("gt/a.csv", b"", "file-unreadable"),
])
def test_a_downloaded_table_that_cannot_be_read_names_the_key(name, data, code):
    """Issue 11: step 6 reads step 5's uploads from the data source; bad bytes were an 'unexpected' error."""
    from dmm.dataio import read_table_bytes

    with pytest.raises(UsageError) as caught:
        read_table_bytes(name, data)
    assert caught.value.code == code and name in str(caught.value)
