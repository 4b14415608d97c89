"""Step 6's pass over the window with PySpark: the same ``WindowScan`` as ``dmm.checks.scan.run_scan``, from Spark.

Imported only when ``--engine spark`` (or an active Spark session) asks for it; nothing else imports PySpark.

What runs where:

- driver: the bins (fitted on the training set by ``DriftCalculator.fit``), the labels (``ctx.ground_truth``, as the
  checks loaded them), the quality metrics over the matched rows (``quality_metrics``: every metric, AUC-ROC, log
  loss and Gini included, computed exactly as the local engine does, on the same rows);
- Spark: reading the listed ``prediction_data`` files (``ctx.prediction_files``: the ``$$date$$``/``$$hour$$``
  partitions already pruned to the window), the row filter of the edge hours, the bin counts, the id
  normalisation and the label join (latest prediction by read order: file order, then ``_metadata.row_index``).

Exactness: ids, class values and timestamps go through the local engine's own functions (``normalise_ids``,
``parse_timestamps``, ``CategoricalBins.counts_and_unseen``) in pandas UDFs; numeric bins are counted either by
``mapInPandas`` over the same numpy kernel (``kernel``) or by column expressions comparing with the same edges
(``native``: value in bin i iff edges[i] <= value < edges[i+1], the last bin closed, which is what ``np.histogram``
does with ``np.linspace`` edges). Counts are integers, so every drift value equals the local engine's.

Domino's on-demand Spark clusters run in standalone mode with the workspace or Job as the driver, and mount the
project's datasets on every node under the same path (docs.dominodatalab.com/en/latest/user_guide/482ec5 and
/en/4.1/user_guide/a3b42e/work-with-data/), so the executors read the same ``prediction_data`` paths as the driver.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd

from dmm.analysis.binning import CategoricalBins, NumericBins
from dmm.checks.ground_truth import ID_COLUMN
from dmm.checks.scan import (  # the local engine's own helpers, shared on purpose
    PROBABILITY_COLUMN,
    TIMESTAMP_COLUMNS,
    JoinCounter,
    ScanPlan,
    WindowScan,
    _aware,
    _consumers,
    _truth,
    parse_timestamps,
)
from dmm.errors import DmmError

FILE, ROW, KEY, INSIDE, PATH = "_dmm_file", "_dmm_row", "_dmm_key", "_dmm_inside", "_dmm_path"
ROWS = -1  # the kernel's "rows per file" records
PANDAS_WARNING = "PySpark does not yet fully support pandas"


def spark_session() -> Any:
    """The active session (a cluster-attached run's), else one built from ``$DMM_SPARK_MASTER`` or Spark's defaults.

    A session made here runs its Python workers with this interpreter when the master is local."""
    warnings.filterwarnings("ignore", message=PANDAS_WARNING)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    master = os.environ.get("DMM_SPARK_MASTER")
    if not master or master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("dmm-step6-preview").config("spark.ui.enabled", "false") \
        .config("spark.sql.session.timeZone", "UTC")
    if master:
        builder = builder.master(master)
    try:
        session = builder.getOrCreate()
    except Exception as error:
        raise DmmError(f"Spark could not start ({type(error).__name__})",
                       "Check the Java runtime and $DMM_SPARK_MASTER, or run with --engine local",
                       code="spark-failed") from error
    session.sparkContext.setLogLevel("ERROR")
    return session


def _local_path(uri: str) -> str:
    parsed = urlparse(uri)
    return os.path.realpath(unquote(parsed.path) if parsed.scheme in ("file", "") else uri)


def _file_schemas(paths: list[Path]) -> tuple[list[list[str]], Any, list[str]]:
    """Each file's column names (footers only), and one Spark schema for all: a column that is integer in one file
    and floating-point in another (JSON capture writes 1 for 1.0) is read as double, as pandas reads it locally."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.sql.pandas.types import from_arrow_type
    from pyspark.sql.types import DoubleType, StructField, StructType

    schemas = [pq.read_schema(path) for path in paths]
    types: dict[str, list[Any]] = {}
    for schema in schemas:
        for arrow_field in schema:
            types.setdefault(arrow_field.name, []).append(arrow_field.type)
    fields = []
    for name, seen in types.items():
        numeric = all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in seen)
        if numeric and len(set(seen)) > 1:
            fields.append(StructField(name, DoubleType()))
        else:
            fields.append(StructField(name, from_arrow_type(seen[0])))
    return [list(schema.names) for schema in schemas], StructType(fields), [str(schema) for schema in schemas]


def _lacking(files_columns: list[list[str]], name: str) -> list[int]:
    """Indices of the files that do not hold ``name`` (the local engine feeds a consumer only the files that do)."""
    return [i for i, names in enumerate(files_columns) if name not in names]


def _read(spark: Any, ctx: Any, wanted: list[str], start: datetime, end: datetime
          ) -> tuple[Any, list[list[str]]]:
    """The listed files as one DataFrame: wanted columns, file and row index, whether the row is in the window."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType, IntegerType

    files = list(ctx.prediction_files)
    files_columns, schema, layouts = _file_schemas([item.path for item in files])
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for item, names, layout in zip(files, files_columns, layouts, strict=True):
        groups.setdefault(layout, (names, []))[1].append(str(item.path))
    frame = None
    for names, paths in groups.values():  # files of one layout read together, columns cast to the common type
        part = spark.read.parquet(*paths)
        part = part.select(*[F.col(f"`{f.name}`").cast(f.dataType).alias(f.name) for f in schema.fields
                             if f.name in names], F.col("_metadata.file_path").alias(PATH),
                           F.col("_metadata.row_index").alias(ROW))
        frame = part if frame is None else frame.unionByName(part, allowMissingColumns=True)
    choices = []  # per file: -2 taken whole, -1 no timestamp column, else the index in TIMESTAMP_COLUMNS
    for item, names in zip(files, files_columns, strict=True):
        whole = item.hour is not None and start <= item.hour and item.hour + timedelta(hours=1) <= end
        choices.append(-2 if whole else next((i for i, c in enumerate(TIMESTAMP_COLUMNS) if c in names), -1))
    index_of = {os.path.realpath(item.path): i for i, item in enumerate(files)}
    present = [c for c in dict.fromkeys(wanted) if c in frame.columns]  # type: ignore[union-attr]
    times = [c for c in TIMESTAMP_COLUMNS if c in frame.columns]  # type: ignore[union-attr]
    frame = frame.select(*[F.col(f"`{c}`") for c in dict.fromkeys(present + times)], PATH, ROW)  # type: ignore

    def file_index(paths: pd.Series) -> pd.Series:
        """The file's position in ctx.prediction_files, from the path Spark read it by (a file: URI)."""
        codes, distinct = pd.factorize(paths)
        found = np.array([index_of.get(_local_path(str(path)), -1) for path in distinct], dtype=np.int32)
        if (found < 0).any():  # never guess: a row of an unknown file would land in another file's window
            raise ValueError(f"Spark read {distinct[found < 0][0]}, which is not one of the listed files")
        return pd.Series(found[codes] if len(distinct) else np.zeros(len(paths), dtype=np.int32))

    frame = frame.withColumn(FILE, F.pandas_udf(file_index, IntegerType())(F.col(PATH))).drop(PATH)  # type: ignore
    zone = spark.conf.get("spark.sql.session.timeZone")
    bounds = (pd.Timestamp(start), pd.Timestamp(end))

    choice_of = np.asarray(choices, dtype=np.int32)

    def inside(file: pd.Series, *moments: pd.Series) -> pd.Series:
        choice = pd.Series(choice_of[file.to_numpy()])
        result = choice.to_numpy() < 0
        for i, column in enumerate(TIMESTAMP_COLUMNS):
            if column not in times:
                continue
            rows = (choice == i).to_numpy()
            if rows.any():
                values = moments[times.index(column)][rows]
                if pd.api.types.is_datetime64_any_dtype(values.dtype) and values.dt.tz is None:
                    values = values.dt.tz_localize(zone)
                parsed = parse_timestamps(values)
                result[rows] = (parsed.notna() & (parsed >= bounds[0]) & (parsed < bounds[1])).to_numpy()
        return pd.Series(result)

    in_window = F.pandas_udf(inside, BooleanType())  # type: ignore[call-overload]
    frame = frame.withColumn(INSIDE, in_window(F.col(FILE), *[F.col(f"`{c}`") for c in times]))
    return frame, files_columns


def _with_keys(frame: Any) -> Any:
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    from dmm.analysis.join import normalise_ids

    def keys(ids: pd.Series) -> pd.Series:
        return pd.Series(normalise_ids(ids).to_numpy(dtype=object), dtype=object)

    return frame.withColumn(KEY, F.pandas_udf(keys, StringType())(F.col(ID_COLUMN)))  # type: ignore[call-overload]


def run_spark_scan(ctx: Any, plan: ScanPlan, *, counting: str = "kernel", session: Any = None) -> WindowScan:
    """The local engine's ``run_scan`` contract, computed by Spark (``counting``: ``kernel`` or ``native``)."""
    scan = WindowScan(plan)
    truth = _truth(ctx)
    counter = JoinCounter(truth) if truth is not None else None
    drift, columns, joiner = _consumers(ctx, scan, truth)
    prediction = ctx.schema.prediction_name if joiner is not None else ""
    files = list(ctx.prediction_files) if (counter or drift or joiner) else []
    start, end = _aware(ctx.start), _aware(ctx.end)
    scan.engine = {"name": "spark", "counting": counting, "files": len(files)}
    if files:
        spark = session or spark_session()
        scan.engine["master"] = spark.sparkContext.master
        quality_columns = [ID_COLUMN, prediction, PROBABILITY_COLUMN] if joiner is not None else []
        frame, files_columns = _read(spark, ctx, [*columns, *quality_columns, ID_COLUMN], start, end)
        has_ids = ID_COLUMN in frame.columns and (counter is not None or joiner is not None)
        if has_ids:
            frame = _with_keys(frame)
        if drift is not None:
            try:
                _drift_counts(frame, drift, columns, files_columns, counting, plan.batch_rows)
            except Exception as error:
                scan.errors["drift"] = error
        if counter is not None and has_ids:
            _join_statistics(spark, frame, counter)
        if joiner is not None and has_ids and prediction in frame.columns:
            try:
                scan.joined = _join(spark, frame, joiner, counter, prediction, files_columns)
            except Exception as error:
                scan.errors["quality"] = error
    scan.join = counter.statistics() if counter is not None else None
    scan.drift = drift
    if joiner is not None and scan.joined is None and "quality" not in scan.errors:
        scan.joined = joiner.result()
    return scan


def _drift_counts(frame: Any, drift: Any, columns: dict[str, str], files_columns: list[list[str]], counting: str,
                  batch_rows: int) -> None:
    from pyspark.sql import functions as F

    window = frame.where(F.col(INSIDE))
    names = [name for name in columns if name in frame.columns]
    lacking = {name: _lacking(files_columns, name) for name in names}
    rows_per_file: dict[int, int] = {}
    if counting == "native":
        rows_per_file = {row[0]: row[1] for row in window.groupBy(FILE).count().collect()}
        _native_counts(window, drift, names, lacking)
    else:
        rows_per_file = _kernel_counts(window, drift, names, lacking, batch_rows)
    drift.rows_seen += sum(rows_per_file.values())
    for name in columns:
        missing = set(lacking.get(name, range(len(files_columns))))
        drift.rows_with_column[name] += sum(n for file, n in rows_per_file.items() if file not in missing)


def _kernel_counts(window: Any, drift: Any, names: list[str], lacking: dict[str, list[int]],
                   batch_rows: int) -> dict[int, int]:
    """``mapInPandas`` over the local engine's own counting kernels; the per-batch counts are summed by Spark."""
    from pyspark.sql import functions as F

    bins = {name: drift.bins[name] for name in names}

    def count(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            out: list[tuple[int, int, str | None, int]] = []
            files = batch[FILE].to_numpy()
            for file, rows in pd.Series(files).value_counts().items():
                out.append((ROWS, int(file), None, int(rows)))
            for i, name in enumerate(names):
                values = batch[name]
                if lacking[name]:
                    values = values[~np.isin(files, lacking[name])]
                column_bins = bins[name]
                if isinstance(column_bins, CategoricalBins):
                    counts, unseen = column_bins.counts_and_unseen(values)
                    out += [(i, column_bins.trained_bin_count, str(k), int(v)) for k, v in unseen.items()]
                else:
                    counts = column_bins.counts(values)
                out += [(i, j, None, int(c)) for j, c in enumerate(counts.tolist()) if c]
            yield pd.DataFrame(out, columns=["c", "b", "name", "n"])

    schema = "c int, b long, name string, n long"
    with _conf(window.sparkSession, "spark.sql.execution.arrow.maxRecordsPerBatch", str(batch_rows)):
        rows = window.select(FILE, *[F.col(f"`{n}`") for n in names]).mapInPandas(count, schema) \
            .groupBy("c", "b", "name").agg(F.sum("n").alias("n")).collect()
    rows_per_file: dict[int, int] = {}
    unseen: dict[str, Counter] = {name: Counter() for name in names}
    for c, b, name, n in rows:
        if c == ROWS:
            rows_per_file[b] = int(n)
        elif name is not None:
            unseen[names[c]][name] += int(n)
        else:
            drift.production_counts[names[c]][b] += int(n)
    for name, tally in unseen.items():
        if tally:
            drift._remember_unseen(name, tally)
    return rows_per_file


class _conf:
    """A session setting for the length of one job, put back after."""

    def __init__(self, spark: Any, key: str, value: str) -> None:
        self.spark, self.key, self.value = spark, key, value

    def __enter__(self) -> None:
        self.before = self.spark.conf.get(self.key, None)
        self.spark.conf.set(self.key, self.value)

    def __exit__(self, *exc: object) -> None:
        if self.before is None:
            self.spark.conf.unset(self.key)
        else:
            self.spark.conf.set(self.key, self.before)


def _native_bin(column: Any, bins: NumericBins) -> Any:
    """The bin index of a numeric column as a Spark expression: the same edges, the same half-open bins."""
    from pyspark.sql import functions as F

    x = column.cast("double")
    n = bins.trained_bin_count
    invalid = x.isNull() | F.isnan(x)
    if n == 0:
        return F.when(invalid, n + 1).otherwise(n)
    edges = [float(edge) for edge in bins.edges]
    expression = F.when(invalid, n + 1).when((x < edges[0]) | (x > edges[-1]), n)
    for j in range(1, n if edges[0] != edges[-1] else 1):
        expression = expression.when(x < edges[j], j - 1)
    return expression.otherwise(n - 1)


def _native_counts(window: Any, drift: Any, names: list[str], lacking: dict[str, list[int]]) -> None:
    """Numeric columns: one aggregation of count-when expressions; others: one ``groupBy`` of distinct values each,
    keyed on the driver by ``class_key`` (a function of the value alone, so the tallies add up exactly)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType, DecimalType, NumericType

    types = {field.name: field.dataType for field in window.schema.fields}
    aggregates, numeric = [], []
    for name in names:
        bins = drift.bins[name]
        keep = ~F.col(FILE).isin(lacking[name]) if lacking[name] else F.lit(True)
        native = isinstance(bins, NumericBins) and isinstance(types[name], (NumericType, BooleanType)) \
            and not isinstance(types[name], DecimalType)
        if native:
            index = F.when(keep, _native_bin(F.col(f"`{name}`"), bins))
            aggregates += [F.count(F.when(index == j, 1)) for j in range(bins.trained_bin_count + 2)]
            numeric.append(name)
            continue
        tallies = window.where(keep).groupBy(F.col(f"`{name}`")).count().collect()
        _add_tallies(drift, name, [row[0] for row in tallies], [int(row[1]) for row in tallies])
    if aggregates:
        values = iter(window.agg(*aggregates).collect()[0])
        for name in numeric:
            drift.production_counts[name] += np.array([next(values) for _ in drift.production_counts[name]],
                                                      dtype=np.int64)


def _add_tallies(drift: Any, name: str, values: list[Any], tallies: list[int]) -> None:
    """Counts of distinct values binned on the driver, each value once, weighted by how often it occurred."""
    bins = drift.bins[name]
    counts = drift.production_counts[name]
    unseen: Counter = Counter()
    for value, tally in zip(values, tallies, strict=True):
        if isinstance(bins, CategoricalBins):
            one, seen = bins.counts_and_unseen(pd.Series([value], dtype=object))
            unseen.update({key: n * tally for key, n in seen.items()})
        else:
            one = bins.counts(pd.Series([value], dtype=object))
        counts += one * tally
    if unseen:
        drift._remember_unseen(name, unseen)


def _label_keys(spark: Any, keys: np.ndarray) -> Any:
    return spark.createDataFrame(pd.DataFrame({KEY: pd.Series(keys, dtype=object).astype(str)}))


def _join_statistics(spark: Any, frame: Any, counter: JoinCounter) -> None:
    """The join-rate check's counts over every row of the listed files: which labelled ids a prediction matched."""
    from pyspark.sql import functions as F

    if not len(counter.ids):
        return
    matched = frame.select(KEY).where(F.col(KEY).isNotNull()) \
        .join(F.broadcast(_label_keys(spark, counter.ids)), KEY, "left_semi").distinct().collect()
    counter.add(np.asarray([row[0] for row in matched], dtype=object))


def _join(spark: Any, frame: Any, joiner: Any, counter: JoinCounter | None, prediction: str,
          files_columns: list[list[str]]) -> Any:
    """Window predictions joined to the labels in Spark; the matched rows (latest prediction per id) are collected
    and handed to the joiner, whose counts are then set to the window's totals."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    skipped = sorted(set(_lacking(files_columns, prediction)) | set(_lacking(files_columns, ID_COLUMN)))
    window = frame.where(F.col(INSIDE) & ~F.col(FILE).isin(skipped))
    totals = window.agg(F.count(F.lit(1)), F.count(F.when(F.col(KEY).isNull(), 1)),
                        F.count_distinct(F.col(KEY))).collect()[0]
    rows, without_id, distinct = int(totals[0]), int(totals[1]), int(totals[2])
    label_ids = counter.ids if counter is not None else np.asarray([], dtype=object)
    columns = [c for c in dict.fromkeys([ID_COLUMN, prediction, PROBABILITY_COLUMN]) if c in frame.columns]
    latest = Window.partitionBy(KEY).orderBy(F.col(FILE).desc(), F.col(ROW).desc())
    matched = window.where(F.col(KEY).isNotNull()) \
        .join(F.broadcast(_label_keys(spark, label_ids)), KEY, "left_semi") \
        .withColumn("_dmm_rank", F.row_number().over(latest)).where(F.col("_dmm_rank") == 1) \
        .select(KEY, FILE, ROW, *[F.col(f"`{c}`") for c in columns]).toPandas()
    matched = matched.sort_values([FILE, ROW], kind="stable").reset_index(drop=True)
    joiner.add(matched[columns], ID_COLUMN, keys=matched[KEY].to_numpy(dtype=object))
    result = joiner.result()
    return replace(result, prediction_rows=rows, prediction_rows_without_id=without_id,
                   duplicate_prediction_rows=rows - without_id - distinct,
                   unmatched_prediction_count=distinct - result.matched_rows)
