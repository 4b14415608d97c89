"""Step 6's Spark pass in one read (``counting="kernel"``): every Spark task runs the local engine's own per-chunk
work on the Arrow batches of its files (``mapInArrow``), and returns small rows instead of the data.

Why (issue 13, bench/scale.py at 1M rows on 2 cores): the earlier pass read the window into a cached, keyed frame
with native expressions (one full job just to find the ids the native rule does not cover, a pandas UDF for the
edge hours' timestamps) and ran five jobs over it; reading, keying and caching took ~50 of its ~70 s, the bin counts
~6 s. Here each batch is read once by Spark's parquet reader and handed to Python once, where the local engine's
functions decide every row: the window (``parse_timestamps``, edge hours only), the probe flag
(``probe_row_mask``), the id key (``normalise_ids``), its 64-bit hash and label position (``LabelIndex.look_up``),
and the bins (``NumericBins.counts``, ``CategoricalBins.counts_and_unseen``). Exact by construction: the same
functions on the same values, summed as integers.

Each input batch gives three kinds of output rows, in one schema (``OUT``):

- ``k=0`` counts, summed by Spark (a ``groupBy`` of a few hundred keys): per drift column and bin (``c`` the
  column, ``b`` the bin, ``s`` an unseen class), and the negative codes below (rows per file, probe rows, the
  join's fed rows, the labels a prediction matched for the join-rate check);
- ``k=1`` the distinct 64-bit hashes of the batch's fed ids (``b``): the local joiner counts distinct prediction
  ids by the same hashes (``join._hash``, ``DistinctHashes``), so Spark's ``distinct().count()`` of them is its
  count, collisions included;
- ``k=2`` the batch's predictions whose id is labelled (``c`` file, ``b`` row, ``s`` key, ``n`` label position,
  and the quality columns): collected and fed to the local ``GroundTruthJoiner`` in read order (file, then row),
  so the latest prediction wins as locally.

With the join, the output is persisted (memory, then disk) for its three readers; without, one job does it all.
Files are read in groups of one layout (the same columns and types), each group in its own types, as the local
engine reads each file; the quality columns are cast to one type across files (``spark_read._file_schemas``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from dmm.analysis.binning import CategoricalBins
from dmm.analysis.moments import parse_timestamps
from dmm.analysis.spark_read import FILE, ROW, _file_index, _file_schemas
from dmm.checks.ground_truth import ID_COLUMN
from dmm.checks.scan import PROBABILITY_COLUMN
from dmm.checks.scan_files import TIMESTAMP_COLUMNS

ROWS, LISTED_PROBES, WINDOW_PROBES, FED, FED_WITHOUT_ID, SEEN, DRIFT_FAILED = -1, -2, -3, -4, -5, -6, -7  # codes (c)
COUNTS, HASHES, MATCHED = 0, 1, 2  # output kinds (``k``)
OUT = "k int, c int, b long, s string, n long"
PAYLOAD = "_dmm_q{}"  # the i-th quality column, cast to its type across files
# past this many paths Spark lists them with a job of one task per path (3.4 s of the 1M bench's ~45 s); the paths
# are files already listed (a Domino dataset is mounted on every node, see spark_engine), so the driver stats them
LISTING = "spark.sql.sources.parallelPartitionDiscovery.threshold"


def _choices(files: list[Any], files_columns: list[list[str]], start: datetime, end: datetime) -> np.ndarray:
    """Per file: -2 taken whole (an hour inside the window), -1 no timestamp column (taken whole, as locally), else
    the index in ``TIMESTAMP_COLUMNS`` of the column its rows are filtered by."""
    choices = []
    for item, names in zip(files, files_columns, strict=True):
        whole = item.hour is not None and start <= item.hour and item.hour + timedelta(hours=1) <= end
        choices.append(-2 if whole else next((i for i, c in enumerate(TIMESTAMP_COLUMNS) if c in names), -1))
    return np.asarray(choices, dtype=np.int32)


def _kernel(drift_names: list[str], column_of: dict[str, int], bins: dict[str, Any], has_id: bool, joining: bool,
            index: Any, choice_of: np.ndarray, times: list[str], bounds: tuple[Any, Any], zone: str,
            payload: list[str], schema: Any) -> Any:
    """The function each task runs over its Arrow batches (one group's columns)."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        from dmm.analysis.join import normalise_ids
        from dmm.checks.probes import probe_row_mask

        for batch in batches:
            rows = batch.num_rows
            if not rows:
                continue
            file = batch.column(FILE).to_numpy(zero_copy_only=False).astype(np.int64)
            choice = choice_of[file]
            inside = choice < 0
            for i, column in enumerate(TIMESTAMP_COLUMNS):
                picked = choice == i
                if column in times and picked.any():
                    values = batch.column(column).to_pandas()[picked]
                    if pd.api.types.is_datetime64_any_dtype(values.dtype) and values.dt.tz is None:
                        values = values.dt.tz_localize(zone)
                    moments = parse_timestamps(values)
                    inside[picked] = (moments.notna() & (moments >= bounds[0]) & (moments < bounds[1])).to_numpy()
            probes = probe_row_mask(pa.table({ID_COLUMN: batch.column(ID_COLUMN)})) if has_id else None
            probe = probes.to_numpy(zero_copy_only=False) if probes is not None else np.zeros(rows, dtype=bool)
            window = inside & ~probe
            counts: list[tuple[int, int, str | None, int]] = [
                (LISTED_PROBES, 0, None, int(probe.sum())), (WINDOW_PROBES, 0, None, int((probe & inside).sum()))]
            if drift_names:
                files, per_file = np.unique(file[window], return_counts=True)
                counts += [(ROWS, int(f), None, int(n)) for f, n in zip(files, per_file, strict=True)]
                try:  # a consumer's error is kept for its reader, as the local pass's _feed keeps it
                    frame = batch.select(drift_names).filter(pa.array(window)).to_pandas()
                    for name in drift_names:
                        column_bins = bins[name]
                        if isinstance(column_bins, CategoricalBins):
                            found, unseen = column_bins.counts_and_unseen(frame[name])
                            counts += [(column_of[name], column_bins.trained_bin_count, str(key), int(n))
                                       for key, n in unseen.items()]
                        else:
                            found = column_bins.counts(frame[name])
                        counts += [(column_of[name], j, None, int(n)) for j, n in enumerate(found.tolist()) if n]
                except Exception as error:
                    counts.append((DRIFT_FAILED, 0, f"{type(error).__name__}: {error}", 1))
            out = [_counts(counts, schema)]
            if index is not None and has_id:
                keys = normalise_ids(batch.column(ID_COLUMN).to_pandas()).to_numpy(dtype=object, na_value=None)
                ids = index.look_up(keys)
                edge = choice >= 0
                seen = ids.positions[(edge | ~probe) & (ids.positions >= 0)]
                out.append(_counts([(SEEN, int(p), None, 1) for p in np.unique(seen).tolist()], schema))
                if joining:
                    hashes = np.zeros(rows, dtype=np.uint64)
                    hashes[ids.has_id] = ids.hashes
                    out.append(_counts([(FED, 0, None, int(window.sum())),
                                        (FED_WITHOUT_ID, 0, None, int((window & ~ids.has_id).sum()))], schema))
                    distinct = pd.unique(hashes[window & ids.has_id]).view(np.int64)
                    out.append(pa.RecordBatch.from_arrays(
                        [pa.array(np.full(len(distinct), HASHES, dtype=np.int32)), pa.nulls(len(distinct), pa.int32()),
                         pa.array(distinct), pa.nulls(len(distinct), pa.string()),
                         pa.nulls(len(distinct), pa.int64()),
                         *[pa.nulls(len(distinct), schema.field(q).type) for q in payload]], schema=schema))
                    matched = np.flatnonzero(window & (ids.positions >= 0))
                    if matched.size:
                        take = pa.array(matched)
                        out.append(pa.RecordBatch.from_arrays(
                            [pa.array(np.full(matched.size, MATCHED, dtype=np.int32)),
                             pa.array(file[matched].astype(np.int32)),
                             batch.column(ROW).take(take).cast(pa.int64()),
                             pa.array(keys[matched], type=pa.string()), pa.array(ids.positions[matched]),
                             *[batch.column(q).take(take) for q in payload]], schema=schema))
            yield from out

    return run


def _counts(rows: list[tuple[int, int, str | None, int]], schema: Any) -> Any:
    import pyarrow as pa

    c, b, s, n = zip(*rows, strict=True) if rows else ((), (), (), ())
    return pa.RecordBatch.from_arrays(
        [pa.array(np.full(len(rows), COUNTS, dtype=np.int32)), pa.array(c, type=pa.int32()),
         pa.array(b, type=pa.int64()), pa.array(s, type=pa.string()), pa.array(n, type=pa.int64()),
         *[pa.nulls(len(rows), field.type) for field in list(schema)[5:]]], schema=schema)


def run_pass(spark: Any, ctx: Any, scan: Any, drift: Any, columns: dict[str, str], counter: Any, index: Any,
             joiner: Any, prediction: str, start: datetime, end: datetime, batch_rows: int) -> None:
    """Fill ``scan`` (probe counts, drift counts, join-rate counter, joined rows) from one read of the files."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import to_arrow_schema
    from pyspark.sql.types import IntegerType, LongType, StringType, StructField, StructType

    from dmm.analysis.spark_engine import _conf

    files = list(ctx.prediction_files)
    files_columns, schema, layouts = _file_schemas([item.path for item in files])
    choice_of = _choices(files, files_columns, start, end)
    names_all = [field.name for field in schema.fields]
    drift_names = [name for name in columns if name in names_all] if drift is not None else []
    column_of = {name: i for i, name in enumerate(drift_names)}
    bins = {name: drift.bins[name] for name in drift_names}
    quality = [c for c in dict.fromkeys([ID_COLUMN, prediction, PROBABILITY_COLUMN, *TIMESTAMP_COLUMNS])
               if c in names_all] if joiner is not None else []
    payload = [PAYLOAD.format(i) for i in range(len(quality))]
    out_schema = StructType([StructField("k", IntegerType()), StructField("c", IntegerType()),
                             StructField("b", LongType()), StructField("s", StringType()),
                             StructField("n", LongType())])  # OUT
    for name, column in zip(payload, quality, strict=True):
        out_schema = out_schema.add(name, schema[column].dataType)
    arrow_schema = to_arrow_schema(out_schema)
    times = [c for c in TIMESTAMP_COLUMNS if c in names_all]
    bounds = (pd.Timestamp(start), pd.Timestamp(end))
    zone = spark.conf.get("spark.sql.session.timeZone")
    groups: dict[str, list[int]] = {}
    for i, layout in enumerate(layouts):
        groups.setdefault(layout, []).append(i)
    joined_any = False
    output = None
    for members in groups.values():
        names = files_columns[members[0]]
        with _conf(spark, LISTING, str(len(members) + 1)):  # the listed files, stat'ed by the driver: no job
            part = spark.read.parquet(*[str(files[i].path) for i in members])
        part = part.withColumn(FILE, _file_index(part, {_real(files[i].path): i for i in members})) \
            .withColumn(ROW, F.col("_metadata.row_index"))
        has_id = ID_COLUMN in names
        joining = joiner is not None and has_id and prediction in names
        joined_any = joined_any or joining
        own = [c for c in dict.fromkeys([*[n for n in drift_names if n in names], *([ID_COLUMN] if has_id else []),
                                          *[t for t in times if t in names]])]
        cast = [(F.col(f"`{c}`").cast(schema[c].dataType) if c in names else F.lit(None).cast(schema[c].dataType))
                .alias(q) for c, q in zip(quality, payload, strict=True)]
        part = part.select(*[F.col(f"`{c}`") for c in own], FILE, ROW, *cast)
        run = _kernel([n for n in drift_names if n in names], column_of, bins, has_id, joining, index, choice_of,
                      [t for t in times if t in names], bounds, zone, payload, arrow_schema)
        mapped = part.mapInArrow(run, out_schema)
        output = mapped if output is None else output.unionByName(mapped)
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
                distinct = output.where(F.col("k") == HASHES).select("b").distinct().count()
                matched = output.where(F.col("k") == MATCHED).select("c", "b", "s", "n", *payload).toPandas()
                try:
                    scan.joined = _joined(joiner, index, matched, quality, payload, totals, distinct)
                except Exception as error:
                    scan.errors["quality"] = error
        finally:
            if joined_any:
                output.unpersist()


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
    lacking = {name: [f for f, names in enumerate(files_columns) if name not in names] for name in columns}
    drifting = [f for f in range(len(files_columns)) if any(f not in lacking[name] for name in drift_names)]
    drift.rows_seen += sum(n for file, n in rows_per_file.items() if file in drifting)  # locally: rows fed to it
    for name in columns:
        drift.rows_with_column[name] += sum(n for file, n in rows_per_file.items() if file not in lacking[name])


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
