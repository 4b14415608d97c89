"""Step 6's preview with the Spark executor (dmm/analysis/spark_engine.py) equals the local engine's, value for value:
bin counts, every drift test, the join counts and every quality metric, on generated data with the awkward cases
(edge-hour partitions, a file without a column, missing and out-of-range values, unseen classes, ids spelled 1 and
1.0, duplicated predictions and labels)."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from test_checks import NOW, TARGET, VERSION_ID, World, write_predictions

from dmm.checks.chain import run_checks
from dmm.checks.context import CheckContext, CheckInputs
from dmm.checks.probes import PROBE_EVENT_PREFIX
from dmm.checks.scan import ScanPlan, plan_scan

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

IGNORED = {"engine", "generated_at"}
# the lowest settings that keep these tests meaningful: their data is a few thousand rows, so one shuffle partition
# (Spark's default is 200; the toolkit's session uses one per core), and no UI; codegen stays on (the toolkit's
# expressions once broke only there: Java's method size), and local[2] keeps two tasks running side by side
TEST_SETTINGS = {"spark.sql.shuffle.partitions": "1", "spark.ui.enabled": "false",
                 "spark.ui.showConsoleProgress": "false"}


@pytest.fixture(scope="module")
def spark():
    """One local[2] session for this module, which holds every test that uses one (its xdist group keeps them on
    one worker: one JVM per run), stopped after it: an active session makes step 6's ``--engine auto`` choose Spark,
    so it must not outlive the module into the worker's other tests. Skipped where PySpark or Java is missing (the
    floor venv does not install requirements-spark.txt)."""
    import os
    import shutil
    import sys

    pytest.importorskip("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime for Spark (make test installs openjdk-17-jre-headless)")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from dmm.analysis.spark_engine import spark_session

    previous = os.environ.get("DMM_SPARK_MASTER")
    os.environ["DMM_SPARK_MASTER"] = "local[2]"
    session = spark_session(TEST_SETTINGS)
    yield session
    session.stop()
    if previous is None:
        os.environ.pop("DMM_SPARK_MASTER", None)
    else:
        os.environ["DMM_SPARK_MASTER"] = previous


def assert_same(local, spark, path="report"):
    """Every key and value equal; numbers to 1e-9 (relative or absolute)."""
    if isinstance(local, dict):
        assert isinstance(spark, dict), path
        keys = set(local) - IGNORED
        assert keys == set(spark) - IGNORED, f"{path}: {sorted(keys ^ (set(spark) - IGNORED))}"
        for key in keys:
            assert_same(local[key], spark[key], f"{path}.{key}")
    elif isinstance(local, list):
        assert isinstance(spark, list) and len(local) == len(spark), path
        for i, (a, b) in enumerate(zip(local, spark, strict=True)):
            assert_same(a, b, f"{path}[{i}]")
    elif isinstance(local, float) and not isinstance(local, bool):
        assert isinstance(spark, (int, float)), path
        assert math.isclose(local, spark, rel_tol=1e-9, abs_tol=1e-9), f"{path}: {local} != {spark}"
    else:
        assert local == spark, f"{path}: {local!r} != {spark!r}"


def context(world: World) -> CheckContext:
    """The world's checks over a week that ends at half past the last hour: that hour's file is filtered by row."""
    inputs = CheckInputs(prediction_data=world.prediction_dir, ground_truth_file=world.ground_truth_file,
                         start=NOW - timedelta(days=7), end=NOW - timedelta(minutes=30))
    return CheckContext(inputs, connect=world.connect, load_config=world.load_config)


@pytest.fixture
def generated(tmp_path) -> World:
    world = World(tmp_path)
    rng = np.random.default_rng(7)
    folder = world.prediction_dir.parent / "prediction_data"
    for hours_ago, n in ((30, 400), (5, 700), (3, 300)):
        ages = rng.normal(40, 15, n).round(1)
        ages[rng.random(n) < 0.05] = np.nan
        ages[:3] = [np.inf, -1000.0, 500.0]
        plans = rng.choice(["basic", "pro", "gold", " basic ", None], n, p=[0.4, 0.3, 0.1, 0.1, 0.1])
        ids = [f"evt-{i}" for i in rng.integers(0, 900, n)]  # duplicated predictions, across files too
        ids[5:8] = [f"{PROBE_EVENT_PREFIX}{hours_ago}-{k}" for k in range(2)] + [f" {PROBE_EVENT_PREFIX}x "]
        write_predictions(folder, ids, {"age": ages, "plan": plans, TARGET: rng.integers(0, 2, n)},
                          hour=NOW - timedelta(hours=hours_ago, minutes=-30))
    # a file without the "plan" column, in the edge hour of the window (it ends mid-hour: ``context``)
    # probes at 11:00 (inside a window ending at 11:30) and at 11:59 (outside it)
    edge_ids = [f"{PROBE_EVENT_PREFIX}edge-0"] + [str(i) for i in range(1, 59)] + [f"{PROBE_EVENT_PREFIX}edge-1"]
    write_predictions(folder, edge_ids, {"age": rng.normal(40, 5, 60), TARGET: [1] * 60},
                      hour=NOW - timedelta(hours=1))
    labels = pd.DataFrame({"event_id": [f"evt-{i}" for i in range(0, 1000, 2)] + ["1.0", "2", "evt-4", None],
                           "label": list(rng.integers(0, 2, 500)) + [1, 0, 1, 0]})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    world.ground_truth_file = tmp_path / "labels.csv"
    return world


def assert_same_scan(local, remote):
    for name, counts in local.drift.production_counts.items():
        assert remote.drift.production_counts[name].tolist() == counts.tolist(), name
    assert remote.drift.unseen == local.drift.unseen
    assert (remote.drift.rows_seen, remote.drift.rows_with_column) == (local.drift.rows_seen,
                                                                         local.drift.rows_with_column)
    assert remote.join == local.join
    assert (remote.probes, remote.listed_probes) == (local.probes, local.listed_probes)
    for name in ("prediction_rows", "prediction_rows_without_id", "duplicate_prediction_rows", "matched_rows",
                 "unmatched_prediction_count", "unmatched_label_ids"):
        assert getattr(remote.joined, name) == getattr(local.joined, name), name
    # as the report shows them (quality examples: str(id)); a numeric id read as text when files disagree on its type
    assert [str(v) for v in remote.joined.frame["event_id"]] == [str(v) for v in local.joined.frame["event_id"]]


def test_both_ways_of_counting_bins_give_the_local_counts(generated, spark):
    """One local scan against Spark's two ways of counting (native expressions, mapInArrow over the kernels), the
    kernels' files read by the tasks with pyarrow or by Spark's parquet reader."""
    from dmm.analysis.spark_engine import run_spark_scan
    from dmm.checks.scan import run_scan

    ctx = context(generated)
    run_checks(ctx)
    plan = ScanPlan(preview=True)
    local = run_scan(ctx, plan)
    assert local.probes > 0
    for counting, read in (("native", None), ("kernel", "python"), ("kernel", "spark")):
        remote = run_spark_scan(ctx, plan, counting=counting, session=spark, read=read or "python")
        assert remote.engine["counting"] == counting and remote.engine.get("read") == read
        assert_same_scan(local, remote)
        assert not any(str(v).strip().startswith(PROBE_EVENT_PREFIX) for v in remote.joined.frame["event_id"])


def test_generated_data_gives_the_same_report_with_either_engine(generated, spark):
    """The whole report: drift, quality, checks and probes equal. The report's timeline and --metric's rows are fed
    by the local pass only (watchers): with Spark they are skipped with the reason. (One pair of reports for both
    claims: each report costs a pass of either engine.)"""
    from dmm import preview
    from dmm.analysis.timeline import Timeline
    from dmm.own_metrics import WindowRows, load_metric_modules

    module = generated.prediction_dir.parent / "mine.py"
    module.write_text("def rows(baseline, window):\n    return float(len(window))\n")
    options = preview.PreviewOptions(metrics=load_metric_modules([str(module)]))
    reports = {}
    for engine in ("local", "spark"):
        ctx = context(generated)
        plan_scan(ctx, ScanPlan(preview=True, engine=engine, watchers=(Timeline(ctx.start, ctx.end), WindowRows())))
        reports[engine] = preview.build_report(ctx, run_checks(ctx), options=options)
    local, remote = reports["local"], reports["spark"]
    assert local["drift"]["status"] == "ok" and local["quality"]["status"] == "ok"
    assert local["drift"]["production_rows"] > 1000 and local["quality"]["join"]["duplicate_prediction_rows"] > 0
    assert remote["drift"]["engine"]["name"] == "spark" and local["drift"]["engine"]["name"] == "local"
    assert_same(local["drift"], remote["drift"], "drift")
    assert_same(local["quality"], remote["quality"], "quality")
    assert_same(local["checks"], remote["checks"], "checks")
    assert 0 < local["probes"]["rows_in_window"] < local["probes"]["rows_in_files"]
    assert_same(local["probes"], remote["probes"], "probes")
    assert local["timeline"]["status"] == "ok" and local["own_metrics"]["status"] == "ok"
    assert remote["drift"]["engine"]["watchers"] == "not run by the Spark executor"
    for view in ("timeline", "own_metrics"):
        assert remote[view]["status"] == "skipped", remote[view]
        assert "not run by the Spark executor" in remote[view]["reason"] and "--engine local" in remote[view]["reason"]
    assert "watchers" not in local["drift"]["engine"]


SPACES = [chr(c) for c in range(0x110000) if chr(c).isspace()]
TEXT_IDS = ["evt-1", " 1 ", "+5", "-0", "0", "007", "1.50", "1.0", "-2.5", "1e5", "inf", "9007199254740993",
            "-123456789012345", "1234567890123456", "", "   ", None, "e5\n", "\ne5", "a b", "1\u3000", "\u00851",
            f"{PROBE_EVENT_PREFIX}a", f" {PROBE_EVENT_PREFIX}b", f"x{PROBE_EVENT_PREFIX}",
            f"\u200b{PROBE_EVENT_PREFIX}",  # a zero-width space is not whitespace
            *[f"{space}{PROBE_EVENT_PREFIX}{i}" for i, space in enumerate(SPACES)], *[f"{s}7{s}" for s in SPACES]]
OTHER_IDS = {"bigint": [1, -0, 2 ** 53 - 1, 2 ** 53 + 1, -(2 ** 62), None],
             "double": [1.0, 1.5, float("nan"), float("inf"), -0.0, 1e20, 2.0 ** 53, 0.1, None],
             "boolean": [True, False, None]}


def test_native_id_keys_and_probe_flags_are_the_local_engines(spark):
    """``KEY`` and ``PROBE`` are native Spark expressions (with the driver keying the rare hard ids): each equals
    the local engine's own function (``normalise_ids``, ``probe_row_mask``) on every awkward id, Unicode whitespace
    (Python's ``str.isspace``, which Arrow's trim follows) included."""
    import pyarrow as pa
    from pyspark.sql import functions as F

    from dmm.analysis.join import normalise_ids
    from dmm.analysis.spark_read import KEY, probe_flags, with_keys
    from dmm.checks.probes import probe_row_mask

    for kind, values in [("string", TEXT_IDS), *OTHER_IDS.items()]:
        frame = spark.createDataFrame(pd.DataFrame({"event_id": pd.Series(values, dtype=object),
                                                    "at": range(len(values))}), schema=f"event_id {kind}, at long")
        id_type = frame.schema["event_id"].dataType
        frame = with_keys(spark, frame, id_type).withColumn("probe", probe_flags(F.col("event_id"), id_type))
        rows = frame.orderBy("at").select(KEY, "probe").collect()
        expected = normalise_ids(pd.Series(values, dtype="float64" if kind == "double" else object)).tolist()
        assert [row[0] for row in rows] == expected, kind
        if kind == "string":
            mask = probe_row_mask(pa.table({"event_id": pa.array(values, type=pa.string())}))
            assert [row[1] for row in rows] == mask.to_pylist()
            assert sum(row[1] for row in rows) == len(SPACES) + 2
        else:
            assert not any(row[1] for row in rows)


def scanned(world: World, labels: pd.DataFrame):
    """The world's checks and the local preview scan with ``labels`` as its ground truth: (context, plan, scan)."""
    from dmm.checks.scan import run_scan

    labels.to_csv(world.prediction_dir.parent / "labels.csv", index=False)
    world.ground_truth_file = world.prediction_dir.parent / "labels.csv"
    ctx = context(world)
    run_checks(ctx)
    plan = ScanPlan(preview=True)
    return ctx, plan, run_scan(ctx, plan)


def test_ids_written_as_numbers_in_one_file_and_text_in_another_join_as_locally(tmp_path, spark):
    """Spark took the id column's type from the first file, so text ids of a later file became nulls; each file
    is now keyed by its own type, as the local engine keys each chunk."""
    from dmm.analysis.spark_engine import run_spark_scan

    world = World(tmp_path)
    folder = world.prediction_dir.parent / "prediction_data"
    write_predictions(folder, list(range(40)), hour=NOW - timedelta(hours=5))  # int64 ids, written first
    write_predictions(folder, [f"e{i}" for i in range(30)] + [" 42", "45.0", None], hour=NOW - timedelta(hours=3))
    write_predictions(folder, [42.0, 48.0, 7.5], hour=NOW - timedelta(hours=4))  # float ids: 42 as " 42", 48 new
    ctx, plan, local = scanned(world, pd.DataFrame({
        "event_id": [str(i) for i in range(0, 50, 3)] + [f"e{i}" for i in range(0, 30, 4)],
        "label": [i % 2 for i in range(17)] + [i % 2 for i in range(8)]}))
    # 0..39 step 3, e0..e28 step 4, " 42" and "45.0", 48.0 (42.0 is " 42" again: the latest prediction wins)
    assert local.joined.matched_rows == 14 + 8 + 2 + 1
    for counting, read in (("native", "python"), ("kernel", "python"), ("kernel", "spark")):
        # native keys per group; the kernel's files in their own types (pyarrow in the task, or Spark's reader)
        assert_same_scan(local, run_spark_scan(ctx, plan, counting=counting, session=spark, read=read))


AMBIGUOUS = ["2024-11-03T05:30:00+00:00", "2024-11-03T06:30:00+00:00"]  # both 01:30 in New York (EDT, then EST)


def write_timestamped(folder, hours_ago: int, k: int, kind: str) -> None:
    """30 predictions in the hour ``hours_ago`` (one a minute, ids ``e{k}-{i}``) whose timestamp column is a parquet
    timestamp in the zone ``kind``, a naive one (``"naive"``: TIMESTAMP_NTZ, UTC for the toolkit) or ISO text."""
    hour = NOW - timedelta(hours=hours_ago)
    part = folder / VERSION_ID / f"$$date$$={hour:%Y-%m-%d}Z" / f"$$hour$$={hour:%H}Z"
    part.mkdir(parents=True, exist_ok=True)
    when = pd.Series([pd.Timestamp(hour) + timedelta(minutes=2 * i, seconds=k) for i in range(30)])
    if hours_ago == 3:  # carried, not filtered by (a whole hour): two instants with one New York wall time
        when[[0, 2]] = pd.to_datetime(AMBIGUOUS, utc=True)  # both labelled
    stamps = when.map(lambda t: t.isoformat()) if kind == "text" else when.dt.tz_localize(None) \
        if kind == "naive" else when.dt.tz_convert(kind)
    pd.DataFrame({"age": np.arange(30) + 20.0, "plan": ["basic", "pro"] * 15, TARGET: [i % 2 for i in range(30)],
                  "event_id": [f"e{k}-{i}" for i in range(30)], "timestamp": stamps}) \
        .to_parquet(part / "predictions_0.parquet", index=False)


@pytest.mark.parametrize("kinds", [("Europe/Berlin", "UTC", "Asia/Kolkata", "Europe/Berlin"),
                                   ("Europe/Berlin", "naive", "text", "naive")], ids=["zoned", "mixed"])
def test_timestamp_columns_filter_and_join_as_locally_under_a_session_zone_that_is_not_utc(tmp_path, spark, kinds):
    """Prediction files whose timestamp column is a parquet timestamp (with a zone, or naive), not text, read under
    a New York session zone: the kernel's matched rows need the zone in their Arrow schema (it raised an
    AssertionError); pandas gets a zoned column as the session's wall time, ambiguous in the repeated autumn hour
    (the native join raised, or read it as UTC); files in different zones are one timestamp column, not text; a zoned
    value shared as text keeps its offset; and a naive timestamp is UTC, as locally (the window's edge hour was
    filtered in the session zone). The last file is the edge hour, filtered by row (the window ends at half past)."""
    from dmm.analysis.spark_engine import run_spark_scan

    world = World(tmp_path)
    folder = world.prediction_dir.parent / "prediction_data"
    for k, (hours_ago, kind) in enumerate(zip((5, 3, 2, 1), kinds, strict=True)):
        write_timestamped(folder, hours_ago, k, kind)
    ctx, plan, local = scanned(world, pd.DataFrame({
        "event_id": [f"e{k}-{i}" for k in range(4) for i in range(0, 30, 2)], "label": [i % 2 for i in range(60)]}))
    assert local.drift.rows_seen == 3 * 30 + 15  # the edge hour's first half
    assert local.joined.matched_rows == 45 + 8
    moments = local.joined.frame["timestamp"].tolist()
    assert str(moments[0].tz) == "UTC" and moments[0] == pd.Timestamp(NOW - timedelta(hours=5))
    assert moments[15:17] == list(pd.to_datetime(AMBIGUOUS, utc=True))
    before = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        for counting, read in (("native", "python"), ("kernel", "python"), ("kernel", "spark")):
            remote = run_spark_scan(ctx, plan, counting=counting, session=spark, read=read)
            assert_same_scan(local, remote)
            assert remote.joined.frame["timestamp"].tolist() == moments, (counting, read)
    finally:
        spark.conf.set("spark.sql.session.timeZone", before)
