"""Step 6's Spark pass in one read (``counting="kernel"``): every Spark task runs the local engine's own per-chunk
work on the Arrow batches of its files (``mapInArrow``), and returns small rows instead of the data.

Why (issue 13, bench/scale.py at 1M rows on 2 cores): the earlier pass read the window into a cached, keyed frame
with native expressions (one full job just to find the ids the native rule does not cover, a pandas UDF for the
edge hours' timestamps) and ran five jobs over it; reading, keying and caching took ~50 of its ~70 s, the bin counts
~6 s. Here each batch is read once and handed to Python once, where the local engine's functions decide every row:
the window (``parse_timestamps``, edge hours only), the probe flag (``probe_row_mask``), the id key
(``normalise_ids``), its 64-bit hash and label position (``LabelIndex.look_up``), and the bins
(``NumericBins.counts``, ``CategoricalBins.counts_and_unseen``). Exact by construction: the same functions on the
same values, summed as integers.

Who reads (``read``): by default (``python``) Spark only schedules: the task's input is a few file positions
(``spark.range`` over the listed, pruned files) and the task reads them with pyarrow, each file in its own types as
the local engine reads it. With ``spark`` Spark's parquet reader reads them and hands the rows to Python as Arrow.
Measured (bench/scale.py, 1M rows, per process): Spark's reader made the JVM the cost per row (parquet -> rows ->
Arrow for the worker, ~10 of its CPU s per million rows), the kernels ~5; the Python read leaves the JVM its fixed
start-up and the small output. It relies on what Spark's reader also relied on: the executors see the files under
the driver's paths (a Domino dataset is mounted on every node of an on-demand cluster, see spark_engine).

Each task sums what it can before it returns anything (``_Task``), and gives three kinds of output rows, in one
schema (``OUT``):

- ``k=0`` counts, summed by Spark (a ``groupBy`` of a few hundred keys): per drift column and bin (``c`` the
  column, ``b`` the bin, ``s`` an unseen class), and the negative codes below (rows per file, probe rows, the
  join's fed rows, the labels a prediction matched for the join-rate check);
- ``k=1`` the distinct 64-bit hashes of the task's fed ids, sorted, as one blob (``h``) per bucket of their top
  bits (``c``): the local joiner counts distinct prediction ids by the same hashes (``join._hash``,
  ``DistinctHashes``); the buckets are merged one per Spark task (``_distinct``), collisions counted as locally.
  One row per id (and Spark's ``distinct().count()``) cost the JVM more than the rest of the output;
- ``k=2`` a batch's predictions whose id is labelled, as one Arrow stream (``h``; in it ``c`` file, ``b`` row,
  ``s`` key, ``n`` label position, and the quality columns): collected and fed to the local ``GroundTruthJoiner``
  in read order (file, then row), so the latest prediction wins as locally.

With the join, the output is persisted (memory, then disk) for its three readers; without, one job does it all.
Files are grouped by layout (the same columns and types); each is read in its own types, as the local engine reads
each file; the quality columns are cast to one type across files (``spark_read._file_schemas``, ``cast_shared``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from dmm.analysis.binning import CategoricalBins
from dmm.analysis.join_slots import distinct_sorted
from dmm.analysis.moments import parse_timestamps
from dmm.analysis.spark_read import FILE, ROW, _file_index, _file_schemas, add_rows, cast_shared, file_choices
from dmm.checks.ground_truth import ID_COLUMN
from dmm.checks.scan import PROBABILITY_COLUMN
from dmm.checks.scan_files import TIMESTAMP_COLUMNS

ROWS, LISTED_PROBES, WINDOW_PROBES, FED, FED_WITHOUT_ID, SEEN, DRIFT_FAILED = -1, -2, -3, -4, -5, -6, -7  # codes (c)
COUNTS, HASHES, MATCHED = 0, 1, 2  # output kinds (``k``)
OUT = "k int, c int, b long, s string, n long, h binary"
BUCKET_BITS = 6  # the fed ids' hashes travel as one blob per task and bucket (their top bits), merged per bucket
BUCKETS = 2 ** BUCKET_BITS
PAYLOAD = "_dmm_q{}"  # the i-th quality column, cast to its type across files
# past this many paths Spark lists them with a job of one task per path (3.4 s of the 1M bench's ~45 s); the paths
# are files already listed (a Domino dataset is mounted on every node, see spark_engine), so the driver stats them
LISTING = "spark.sql.sources.parallelPartitionDiscovery.threshold"
TASKS_PER_CORE = 2  # the Python read's tasks: a few per core, so a core that finishes early takes another's files
READS = ("python", "spark")


class _Task:
    """What one task sums over all its batches before it returns anything: count rows (``k=0``), the labels its
    predictions matched, the distinct hashes of its fed ids. One output batch of counts and one of hashes per task,
    not per input batch: fewer rows through Spark for the same sums."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.seen: list[np.ndarray] = []
        self.hashes: list[np.ndarray] = []

    def finish(self, schema: Any) -> Iterator[Any]:
        import pyarrow as pa

        rows = [(c, b, s, n) for (c, b, s), n in self.counts.items()]
        if self.seen:
            rows += [(SEEN, int(p), None, 1) for p in distinct_sorted(np.concatenate(self.seen)).tolist()]
        yield _counts(rows, schema)
        if self.hashes:  # sorted distinct uint64 per bucket, as bytes: a few rows, not one per id
            distinct = distinct_sorted(np.concatenate(self.hashes))  # np.unique hashes integers: ~50x slower
            cuts = np.searchsorted(distinct >> np.uint64(64 - BUCKET_BITS), np.arange(BUCKETS + 1, dtype=np.uint64))
            kept = [j for j in range(BUCKETS) if cuts[j + 1] > cuts[j]]
            blobs = [distinct[cuts[j]:cuts[j + 1]].tobytes() for j in kept]
            yield pa.RecordBatch.from_arrays(
                [pa.array(np.full(len(kept), HASHES, dtype=np.int32)), pa.array(kept, type=pa.int32()),
                 pa.nulls(len(kept), pa.int64()), pa.nulls(len(kept), pa.string()), pa.nulls(len(kept), pa.int64()),
                 pa.array(blobs, type=pa.binary())], schema=schema)


def _kernel(drift_names: list[str], column_of: dict[str, int], bins: dict[str, Any], has_id: bool, joining: bool,
            index: Any, choice_of: np.ndarray, times: list[str], bounds: tuple[Any, Any], payload: list[str],
            schema: Any, matched_schema: Any) -> Any:
    """One batch's work (one layout's columns, ``FILE`` and ``ROW`` among them): its counts and hashes into the
    task's ``_Task``, its matched predictions returned. Timestamps are parsed as locally (``file_batches``): Spark's
    reader gives Arrow a zoned one with its zone, a naive one (``TIMESTAMP_NTZ``, UTC as locally) as written."""

    def run(batch: Any, task: _Task) -> Iterator[Any]:
        import pyarrow as pa

        from dmm.analysis.join import normalise_ids
        from dmm.checks.probes import probe_row_mask

        rows = batch.num_rows
        if not rows:
            return
        file = batch.column(FILE).to_numpy(zero_copy_only=False).astype(np.int64)
        choice = choice_of[file]
        inside = choice < 0
        for i, column in enumerate(TIMESTAMP_COLUMNS):
            picked = choice == i
            if column in times and picked.any():
                values = batch.column(column).to_pandas()[picked]
                moments = parse_timestamps(values)
                inside[picked] = (moments.notna() & (moments >= bounds[0]) & (moments < bounds[1])).to_numpy()
        probes = probe_row_mask(pa.table({ID_COLUMN: batch.column(ID_COLUMN)})) if has_id else None
        probe = probes.to_numpy(zero_copy_only=False) if probes is not None else np.zeros(rows, dtype=bool)
        window = inside & ~probe
        counts = task.counts
        counts[(LISTED_PROBES, 0, None)] += int(probe.sum())
        counts[(WINDOW_PROBES, 0, None)] += int((probe & inside).sum())
        if drift_names:
            files, per_file = np.unique(file[window], return_counts=True)
            for f, n in zip(files.tolist(), per_file.tolist(), strict=True):
                counts[(ROWS, f, None)] += n
            try:  # a consumer's error is kept for its reader, as the local pass's _feed keeps it
                chosen = batch.select(drift_names)  # whole hours without probes: every row, no copy
                frame = (chosen if window.all() else chosen.filter(pa.array(window))).to_pandas()
                for name in drift_names:
                    column_bins = bins[name]
                    if isinstance(column_bins, CategoricalBins):
                        found, unseen = column_bins.counts_and_unseen(frame[name])
                        for key, n in unseen.items():
                            counts[(column_of[name], column_bins.trained_bin_count, str(key))] += int(n)
                    else:
                        found = column_bins.counts(frame[name])
                    for j, n in enumerate(found.tolist()):
                        if n:
                            counts[(column_of[name], j, None)] += int(n)
            except Exception as error:
                counts[(DRIFT_FAILED, 0, f"{type(error).__name__}: {error}")] += 1
        if index is not None and has_id:
            keys = normalise_ids(batch.column(ID_COLUMN).to_pandas()).to_numpy(dtype=object, na_value=None)
            ids = index.look_up(keys)
            edge = choice >= 0
            task.seen.append(ids.positions[(edge | ~probe) & (ids.positions >= 0)])
            if joining:
                hashes = np.zeros(rows, dtype=np.uint64)
                hashes[ids.has_id] = ids.hashes
                counts[(FED, 0, None)] += int(window.sum())
                counts[(FED_WITHOUT_ID, 0, None)] += int((window & ~ids.has_id).sum())
                task.hashes.append(hashes[window & ids.has_id])
                matched = np.flatnonzero(window & (ids.positions >= 0))
                if matched.size:
                    take = pa.array(matched)
                    rows_out = pa.RecordBatch.from_arrays(
                        [pa.array(file[matched].astype(np.int32)), batch.column(ROW).take(take).cast(pa.int64()),
                         pa.array(keys[matched], type=pa.string()), pa.array(ids.positions[matched]),
                         *[batch.column(q).take(take) for q in payload]], schema=matched_schema)
                    sink = pa.BufferOutputStream()
                    with pa.ipc.new_stream(sink, matched_schema) as writer:
                        writer.write_batch(rows_out)
                    yield pa.RecordBatch.from_arrays(  # one row: the batch's matched rows as Arrow bytes
                        [pa.array([MATCHED], pa.int32()), pa.nulls(1, pa.int32()), pa.nulls(1, pa.int64()),
                         pa.nulls(1, pa.string()), pa.nulls(1, pa.int64()),
                         pa.array([sink.getvalue().to_pybytes()], pa.binary())], schema=schema)

    return run


def _over_batches(kernel: Any, schema: Any) -> Any:
    """``mapInArrow``'s function for Spark's read: the kernel over the task's batches, the task's sums at the end."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        task = _Task()
        for batch in batches:
            yield from kernel(batch, task)
        yield from task.finish(schema)

    return run


def _over_files(kernels: dict[int, tuple[Any, list[str]]], paths: list[str], quality_of: dict[int, list[str | None]],
                payload: list[str], schema: Any, payload_schema: Any, batch_rows: int) -> Any:
    """``mapInArrow``'s function for the Python read: the task's input is file positions (``id``); it reads each
    file with pyarrow in its own types, as the local engine does, and runs that file's kernel on its batches."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        task = _Task()
        for positions in batches:
            for f in positions.column(0).to_pylist():
                kernel, read = kernels[f]
                offset = 0
                for batch in pq.ParquetFile(paths[f]).iter_batches(batch_size=batch_rows, columns=read):
                    n = batch.num_rows
                    extra = [pa.array(np.full(n, f, dtype=np.int32)), pa.array(np.arange(offset, offset + n))]
                    for q, column in zip(payload, quality_of[f], strict=True):
                        kind = payload_schema.field(q).type
                        extra.append(pa.nulls(n, kind) if column is None else cast_shared(batch.column(column), kind))
                    offset += n
                    yield from kernel(pa.RecordBatch.from_arrays(
                        [*batch.columns, *extra], names=[*batch.schema.names, FILE, ROW, *payload]), task)
        yield from task.finish(schema)

    return run


def _counts(rows: list[tuple[int, int, str | None, int]], schema: Any) -> Any:
    import pyarrow as pa

    c, b, s, n = zip(*rows, strict=True) if rows else ((), (), (), ())
    return pa.RecordBatch.from_arrays(
        [pa.array(np.full(len(rows), COUNTS, dtype=np.int32)), pa.array(c, type=pa.int32()),
         pa.array(b, type=pa.int64()), pa.array(s, type=pa.string()), pa.array(n, type=pa.int64()),
         *[pa.nulls(len(rows), field.type) for field in list(schema)[5:]]], schema=schema)


def run_pass(spark: Any, ctx: Any, scan: Any, drift: Any, columns: dict[str, str], counter: Any, index: Any,
             joiner: Any, prediction: str, start: datetime, end: datetime, batch_rows: int, *,
             read: str = "python") -> None:
    """Fill ``scan`` (probe counts, drift counts, join-rate counter, joined rows) from one read of the files:
    ``read="python"`` each task reads its files with pyarrow, ``"spark"`` Spark's parquet reader hands them over."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import to_arrow_schema
    from pyspark.sql.types import BinaryType, IntegerType, LongType, StringType, StructField, StructType

    from dmm.analysis.spark_engine import _conf
    from dmm.analysis.spark_read import as_shared

    files = list(ctx.prediction_files)
    files_columns, schema, layouts = _file_schemas([item.path for item in files])
    choice_of = file_choices(files, files_columns, start, end)
    names_all = [field.name for field in schema.fields]
    drift_names = [name for name in columns if name in names_all] if drift is not None else []
    column_of = {name: i for i, name in enumerate(drift_names)}
    bins = {name: drift.bins[name] for name in drift_names}
    quality = [c for c in dict.fromkeys([ID_COLUMN, prediction, PROBABILITY_COLUMN, *TIMESTAMP_COLUMNS])
               if c in names_all] if joiner is not None else []
    payload = [PAYLOAD.format(i) for i in range(len(quality))]
    out_schema = StructType([StructField("k", IntegerType()), StructField("c", IntegerType()),
                             StructField("b", LongType()), StructField("s", StringType()),
                             StructField("n", LongType()), StructField("h", BinaryType())])  # OUT
    arrow_schema = to_arrow_schema(out_schema)
    carried = StructType([StructField("c", IntegerType()), StructField("b", LongType()),
                          StructField("s", StringType()), StructField("n", LongType())])  # a matched row
    for name, column in zip(payload, quality, strict=True):
        carried = carried.add(name, schema[column].dataType)
    zone = spark.conf.get("spark.sql.session.timeZone")
    matched_schema = to_arrow_schema(carried, timezone=zone)  # a zoned timestamp column needs one (Arrow's type)
    times = [c for c in TIMESTAMP_COLUMNS if c in names_all]
    bounds = (pd.Timestamp(start), pd.Timestamp(end))
    joined_any = False
    output = None
    kernels: dict[int, tuple[Any, list[str]]] = {}
    groups: dict[str, list[int]] = {}
    for i, layout in enumerate(layouts):
        groups.setdefault(layout, []).append(i)
    for members in groups.values():
        names = files_columns[members[0]]
        has_id = ID_COLUMN in names
        joining = joiner is not None and has_id and prediction in names
        joined_any = joined_any or joining
        own = [c for c in dict.fromkeys([*[n for n in drift_names if n in names], *([ID_COLUMN] if has_id else []),
                                          *[t for t in times if t in names]])]
        kernel = _kernel([n for n in drift_names if n in names], column_of, bins, has_id, joining, index, choice_of,
                         [t for t in times if t in names], bounds, payload, arrow_schema, matched_schema)
        if read == "python":
            for i in members:
                kernels[i] = (kernel, [*own, *[c for c in quality if c in names and c not in own]])
            continue
        with _conf(spark, LISTING, str(len(members) + 1)):  # the listed files, stat'ed by the driver: no job
            part = spark.read.parquet(*[str(files[i].path) for i in members])
        part = part.withColumn(FILE, _file_index(part, {_real(files[i].path): i for i in members})) \
            .withColumn(ROW, F.col("_metadata.row_index"))
        cast = [(as_shared(F.col(f"`{c}`"), part.schema[c].dataType, schema[c].dataType) if c in names
                 else F.lit(None).cast(schema[c].dataType)).alias(q) for c, q in zip(quality, payload, strict=True)]
        part = part.select(*[F.col(f"`{c}`") for c in own], FILE, ROW, *cast)
        mapped = part.mapInArrow(_over_batches(kernel, arrow_schema), out_schema)
        output = mapped if output is None else output.unionByName(mapped)
    if read == "python" and files:
        # a Domino dataset is mounted on every node of its on-demand cluster under the same path (see spark_engine),
        # so a task opens the listed paths itself; ``spark.range`` splits the file positions into contiguous runs
        quality_of = {i: [c if c in files_columns[i] else None for c in quality] for i in range(len(files))}
        tasks = min(len(files), max(1, spark.sparkContext.defaultParallelism) * TASKS_PER_CORE)
        output = spark.range(0, len(files), numPartitions=tasks).mapInArrow(
            _over_files(kernels, [str(item.path) for item in files], quality_of, payload, arrow_schema,
                        matched_schema, batch_rows), out_schema)
    if output is None:
        return
    with _conf(spark, "spark.sql.execution.arrow.maxRecordsPerBatch", str(batch_rows)):
        if joined_any:
            from pyspark import StorageLevel

            output = output.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            totals = output.where(F.col("k") == COUNTS).groupBy("c", "b", "s").agg(F.sum("n").alias("n")).collect()
            _add_counts(scan, drift, columns, files_columns, drift_names, totals, counter)
            if joined_any and joiner is not None and index is not None:
                distinct = _distinct(output.where(F.col("k") == HASHES).select("c", "h"))
                # streamed a partition at a time: collect() held every blob in the driver's JVM heap at once,
                # which at 50M rows (5M matched) ran out of its default 1 GB
                matched = _matched(output.where(F.col("k") == MATCHED).select("h").toLocalIterator(), matched_schema)
                try:
                    scan.joined = _joined(joiner, index, matched, quality, payload, totals, distinct)
                except Exception as error:
                    scan.errors["quality"] = error
        finally:
            if joined_any:
                output.unpersist()


def _matched(rows: Iterable[Any], schema: Any) -> pd.DataFrame:
    """The tasks' matched rows (Arrow stream bytes, one per batch) as one frame: a few blobs through Spark, not a
    row each (their conversion to Spark's rows and back was the JVM's cost per row once the tasks read the files)."""
    import pyarrow as pa

    tables = [pa.ipc.open_stream(row[0]).read_all() for row in rows]
    return pa.concat_tables([schema.empty_table(), *tables]).to_pandas()


def _distinct(blobs: Any) -> int:
    """How many distinct hashes the tasks' blobs hold: merged per bucket (a bucket's hashes are in no other), as
    Spark's ``distinct().count()`` of them counted when each was a row."""
    from pyspark.sql import functions as F

    def merge(frame: pd.DataFrame) -> pd.DataFrame:
        hashes = np.frombuffer(b"".join(frame["h"].tolist()), dtype=np.uint64)
        return pd.DataFrame({"n": [len(distinct_sorted(hashes))]})  # not np.unique: slow on integers (numpy 2.4)

    return int(blobs.groupBy("c").applyInPandas(merge, "n long").agg(F.sum("n")).collect()[0][0] or 0)


def _real(path: Any) -> str:
    import os

    return os.path.realpath(path)


def _add_counts(scan: Any, drift: Any, columns: dict[str, str], files_columns: list[list[str]],
                drift_names: list[str], totals: list[Any], counter: Any) -> None:
    """The summed count rows into the scan, the drift calculator and the join-rate counter."""
    rows_per_file: dict[int, int] = {}
    unseen: dict[str, Counter] = {name: Counter() for name in drift_names}
    seen: list[int] = []
    for c, b, s, n in totals:
        if c == LISTED_PROBES:
            scan.listed_probes += int(n)
        elif c == WINDOW_PROBES:
            scan.probes += int(n)
        elif c == ROWS:
            rows_per_file[int(b)] = int(n)
        elif c == SEEN:
            seen.append(int(b))
        elif c == DRIFT_FAILED:
            scan.errors.setdefault("drift", RuntimeError(s))
        elif c >= 0 and s is not None:
            unseen[drift_names[c]][s] += int(n)
        elif c >= 0:
            drift.production_counts[drift_names[c]][b] += int(n)
    if counter is not None and seen:
        counter.add(np.asarray(seen, dtype=np.intp))
    if drift is None:
        return
    for name, tally in unseen.items():
        if tally:
            drift._remember_unseen(name, tally)
    add_rows(drift, columns, files_columns, drift_names, rows_per_file)


def _joined(joiner: Any, index: Any, matched: pd.DataFrame, quality: list[str], payload: list[str],
            totals: list[Any], distinct: int) -> Any:
    """The labelled predictions fed to the local joiner in read order (the latest wins there, as locally); its
    prediction-side counts replaced by the whole window's (rows fed, rows without an id, distinct id hashes)."""
    fed = sum(int(n) for c, _, _, n in totals if c == FED)
    without_id = sum(int(n) for c, _, _, n in totals if c == FED_WITHOUT_ID)
    matched = matched.sort_values(["c", "b"], kind="stable").reset_index(drop=True)
    frame = matched[payload].set_axis(quality, axis=1)
    joiner.add(frame, ID_COLUMN, ids=index.look_up(matched["s"].to_numpy(dtype=object)))
    result = joiner.result()
    return replace(result, prediction_rows=fed, prediction_rows_without_id=without_id,
                   duplicate_prediction_rows=fed - without_id - distinct,
                   unmatched_prediction_count=distinct - result.matched_rows)
