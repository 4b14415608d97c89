"""Step 6's one pass over the window's files (dmm/checks/scan.py): each file read once for the checks and the
preview; whole-hour partitions taken whole, edge partitions filtered by row; the join counts as before."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pyarrow.parquet as pq
import pytest
from test_checks import NOW, World, write_predictions

from dmm.analysis.moments import parse_timestamps
from dmm.checks.chain import run_checks
from dmm.checks.context import CheckInputs
from dmm.checks.ground_truth import join_statistics
from dmm.checks.scan import ScanPlan, plan_scan, window_scan


@pytest.fixture
def world(tmp_path) -> World:
    built = World(tmp_path)
    # a second and a third hour, so the window has inside and edge partitions
    write_predictions(built.prediction_dir.parent / "prediction_data", [f"evt-b{i}" for i in range(40)],
                      hour=NOW - timedelta(hours=4))
    write_predictions(built.prediction_dir.parent / "prediction_data", [f"evt-c{i}" for i in range(30)],
                      hour=NOW - timedelta(hours=3))
    return built


def test_the_checks_and_the_preview_read_each_file_once(world, monkeypatch):
    from dmm import preview

    reads: list[str] = []
    original = pq.ParquetFile.iter_batches

    def counting(self, *args, **kwargs):
        reads.append(id(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", counting)
    grouped = count_grouped_reads(monkeypatch)
    ctx = world.context()
    plan_scan(ctx, ScanPlan(preview=True))
    report = preview.build_report(ctx, run_checks(ctx))
    assert report["drift"]["status"] == "ok" and report["quality"]["status"] == "ok"
    assert len(reads) + len(grouped) == len(ctx.prediction_files) == 3
    assert grouped and len(set(grouped)) == len(grouped)  # the whole-hour file went with the small files' read


def count_grouped_reads(monkeypatch) -> list[str]:
    """The files ``scan_files.read_run`` reads (small whole-hour files, read together), in the order read."""
    from dmm.checks import scan_files

    read: list[str] = []
    original = scan_files.read_run

    def counting(run, *args, **kwargs):
        read.extend(str(item.path) for item in run.files)
        return original(run, *args, **kwargs)

    monkeypatch.setattr(scan_files, "read_run", counting)
    return read


def test_small_whole_hour_files_read_together_give_the_same_report(world, monkeypatch):
    """Issue 14: small whole-hour files are read by one call (``read_run``); with every file read alone the
    report is the same."""
    from dmm import preview
    from dmm.checks import scan_files

    reports = []
    for small_rows in (scan_files.SMALL_FILE_ROWS, 0):  # 0: no file is small, each is read alone
        monkeypatch.setattr(scan_files, "SMALL_FILE_ROWS", small_rows)
        grouped = count_grouped_reads(monkeypatch)
        ctx = world.context()
        plan_scan(ctx, ScanPlan(preview=True, batch_rows=7))
        report = preview.build_report(ctx, run_checks(ctx))
        reports.append((report["drift"], report["quality"], report["checks"]))
        assert bool(grouped) == bool(small_rows)
    assert reports[0] == reports[1]
    assert reports[0][0]["production_rows"] > 0 and reports[0][1]["matched_rows"] > 0


def test_each_footer_is_read_once_for_the_summary_and_the_pass(world, monkeypatch):
    from dmm import preview

    footers: list[str] = []
    original = pq.read_metadata
    monkeypatch.setattr(pq, "read_metadata",
                        lambda where, *a, **k: footers.append(str(where)) or original(where, *a, **k))
    opened: list[bool] = []
    original_init = pq.ParquetFile.__init__

    def init(self, source, *args, metadata=None, **kwargs):
        opened.append(metadata is not None)
        original_init(self, source, *args, metadata=metadata, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "__init__", init)
    grouped = count_grouped_reads(monkeypatch)
    ctx = world.context()
    plan_scan(ctx, ScanPlan(preview=True))
    report = preview.build_report(ctx, run_checks(ctx))
    files = len(ctx.prediction_files)
    assert report["drift"]["status"] == "ok"
    assert sorted(footers) == sorted(str(item.path) for item in ctx.prediction_files)
    # the pass opens each file it reads alone with the footer the summary read; the small whole-hour files read
    # together are opened by Arrow's dataset, which parses their footers again in C++ (not pq.read_metadata)
    assert opened.count(True) + len(grouped) == files


def test_a_preview_after_checks_only_reads_again_with_the_preview(world):
    from dmm import preview

    ctx = world.context()  # no plan: the join-rate check's pass fed the join statistics only
    report = preview.build_report(ctx, run_checks(ctx))
    assert report["drift"]["production_rows"] == 120 and report["quality"]["matched_rows"] == 50


def rows_in_window(world: World, start, end) -> int:
    frames = [pd.read_parquet(item) for item in sorted(world.prediction_dir.rglob("*.parquet"))]
    stamps = pd.to_datetime(pd.concat(frames)["timestamp"], utc=True, format="ISO8601")
    return int(((stamps >= start) & (stamps < end)).sum())


@pytest.mark.parametrize("start_minutes, end_minutes", [(0, 0), (30, 0), (-45, -130), (200, -200)])
def test_edge_partitions_are_filtered_by_row_and_inside_ones_taken_whole(world, start_minutes, end_minutes):
    from dmm import preview

    start = NOW - timedelta(hours=4) + timedelta(minutes=start_minutes)
    end = NOW + timedelta(minutes=end_minutes)
    ctx = world.context()
    ctx.inputs = CheckInputs(prediction_data=world.prediction_dir, start=start, end=end)
    drift = preview.build_report(ctx, run_checks(ctx))["drift"]
    assert drift["production_rows"] == rows_in_window(world, start, end)


def test_join_statistics_from_the_pass_equal_the_standalone_scan(world, tmp_path):
    labels = pd.DataFrame({"event_id": ["evt-1", "evt-1", "evt-b3", "nope-1", "evt-c29", " evt-2 ", "nope-2", None],
                           "label": [0, 1, 1, 0, 1, 0, 1, 0]})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    world.ground_truth_file = tmp_path / "labels.csv"
    ctx = world.context()
    plan_scan(ctx, ScanPlan(preview=True))
    results = {r.name: r for r in run_checks(ctx)}
    scan = window_scan(ctx)
    expected = join_statistics(ctx.ground_truth, ctx.prediction_files)
    assert scan.join == expected
    assert (expected.labelled, expected.matched, expected.duplicates) == (6, 4, 1)
    assert expected.unmatched_sample == ("nope-1", "nope-2")
    assert results["join rate"].facts["matched_ids"] == 4


def test_timestamps_in_domino_form_parse_as_the_mixed_parser_does():
    values = pd.Series(["2026-01-05T10:00:00+00:00", "2026-01-05T10:00:00.123456+00:00",
                        "2026-01-05T12:30:00.5+02:00", "2026-01-05 10:00:00", "05/01/2026 10:00", None, "not a date"])
    expected = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    pd.testing.assert_series_equal(parse_timestamps(values), expected)
    assert parse_timestamps(values).notna().sum() == 5


def test_id_lookup_by_hash_is_exact_even_when_hashes_collide():
    import numpy as np

    from dmm.analysis.join import IdLookup

    ids = np.array(["a", "b", "1", "evt-9"], dtype=object)
    keys = np.array(["b", "x", "1", "evt-9", "a", "evt-99"], dtype=object)
    assert IdLookup(ids).positions(keys).tolist() == [1, -1, 2, 3, 0, -1]
    lookup = IdLookup(ids)
    # a prediction id whose hash equals a label's is confirmed by its text, never taken for that label
    forged = pd.util.hash_array(keys)
    forged[1] = pd.util.hash_array(np.array(["a"], dtype=object))[0]
    assert lookup.positions(keys, forged).tolist() == [1, -1, 2, 3, 0, -1]


def test_probe_rows_are_left_out_of_the_preview_and_counted_apart(world):
    """Steps 3 and 6 send a sample row whose event id starts with dmm-probe-; Domino captures it like any prediction.
    Step 6 counts it apart: not in drift, quality or the predictions check's count."""
    from dmm import preview
    from dmm.checks.names import CheckName
    from dmm.checks.probes import PROBE_EVENT_PREFIX

    folder = world.prediction_dir.parent / "prediction_data"
    write_predictions(folder, [f"{PROBE_EVENT_PREFIX}{i}" for i in range(3)], hour=NOW - timedelta(hours=3))
    # an edge partition: its probe rows before the window's start are in the files but not in the window
    write_predictions(folder, [f"{PROBE_EVENT_PREFIX}edge-{i}" for i in range(2)], hour=NOW - timedelta(hours=5))
    start = NOW - timedelta(hours=5) + timedelta(minutes=1)
    ctx = world.context()
    ctx.inputs = CheckInputs(prediction_data=world.prediction_dir, start=start, end=NOW + timedelta(hours=1))
    plan_scan(ctx, ScanPlan(preview=True))
    results = run_checks(ctx)
    report = preview.build_report(ctx, results)
    predictions = next(r for r in results if r.name == CheckName.PREDICTIONS)
    assert predictions.facts["probe_rows"] == 5 and predictions.facts["rows"] == 120
    assert "probe prediction(s)" in predictions.detail and "120 predictions" in predictions.detail
    assert report["drift"]["production_rows"] == 120 and report["drift"]["probe_rows"] == 4  # one edge probe is early
    assert report["probes"]["rows_in_window"] == 4 and report["probes"]["rows_in_files"] == 5
    assert report["quality"]["status"] == "ok"
    assert all(not str(i).startswith(PROBE_EVENT_PREFIX) for i in report["quality"]["join"].get("unmatched_sample", []))


def test_probe_rows_are_counted_when_nothing_is_previewed(world):
    from dmm.checks.names import CheckName
    from dmm.checks.probes import PROBE_EVENT_PREFIX

    write_predictions(world.prediction_dir.parent / "prediction_data", [f"{PROBE_EVENT_PREFIX}x"],
                      hour=NOW - timedelta(hours=3))
    world.datasources.objects.clear()  # no labels: no join counter, no preview
    ctx = world.context()
    predictions = next(r for r in run_checks(ctx) if r.name == CheckName.PREDICTIONS)
    assert predictions.facts["probe_rows"] == 1 and predictions.facts["rows"] == 120
def test_watchers_get_the_window_rows_and_your_metrics_see_labels_and_the_time_view(world, tmp_path):
    """Issue 12: the pass feeds the report's Timeline and the rows --metric functions get (labels merged by id)."""
    from dmm import preview
    from dmm.analysis.timeline import Timeline
    from dmm.own_metrics import WindowRows, load_metric_modules

    seen: dict = {}
    module = tmp_path / "mine.py"
    module.write_text("def labelled(baseline, window):\n    SEEN['columns'] = list(window.columns)\n"
                      "    return float(window['label'].notna().sum())\n")
    metrics = load_metric_modules([str(module)])
    metrics[0].function.__globals__["SEEN"] = seen
    ctx = world.context()
    timeline = Timeline(ctx.start, ctx.end)
    plan_scan(ctx, ScanPlan(preview=True, watchers=(timeline, WindowRows())))
    report = preview.build_report(ctx, run_checks(ctx), options=preview.PreviewOptions(metrics=metrics))
    rows = report["drift"]["production_rows"]
    assert rows == rows_in_window(world, ctx.start, ctx.end)
    assert report["timeline"].get("status") == "ok", report["timeline"]
    assert sum(report["timeline"]["traffic"]) == rows
    (own,) = report["own_metrics"]["metrics"]
    assert report["own_metrics"]["window_rows"] == rows
    assert own["value"] == report["quality"]["matched_rows"]  # every matched prediction carries its label
    assert "event_id" in seen["columns"] and "timestamp" in seen["columns"]


def test_the_pass_reports_progress_once_per_file_and_closes_it(world):
    """Issue 12: step 6's pass says how far it is (plain lines in a Job's log, dmm.cli.ProgressBar)."""
    import io

    from dmm.cli import LineProgress

    shown = io.StringIO()
    made: list[LineProgress] = []

    def progress(total: int) -> LineProgress:
        made.append(LineProgress(total, "Reading captured predictions", "file", interval=3600, stream=shown))
        return made[-1]

    ctx = world.context()
    plan_scan(ctx, ScanPlan(preview=True, progress=progress))
    run_checks(ctx)
    files = len(ctx.prediction_files)
    assert files > 1 and [bar.total for bar in made] == [files] and made[0].done == files
    assert shown.getvalue() == f"Reading captured predictions: {files:,}/{files:,} file (100%)\n"


def test_reading_ahead_on_a_thread_gives_the_same_report(world):
    """Issue 14's read-ahead (``ScanPlan.read_ahead``): the same pass, its batches read on a reader thread."""
    from dmm import preview

    reports = []
    for ahead in (0, 2):
        ctx = world.context()
        plan_scan(ctx, ScanPlan(preview=True, batch_rows=7, read_ahead=ahead))
        report = preview.build_report(ctx, run_checks(ctx))
        reports.append((report["drift"], report["quality"]))
    assert reports[0] == reports[1]
    assert reports[0][0]["production_rows"] > 0 and reports[0][1]["matched_rows"] > 0


def test_files_of_one_part_are_fed_together_and_apart_from_other_parts(world):
    """A watcher's ``part_of(hour)`` (the time view's period of a file's partition hour) keeps files of different
    parts out of one fed frame; what each consumer computes is the same with or without it."""
    from dmm import preview

    class Parts:
        name, columns = "parts", ("timestamp",)

        def __init__(self, split: bool) -> None:
            self.hours: list[set[int]] = []
            if split:
                self.part_of = lambda hour: None if hour is None else hour.hour % 2

        def add(self, frame, scan) -> None:
            self.hours.append(set(parse_timestamps(frame["timestamp"]).dt.hour))

    reports, watchers = [], []
    for split in (False, True):
        ctx = world.context()
        watchers.append(Parts(split))
        plan_scan(ctx, ScanPlan(preview=True, batch_rows=10_000, watchers=(watchers[-1],)))
        report = preview.build_report(ctx, run_checks(ctx))
        reports.append((report["drift"], report["quality"]))
    hours = {8, 9, 10}  # the world's three partition hours
    assert watchers[0].hours == [hours]  # one frame: every file has the same columns
    assert sorted(map(sorted, watchers[1].hours)) == [[8], [9], [10]]  # parts 0, 1, 0: three frames
    assert reports[0] == reports[1] and reports[0][0]["production_rows"] > 0


def test_read_ahead_keeps_order_raises_the_readers_error_and_stops_the_reader():
    import threading

    from dmm.checks.scan import prefetched

    assert list(prefetched(iter(range(50)), 3)) == list(range(50))

    def failing():
        yield 1
        raise ValueError("unreadable file")

    items = prefetched(failing(), 2)
    assert next(items) == 1
    with pytest.raises(ValueError, match="unreadable file"):
        next(items)
    produced = []

    def endless():
        while True:
            produced.append(1)
            yield len(produced)

    items = prefetched(endless(), 2)
    assert next(items) == 1
    items.close()  # the consumer stops: the reader thread ends, having read at most a few items ahead
    assert not any(t.name == "dmm-scan-reader" and t.is_alive() for t in threading.enumerate())
    assert len(produced) <= 5
