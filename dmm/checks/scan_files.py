"""Reading the window's prediction files for step 6's pass (scan.py): which rows, in which batches, on which thread.

A file whose partition hour lies wholly inside the window is taken whole; a file of an hour straddling an edge, or
outside the ``$$date$$``/``$$hour$$`` layout, is filtered row by row by its timestamps (``file_batches``). Runs of
small whole-hour files with one Arrow schema are read by one Arrow call (``read_run``): read file by file, the
reader thread waited for the GIL (up to the 5 ms switch interval) several times per file while the pass counted on
the main thread, most of the extra time of 672 files over 168 for the same rows (issue 14, bench/step6.py).

A *part* is what the time view's ``part_of(hour)`` says of a file's partition hour (the period it lies in): a run
and a fed frame never mix parts, so the time view takes the drift pass's counts of a frame whole (timeline.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from dmm.analysis.moments import parse_timestamps
from dmm.checks.ground_truth import ID_COLUMN
from dmm.prediction_files import PredictionFile

SMALL_FILE_ROWS = 20_000  # whole-hour files with fewer rows are read in runs (``read_run``), not alone
TIMESTAMP_COLUMNS = ("timestamp", "__domino_timestamp")

# (an Arrow batch of the window's rows, the normalised ids of every row read when the file was filtered by row)
Batch = tuple[Any, "np.ndarray | None"]


@dataclass(frozen=True)
class Run:
    """Consecutive small whole-hour files with one Arrow schema and one part, read together."""

    files: list[PredictionFile]
    schema: Any
    part: Any


def inside(item: PredictionFile, start: datetime, end: datetime) -> bool:
    """The file's partition hour lies wholly inside [start, end): every row of it is in the window."""
    return item.hour is not None and start <= item.hour and item.hour + timedelta(hours=1) <= end


def runs(files: Sequence[PredictionFile], footers: dict[Any, Any], start: datetime, end: datetime, unit: int,
         part_of: Callable[[PredictionFile], Any]) -> Iterator[Run | PredictionFile]:
    """The files in order: small whole-hour files as ``Run``s of up to about ``unit`` rows; any other file alone."""
    run: list[PredictionFile] = []
    schema = part = None
    rows = 0
    for item in files:
        footer = footers.get(item.path)
        if footer is None or footer.num_rows >= SMALL_FILE_ROWS or not inside(item, start, end):
            if run:
                yield Run(run, schema, part)
            run, rows = [], 0
            yield item
            continue
        own, own_part = footer.schema.to_arrow_schema(), part_of(item)
        if run and (rows >= unit or not own.equals(schema) or own_part != part):
            yield Run(run, schema, part)
            run, rows = [], 0
        if not run:
            schema, part = own, own_part
        run.append(item)
        rows += footer.num_rows
    if run:
        yield Run(run, schema, part)


def read_run(run: Run, columns: Sequence[str], threads: bool) -> Iterator[Batch]:
    """The rows of ``run``'s files in file order, by one ``pyarrow.dataset`` call (one table of about ``unit``
    rows); ``threads``: decode on Arrow's pool (only without the read-ahead thread)."""
    import pyarrow.dataset as ds
    import pyarrow.fs as fs

    wanted = [c for c in dict.fromkeys([*columns, ID_COLUMN]) if c in run.schema.names]
    if not wanted:
        return
    parquet = ds.ParquetFileFormat()
    local = fs.LocalFileSystem()
    dataset = ds.FileSystemDataset([parquet.make_fragment(str(item.path), filesystem=local) for item in run.files],
                                   run.schema, parquet, local)
    for batch in dataset.to_table(columns=wanted, use_threads=threads).to_batches():
        if batch.num_rows:
            yield batch, None


def file_batches(item: PredictionFile, columns: Sequence[str], start: datetime, end: datetime, batch_rows: int,
                 with_ids: bool, footer: Any = None, *, threads: bool = True) -> Iterator[Batch]:
    """One file's window rows in batches. ``footer``: its parquet metadata, read already for the summary (the file is
    not asked for it again). ``threads``: decode a batch's columns on Arrow's thread pool; off under the read-ahead
    thread, which already decodes beside the counting (read_ahead.py: less CPU on every file size measured, and on
    small files less time too, as each file's columns were handed to the pool and back)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dmm.analysis.join import normalise_ids

    parquet = pq.ParquetFile(item.path, metadata=footer, buffer_size=1 << 20, pre_buffer=False)
    names = parquet.schema_arrow.names
    wanted = [c for c in dict.fromkeys([*columns, *([ID_COLUMN] if with_ids else [])]) if c in names]
    if not wanted:
        return
    time_column = None if inside(item, start, end) else next((c for c in TIMESTAMP_COLUMNS if c in names), None)
    read = wanted + ([time_column] if time_column and time_column not in wanted else [])
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=read, use_threads=threads):
        if batch.num_rows == 0:
            continue
        if time_column is None:
            yield batch, None
            continue
        keys = None
        if with_ids and ID_COLUMN in wanted:
            keys = normalise_ids(batch.column(ID_COLUMN).to_pandas()).to_numpy(dtype=object)
        moments = parse_timestamps(batch.column(time_column).to_pandas())
        within = (moments.notna() & (moments >= pd.Timestamp(start)) & (moments < pd.Timestamp(end))).to_numpy()
        yield batch.select(wanted).filter(pa.array(within)), keys


def window_batches(files: Sequence[PredictionFile], footers: dict[Any, Any], columns: Sequence[str], start: datetime,
                   end: datetime, batch_rows: int, threads: bool, part_of: Callable[[PredictionFile], Any]
                   ) -> Iterator[tuple[list[tuple[Any, np.ndarray | None, Any]], int]]:
    """(batches with their edge keys and part, files finished) about a quarter of ``batch_rows`` rows at a time: one
    handoff between the reader thread and the pass for many small files, not two per file; a large file is read in
    quarter batches too, so each read-ahead slot holds a quarter batch whatever the files' sizes (issue 13: full
    batches of a large file added ~120 MB at 1M-row files). Every file is read, even when nothing but the probe rows
    is counted."""
    unit = max(batch_rows // 4, 1)
    held: list[tuple[Any, np.ndarray | None, Any]] = []
    rows = done = 0
    for group in runs(files, footers, start, end, unit, part_of):
        if isinstance(group, Run):
            part, read, count = group.part, read_run(group, columns, threads), len(group.files)
        else:
            part, count = part_of(group), 1
            read = file_batches(group, columns, start, end, unit, True, footers.get(group.path), threads=threads)
        for batch, edge_keys in read:
            held.append((batch, edge_keys, part))
            rows += batch.num_rows
            if rows >= unit:
                yield held, done
                held, rows, done = [], 0, 0
        done += count
    if held or done:
        yield held, done


class Pending:
    """Window batches with one Arrow schema and one part, in file order, until about ``batch_rows`` rows are held."""

    def __init__(self) -> None:
        self.batches: list[Any] = []
        self.counted: list[bool] = []
        self.rows = 0
        self.part: Any = None

    def add(self, batch: Any, counted: bool, batch_rows: int, feed: Callable[[list[Any], np.ndarray], None],
            part: Any = None) -> None:
        if self.batches and (part != self.part or not batch.schema.equals(self.batches[0].schema)):
            self.flush(feed)  # a file with other columns or types, or of another part: never mixed into one frame
        self.part = part
        self.batches.append(batch)
        self.counted.append(counted)
        self.rows += batch.num_rows
        if self.rows >= batch_rows:
            self.flush(feed)

    def flush(self, feed: Callable[[list[Any], np.ndarray], None]) -> None:
        batches, self.batches = self.batches, []  # feed's list alone: it lets the batches go once joined
        if batches:
            counted = np.repeat(np.asarray(self.counted, dtype=bool), [b.num_rows for b in batches])
            feed(batches, counted)
        self.counted, self.rows = [], 0
