"""Readers that feed the analysis kernels: parquet streamed in batches, and whole small table files.

``iter_parquet_batches`` reads files, folders, or Domino's ``prediction_data`` layout
(``<dir>/$$date$$=YYYY-MM-DDZ/$$hour$$=HHZ/*.parquet``, the partition folders becoming optional columns),
optionally keeping only rows whose timestamp falls in ``[start, end)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from dmm.errors import UsageError

DATE_PARTITION = "$$date$$"
TABLE_FORMATS = ("csv", "parquet", "jsonl")


def _utc(moment) -> datetime | None:
    if moment is None:
        return None
    stamp = pd.Timestamp(moment)
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).to_pydatetime()


def _dataset(paths_or_dir) -> ds.Dataset:
    sources = [paths_or_dir] if isinstance(paths_or_dir, (str, Path)) else list(paths_or_dir)
    missing = [str(path) for path in sources if not Path(path).exists()]
    if missing:
        raise UsageError(f"No such file or folder: {missing[0]}", "Check the path to the prediction data")
    source: str | list[str] = (str(sources[0]) if len(sources) == 1 and Path(sources[0]).is_dir()
                               else [str(path) for path in sources])
    # no pre-buffering: it would read whole row groups of every column ahead, which costs memory, not time, on disk
    parquet = ds.ParquetFileFormat(default_fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False))
    return ds.dataset(source, format=parquet, partitioning="hive")


def _window_filter(dataset: ds.Dataset, timestamp_column: str | None, start, end):
    """A pushdown filter where the column types allow one; else None (rows are filtered per batch)."""
    start, end = _utc(start), _utc(end)
    if timestamp_column is None or (start is None and end is None):
        return None, False
    schema = dataset.schema
    conditions = []
    if DATE_PARTITION in schema.names and pa.types.is_string(schema.field(DATE_PARTITION).type):
        # folder names are YYYY-MM-DDZ, so a text comparison on the day prunes whole partitions
        if start is not None:
            conditions.append(ds.field(DATE_PARTITION) >= start.strftime("%Y-%m-%d"))
        if end is not None:
            conditions.append(ds.field(DATE_PARTITION) <= end.strftime("%Y-%m-%dZ"))
    if timestamp_column not in schema.names:
        raise UsageError(f"The prediction data has no column {timestamp_column!r}",
                         f"Pick the timestamp column from: {', '.join(schema.names)}")
    column_type = schema.field(timestamp_column).type
    per_batch = not pa.types.is_timestamp(column_type)
    if not per_batch:
        tz_type = column_type if column_type.tz else pa.timestamp(column_type.unit)
        to_scalar = (lambda m: pa.scalar(m, type=tz_type)) if column_type.tz else \
            (lambda m: pa.scalar(m.replace(tzinfo=None), type=tz_type))
        if start is not None:
            conditions.append(ds.field(timestamp_column) >= to_scalar(start))
        if end is not None:
            conditions.append(ds.field(timestamp_column) < to_scalar(end))
    expression = None
    for condition in conditions:
        expression = condition if expression is None else expression & condition
    return expression, per_batch


def iter_parquet_batches(paths_or_dir, columns: Sequence[str] | None = None, batch_size: int = 200_000,
                         timestamp_column: str | None = None, start=None, end=None) -> Iterator[pd.DataFrame]:
    """Yield pandas frames of at most ``batch_size`` rows. Memory holds about one parquet row group at a time
    (Arrow decodes a row group whole), so it does not grow with the number of files or rows."""
    dataset = _dataset(paths_or_dir)
    expression, per_batch = _window_filter(dataset, timestamp_column, start, end)
    wanted = None
    if columns is not None:
        wanted = [name for name in columns if name in dataset.schema.names]
        if per_batch and timestamp_column is not None and timestamp_column not in wanted:
            wanted.append(timestamp_column)
    # one file and one batch in flight: memory stays near one row group, whatever the size of the data
    batches = dataset.to_batches(columns=wanted, filter=expression, batch_size=batch_size,
                                 fragment_readahead=1, batch_readahead=1)
    for batch in batches:
        if batch.num_rows == 0:
            continue
        frame = batch.to_pandas()
        if per_batch:
            moments = pd.to_datetime(frame[timestamp_column], errors="coerce", utc=True, format="mixed")
            keep = moments.notna()
            if start is not None:
                keep &= moments >= pd.Timestamp(_utc(start))
            if end is not None:
                keep &= moments < pd.Timestamp(_utc(end))
            frame = frame.loc[keep.to_numpy()].reset_index(drop=True)
            if columns is not None and timestamp_column not in columns:
                frame = frame.drop(columns=timestamp_column)
            if frame.empty:
                continue
        yield frame


def count_parquet_rows(paths_or_dir) -> int:
    return _dataset(paths_or_dir).count_rows()


def read_table_file(path, file_format: str | None = None) -> pd.DataFrame:
    """Read a whole csv, parquet or jsonl file; the format comes from ``file_format`` or the file's suffix.

    Delegates to ``dmm.dataio.read_table``, the one table reader (same checks, same errors).
    """
    from dmm.dataio import read_table

    return read_table(path, file_format=file_format or Path(path).suffix.lstrip(".") or None)
