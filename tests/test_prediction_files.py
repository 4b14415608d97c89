"""dmm/prediction_files.py: partition paths, finding the folder, time windows and footer-only summaries."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dmm.errors import UsageError
from dmm.prediction_files import (
    DEFAULT_ROOTS,
    PredictionFile,
    default_roots,
    list_prediction_files,
    partition_hour,
    resolve_prediction_dir,
    summarize,
)


def utc(day: int, hour: int) -> datetime:
    return datetime(2024, 3, day, hour, tzinfo=timezone.utc)


def write_predictions(folder: Path, day: int, hour: int, rows: int, columns=("event_id", "tenure", "churned"),
                      name: str = "predictions_0.parquet") -> Path:
    path = folder / f"$$date$$=2024-03-{day:02d}Z" / f"$$hour$$={hour:02d}Z" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({column: [f"{column}-{i}" for i in range(rows)] for column in columns})
    pq.write_table(table, path)
    return path


# --- partition_hour ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, expected", [
    ("mv1/$$date$$=2024-03-05Z/$$hour$$=07Z/predictions_a.parquet", utc(5, 7)),
    ("$$date$$=2024-03-05Z/$$hour$$=23Z/p.parquet", utc(5, 23)),
    ("$$date$$=2024-03-05/$$hour$$=7/p.parquet", utc(5, 7)),
    ("$$date$$=2024-03-05Z/p.parquet", utc(5, 0)),
])
def test_partition_hour_reads_the_date_and_hour_folders(path, expected):
    assert partition_hour(Path(path)) == expected


@pytest.mark.parametrize("path", ["mv1/predictions.parquet", "date=2024-03-05/hour=07/p.parquet",
                                  "$$hour$$=07Z/p.parquet"])
def test_partition_hour_is_none_outside_the_layout(path):
    assert partition_hour(Path(path)) is None


# --- default_roots / resolve_prediction_dir ------------------------------------------------------------------

def test_default_roots_put_domino_datasets_dir_first(tmp_path):
    roots = default_roots({"DOMINO_DATASETS_DIR": str(tmp_path)})
    assert roots[0] == tmp_path / "local" / "prediction_data"
    assert roots[1:] == [Path(root) for root in DEFAULT_ROOTS]
    assert default_roots({}) == [Path(root) for root in DEFAULT_ROOTS]


def test_explicit_folder_is_used_and_narrowed_to_the_model_version(tmp_path):
    (tmp_path / "mv-7").mkdir()
    assert resolve_prediction_dir(tmp_path) == tmp_path
    assert resolve_prediction_dir(str(tmp_path), "mv-7") == tmp_path / "mv-7"
    assert resolve_prediction_dir(tmp_path, "mv-other") == tmp_path


def test_missing_explicit_folder_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError) as caught:
        resolve_prediction_dir(tmp_path / "nope", "mv-7", roots=[tmp_path])
    assert str(tmp_path / "nope") in caught.value.message
    assert "--prediction-data" in caught.value.advice


def test_env_based_root_is_found_and_narrowed(tmp_path):
    datasets = tmp_path / "datasets"
    (datasets / "local" / "prediction_data" / "mv-7").mkdir(parents=True)
    roots = default_roots({"DOMINO_DATASETS_DIR": str(datasets)})
    assert resolve_prediction_dir(None, "mv-7", roots=roots) == datasets / "local" / "prediction_data" / "mv-7"


def test_first_existing_root_wins(tmp_path):
    second = tmp_path / "second"
    second.mkdir()
    assert resolve_prediction_dir(None, None, roots=[tmp_path / "absent", second]) == second


def test_no_folder_anywhere_gives_none(tmp_path):
    assert resolve_prediction_dir(None, "mv-7", roots=[tmp_path / "a", tmp_path / "b"]) is None


# --- list_prediction_files -----------------------------------------------------------------------------------

@pytest.fixture
def folder(tmp_path) -> Path:
    for hour in (10, 11, 12):
        write_predictions(tmp_path, 5, hour, rows=hour - 8)  # 2, 3, 4 rows
    write_predictions(tmp_path, 4, 23, rows=1)
    pq.write_table(pa.table({"event_id": ["x"]}), tmp_path / "loose.parquet")
    (tmp_path / "$$date$$=2024-03-05Z" / "$$hour$$=10Z" / "notes.txt").write_text("not parquet")
    return tmp_path


def hours_of(files: list[PredictionFile]) -> list[datetime | None]:
    return [f.hour for f in files]


def test_without_a_window_every_parquet_file_is_listed(folder):
    files = list_prediction_files(folder)
    assert len(files) == 5
    assert sorted(h for h in hours_of(files) if h) == [utc(4, 23), utc(5, 10), utc(5, 11), utc(5, 12)]
    assert None in hours_of(files)  # the file outside the layout is kept
    assert all(f.path.suffix == ".parquet" for f in files)


def test_window_keeps_hours_that_overlap_start_and_drops_the_end_hour(folder):
    files = list_prediction_files(folder, start=datetime(2024, 3, 5, 10, 30, tzinfo=timezone.utc), end=utc(5, 12))
    assert sorted(h for h in hours_of(files) if h) == [utc(5, 10), utc(5, 11)]
    assert None in hours_of(files)


def test_window_with_only_a_start(folder):
    files = list_prediction_files(folder, start=utc(5, 11))
    assert sorted(h for h in hours_of(files) if h) == [utc(5, 11), utc(5, 12)]


# --- summarize -----------------------------------------------------------------------------------------------

def test_summarize_counts_files_rows_hours_and_columns(tmp_path):
    write_predictions(tmp_path, 5, 10, rows=2)
    write_predictions(tmp_path, 5, 12, rows=3, columns=("event_id", "tenure", "churned", "prediction_probability"))
    write_predictions(tmp_path, 5, 12, rows=4, name="predictions_1.parquet")
    summary = summarize(list_prediction_files(tmp_path))
    assert summary.files == 3
    assert summary.rows == 9
    assert (summary.first_hour, summary.last_hour) == (utc(5, 10), utc(5, 12))
    assert summary.columns == ("event_id", "tenure", "churned", "prediction_probability")


def test_summarize_of_nothing():
    summary = summarize([])
    assert (summary.files, summary.rows, summary.first_hour, summary.last_hour) == (0, 0, None, None)
    assert summary.columns == ()
