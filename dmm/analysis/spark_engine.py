"""Step 6's pass over the window with PySpark: the same ``WindowScan`` as ``dmm.checks.scan.run_scan``, from Spark.

Imported only when ``--engine spark`` (or an active Spark session) asks for it; nothing else imports PySpark.

What runs where:

- driver: the bins (fitted on the training set by ``DriftCalculator.fit``), the labels (``ctx.ground_truth``, as the
  checks loaded them), the quality metrics over the matched rows (``quality_metrics``: every metric, AUC-ROC, log
  loss and Gini included, computed exactly as the local engine does, on the same rows);
- Spark: reading the listed ``prediction_data`` files (``ctx.prediction_files``: the ``$$date$$``/``$$hour$$``
  partitions already pruned to the window), the row filter of the edge hours, the bin counts, the id
  normalisation and the label join (latest prediction by read order: file order, then the row's position in its
  file: counted by the task that reads it, or ``_metadata.row_index`` with Spark's reader).

Probe rows (event ids starting with ``dmm.checks.probes.PROBE_EVENT_PREFIX``) are marked by ``probe_row_mask``'s
rule (``probe_row_mask`` in the kernel's tasks, a native expression with ``native``), counted apart and left out
of every consumer, as the local pass does. The local pass's watchers (the report's timeline, ``--metric``'s rows)
are not run here: ``engine["watchers"]`` says so and the preview reports them skipped.

Reading: with ``kernel`` counting (the default) the window is read once and every task runs the local engine's
per-batch functions on its Arrow batches (``spark_pass``: one job over the files, then small jobs over its persisted
output). With ``native`` counting it is read and projected once (``spark_read.read_window``: native file index,
probe flags and id keys, the timestamp UDF only in the edge files), cached (``cache=True``, memory then disk) and
shared by the scan's jobs (totals, bin counts, join-rate matches, the join). A session built here for a local
master uses as many shuffle partitions as cores. Measured (bench/scale.py, 1M rows, 2 shared cores, load 4 to 10):
``kernel`` 79 CPU s with Spark's parquet reader, 36.6 s since its tasks read the files with pyarrow (bench/scale.py's
fourth round, the local JVM flags included), ``native`` 155 CPU s, the local engine 6 CPU s.

Exactness: ids and probe flags follow the local rules (``spark_read``), timestamps and class values go through the
local engine's own functions (``parse_timestamps``, ``CategoricalBins.counts_and_unseen``); numeric bins are counted
either by the same numpy kernel in each task (``kernel``: ``mapInArrow``, ``spark_pass``) or by column
expressions comparing with the same edges (``native``: value in bin i iff edges[i] <= value < edges[i+1], the last
bin closed, which is what ``np.histogram`` does with ``np.linspace`` edges). Counts are integers, so every drift
value equals the local engine's.

Domino's on-demand Spark clusters run in standalone mode with the workspace or Job as the driver, and mount the
project's datasets on every node under the same path (docs.dominodatalab.com/en/latest/user_guide/482ec5 and
/en/4.1/user_guide/a3b42e/work-with-data/), so the executors read the same ``prediction_data`` paths as the driver.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from dmm.analysis.binning import CategoricalBins, NumericBins
from dmm.analysis.engine import WATCHERS_NOT_RUN
from dmm.analysis.spark_read import FILE, INSIDE, KEY, PROBE, ROW, add_rows, from_micros, moment_micros, read_window
from dmm.analysis.spark_read import lacking as files_lacking
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
)
from dmm.errors import DmmError

ROWS = -1  # the kernel's "rows per file" records
PANDAS_WARNING = "PySpark does not yet fully support pandas"
LOCAL_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"  # a local master's JVM: quick JIT, one-thread GC


def local_driver_memory() -> str:
    """The heap of a local master's JVM, which is the whole cluster: a quarter of the machine's memory (1 to 8 GB).
    Spark's default of 1 GB lost the matched rows' results at 50M rows (bench/scale.py: OutOfMemoryError, then
    TaskResultLost)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{min(max(total // 4 // 2 ** 30, 1), 8)}g"


def spark_session(settings: dict[str, str] | None = None) -> Any:
    """The active session (a cluster-attached run's), else one built from ``$DMM_SPARK_MASTER`` or Spark's defaults
    (and ``settings``, e.g. the tests' lowest ones).

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
    cores = _local_cores(master)
    if cores:  # Spark's default is 200 shuffle partitions, sized for clusters, not a few local cores
        builder = builder.config("spark.sql.shuffle.partitions", str(cores))
        # the driver JVM is the whole local cluster and, with the tasks reading the files in Python, does little per
        # row: its JIT was most of its CPU (bench/scale.py at 1M: 20.8 JVM CPU s with these, 34.6 without)
        # Spark puts these before extraJavaOptions, so a user's own JVM options (spark-defaults.conf) still apply
        builder = builder.config("spark.driver.defaultJavaOptions", LOCAL_JVM)
        builder = builder.config("spark.driver.memory", local_driver_memory())
    for key, value in (settings or {}).items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as error:
        raise DmmError(f"Spark could not start ({type(error).__name__})",
                       "Check the Java runtime and $DMM_SPARK_MASTER, or run with --engine local",
                       code="spark-failed") from error
    session.sparkContext.setLogLevel("ERROR")
    return session


def _local_cores(master: str | None) -> int:
    """The cores of a local master (``local``, ``local[N]``, ``local[*]``, ``local[N,F]``); 0 for a cluster's."""
    if not master or not (master == "local" or master.startswith("local[")):  # not local-cluster[...]
        return 0
    inside = master[len("local["):-1].split(",")[0] if master.startswith("local[") else "1"
    return os.cpu_count() or 1 if inside == "*" else int(inside) if inside.isdigit() else 0


def run_spark_scan(ctx: Any, plan: ScanPlan, *, counting: str = "kernel", session: Any = None,
                   cache: bool = True, read: str = "python") -> WindowScan:
    """The local engine's ``run_scan`` contract, computed by Spark (``counting``: ``kernel`` or ``native``).

    As locally, probe rows (``dmm.checks.probes``) are counted apart (``scan.probes`` in the window,
    ``scan.listed_probes`` in every row of the files) and fed to no consumer; watchers (``plan.watchers``) are not
    run: ``scan.engine["watchers"]`` says so and the preview skips what they feed."""

    from dmm.analysis.join import LabelIndex
    from dmm.analysis.spark_pass import READS

    if counting == "kernel" and read not in READS:
        raise ValueError(f"read={read!r}: expected one of {', '.join(READS)}")
    scan = WindowScan(plan)
    truth = _truth(ctx)
    index = LabelIndex(truth.frame[truth.id_column]) if truth is not None else None  # normalised once, on the driver
    counter = JoinCounter(index) if index is not None else None
    drift, columns, joiner = _consumers(ctx, scan, truth, index)
    prediction = ctx.schema.prediction_name if joiner is not None else ""
    files = list(ctx.prediction_files)  # always read: the probe rows are counted even when nothing else is computed
    start, end = _aware(ctx.start), _aware(ctx.end)
    scan.engine = {"name": "spark", "counting": counting, "files": len(files)}
    if counting == "kernel":
        scan.engine["read"] = read
    if plan.watchers:
        scan.engine["watchers"] = WATCHERS_NOT_RUN
    if files:
        spark = session or spark_session()
        scan.engine["master"] = spark.sparkContext.master
        if counting == "kernel":  # one read, the local engine's own functions in each task (spark_pass)
            from dmm.analysis.spark_pass import run_pass

            run_pass(spark, ctx, scan, drift, columns, counter, index, joiner, prediction, start, end,
                     plan.batch_rows, read=read)
            files = []
    if files:
        quality_columns = [ID_COLUMN, prediction, PROBABILITY_COLUMN, *TIMESTAMP_COLUMNS] if joiner is not None else []
        frame, files_columns, edges = read_window(spark, ctx, [*columns, *quality_columns, ID_COLUMN], start, end,
                                                  keys=index is not None)
        if cache:  # read, projected and keyed once: the jobs below (totals, counts, join) share it
            from pyspark import StorageLevel

            frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            _jobs(spark, scan, frame, files_columns, edges, counting, plan, drift, columns, counter, index, joiner,
                  prediction)
        finally:
            if cache:
                frame.unpersist()
    scan.join = counter.statistics() if counter is not None else None
    scan.drift = drift
    if joiner is not None and scan.joined is None and "quality" not in scan.errors:
        scan.joined = joiner.result()
    return scan


def _jobs(spark: Any, scan: WindowScan, frame: Any, files_columns: list[list[str]], edges: list[int], counting: str,
          plan: ScanPlan, drift: Any, columns: dict[str, str], counter: Any, index: Any, joiner: Any,
          prediction: str) -> None:
    """Every Spark job of the scan, over the one (cached) frame."""
    from pyspark.sql import functions as F

    has_ids = ID_COLUMN in frame.columns
    joining = joiner is not None and has_ids and prediction in frame.columns
    skipped = sorted(set(files_lacking(files_columns, prediction)) | set(files_lacking(files_columns, ID_COLUMN)))
    totals = _totals(frame, skipped if joining else None)
    scan.listed_probes, scan.probes = totals[0], totals[1]
    if drift is not None:
        try:
            _drift_counts(frame.where(~F.col(PROBE)), drift, columns, files_columns, counting, plan.batch_rows)
        except Exception as error:
            scan.errors["drift"] = error
    if counter is not None and index is not None and has_ids:
        _join_statistics(spark, frame, counter, index, edges)
    if joining and index is not None:
        try:
            scan.joined = _join(spark, frame, joiner, index, totals[2:], skipped, prediction)
        except Exception as error:
            scan.errors["quality"] = error


def _totals(frame: Any, skipped: list[int] | None) -> list[int]:
    """One job: probe rows in the files and in the window; when the join runs (``skipped``: the files it leaves
    out, lacking the prediction or the id), the rows it is fed (in the window, no probe), those without an id, and
    their distinct ids: the local joiner's prediction-side counts."""
    from pyspark.sql import functions as F

    probe, inside = F.col(PROBE), F.col(INSIDE)
    aggregates = [F.count(F.when(probe, 1)), F.count(F.when(probe & inside, 1))]
    if skipped is not None:
        fed = inside & ~probe & ~F.col(FILE).isin(skipped)
        aggregates += [F.count(F.when(fed, 1)), F.count(F.when(fed & F.col(KEY).isNull(), 1)),
                       F.count_distinct(F.when(fed, F.col(KEY)))]
    return [int(value) for value in frame.agg(*aggregates).collect()[0]]


def _drift_counts(frame: Any, drift: Any, columns: dict[str, str], files_columns: list[list[str]], counting: str,
                  batch_rows: int) -> None:
    from pyspark.sql import functions as F

    window = frame.where(F.col(INSIDE))
    names = [name for name in columns if name in frame.columns]
    lacking = {name: files_lacking(files_columns, name) for name in names}
    rows_per_file = _native_counts(window, drift, names, lacking)  # kernel counting runs in spark_pass
    add_rows(drift, columns, files_columns, names, rows_per_file)


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


STRIDE = 1 << 10  # numeric column i's bin j is key i * STRIDE + j (bins: at most MAX_NUMERIC_BINS + 2 guards)


def _native_counts(window: Any, drift: Any, names: list[str], lacking: dict[str, list[int]]) -> dict[int, int]:
    """Numeric columns: each row's bin index per column (a column expression on the same edges), exploded into one
    key per (column, bin) with the row's file as a negative key, and counted in one ``groupBy`` (one count-when
    aggregate per bin was hundreds of aggregates over one huge CASE, past Java's method size for generated code);
    others: one ``groupBy`` of distinct values each, keyed on the driver by ``class_key`` (a function of the value
    alone, so the tallies add up exactly). Returns the window's rows per file."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType, DecimalType, NumericType

    types = {field.name: field.dataType for field in window.schema.fields}
    keys: list[Any] = [-(F.col(FILE) + 1)]
    numeric: list[str] = []
    for name in names:
        bins = drift.bins[name]
        keep = ~F.col(FILE).isin(lacking[name]) if lacking[name] else F.lit(True)
        native = isinstance(bins, NumericBins) and isinstance(types[name], (NumericType, BooleanType)) \
            and not isinstance(types[name], DecimalType)
        if native:
            keys.append(F.when(keep, _native_bin(F.col(f"`{name}`"), bins) + len(numeric) * STRIDE))
            numeric.append(name)
            continue
        tallies = window.where(keep).groupBy(F.col(f"`{name}`")).count().collect()
        _add_tallies(drift, name, [row[0] for row in tallies], [int(row[1]) for row in tallies])
    rows_per_file: dict[int, int] = {}
    counted = window.select(F.explode(F.array(*keys)).alias("k")).where(F.col("k").isNotNull()) \
        .groupBy("k").count().collect()
    for key, n in counted:
        if key < 0:
            rows_per_file[-key - 1] = int(n)
        else:
            drift.production_counts[numeric[key // STRIDE]][key % STRIDE] += int(n)
    return rows_per_file


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


def _label_keys(spark: Any, index: Any) -> Any:
    """The labels' distinct normalised ids, as a one-column DataFrame to broadcast."""
    keys = index.lookup.ids.to_pandas().astype(object)
    return spark.createDataFrame(pd.DataFrame({KEY: keys}), schema=f"{KEY} string")


def _join_statistics(spark: Any, frame: Any, counter: JoinCounter, index: Any, edges: list[int]) -> None:
    """The join-rate check's counts over every row of the listed files: which labelled ids a prediction matched.
    Rows as the local pass feeds its counter: no probe row, except in the files filtered row by row (``edges``),
    whose every row's id is counted before the window and the probes are taken out."""
    from pyspark.sql import functions as F

    if not len(index):
        return
    counted = F.col(KEY).isNotNull() & (~F.col(PROBE) | F.col(FILE).isin(edges))
    matched = frame.where(counted).select(KEY).join(F.broadcast(_label_keys(spark, index)), KEY, "left_semi") \
        .distinct().collect()
    counter.add(index.look_up(np.asarray([row[0] for row in matched], dtype=object)).positions)


def _join(spark: Any, frame: Any, joiner: Any, index: Any, totals: list[int], skipped: list[int],
          prediction: str) -> Any:
    """Window predictions (no probe row) joined to the labels in Spark; the matched rows (latest prediction per id,
    by file order then row) are collected and handed to the joiner, whose prediction-side counts are then set to
    the window's ``totals`` (rows fed, rows without an id, distinct ids)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampType

    rows, without_id, distinct = totals
    window = frame.where(F.col(INSIDE) & ~F.col(PROBE) & ~F.col(FILE).isin(skipped))
    wanted = [ID_COLUMN, prediction, PROBABILITY_COLUMN, *TIMESTAMP_COLUMNS]
    columns = [c for c in dict.fromkeys(wanted) if c in frame.columns]
    latest = Window.partitionBy(KEY).orderBy(F.col(FILE).desc(), F.col(ROW).desc())
    matched = window.where(F.col(KEY).isNotNull()) \
        .join(F.broadcast(_label_keys(spark, index)), KEY, "left_semi") \
        .withColumn("_dmm_rank", F.row_number().over(latest)).where(F.col("_dmm_rank") == 1) \
        .select(KEY, FILE, ROW, *[moment_micros(F.col(f"`{c}`"), frame.schema[c].dataType).alias(c)
                                  for c in columns]).toPandas()
    for column in columns:
        if isinstance(frame.schema[column].dataType, TimestampType):
            matched[column] = from_micros(matched[column])
    matched = matched.sort_values([FILE, ROW], kind="stable").reset_index(drop=True)
    joiner.add(matched[columns], ID_COLUMN, ids=index.look_up(matched[KEY].to_numpy(dtype=object)))
    result = joiner.result()
    return replace(result, prediction_rows=rows, prediction_rows_without_id=without_id,
                   duplicate_prediction_rows=rows - without_id - distinct,
                   unmatched_prediction_count=distinct - result.matched_rows)
