"""Step 6's one pass over the window's prediction files: join statistics, drift counts and the quality join together.

Each file is opened once and read once, in batches, over the union of the columns its consumers need:

- the join-rate check's statistics (every row of the listed files, as the check has always counted them);
- the drift preview's bin counts and the quality preview's joined rows (the rows inside the window).

Window pruning is by partition: Domino writes a row under the ``$$date$$``/``$$hour$$`` of its timestamp
(prediction_files.py), so a file whose hour lies wholly inside ``[start, end)`` is taken whole and only the files of
the (at most two) hours straddling an edge, or outside that layout, are filtered row by row. Timestamps are parsed
once per such batch, in the ISO 8601 form domino_data_capture writes (``datetime.now(timezone.utc).isoformat()``,
see its ``data_capture_client.py``), falling back to pandas' mixed parsing only for values that are not.

Labels are normalised and indexed once (one ``LabelIndex``, shared by ``JoinCounter`` here and ``GroundTruthJoiner``
for the quality join); each batch's ids are looked up once, so the cost is linear in rows and independent of the
number of files. Memory holds the labels, one slot per label for its latest matched prediction, bin counts and a
few batches (the distinct prediction ids are counted from temporary files): flat in the predictions' rows. A reader
thread decodes the next batches while one is counted (read_ahead.py), and which rows it reads, in which runs and
parts, is scan_files.py's.

The scan is memoised on the ``CheckContext``: the join-rate check runs it (with the preview's consumers attached when
step 6 previews) and the preview reads the results. Errors in one consumer are kept and re-raised by that consumer's
reader only, so a drift problem cannot fail the join-rate check.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np

from dmm.analysis.engine import backend_for
from dmm.checks.ground_truth import ID_COLUMN, LISTED_IDS, GroundTruth, JoinStatistics
from dmm.checks.names import CheckName
from dmm.checks.probes import count_probe_ids, probe_row_mask
from dmm.checks.read_ahead import prefetched, read_ahead
from dmm.checks.scan_files import TIMESTAMP_COLUMNS, Pending, window_batches
from dmm.prediction_files import PredictionFile

if TYPE_CHECKING:
    from dmm.analysis.drift import DriftCalculator
    from dmm.analysis.join import GroundTruthJoiner, JoinResult, LabelIndex
    from dmm.checks.context import CheckContext

BATCH_ROWS = 100_000
COMBINE_CHUNKS = 8  # a fed frame of more batches than this is made one chunk per column first
PROBABILITY_COLUMN = "prediction_probability"
PLAN_KEY = "scan_plan"
SCAN_KEY = "window_scan"
PREFETCH_KEY = "engine_import"


@dataclass(frozen=True)
class ScanPlan:
    """What the pass feeds besides the join statistics: the drift and quality previews when ``preview`` is set."""

    preview: bool = False
    drift_config: dict | None = None
    batch_rows: int = BATCH_ROWS
    # more consumers of the window's rows (the report's timeline, the rows --metric functions get): each has
    # ``name``, ``columns`` (read besides the others when a file has them), ``add(frame, scan)`` and, optionally,
    # ``part_of(hour)`` (files of two parts are never fed in one frame: scan_files.py)
    watchers: tuple[Any, ...] = ()
    engine: str = "local"  # dmm.analysis.engine: "local" (run_scan), "spark", or "auto"
    # ``progress(total_files)`` -> an object with ``update()`` (once per file read) and ``close()``: step 6's
    # dmm.cli.ProgressBar, plain periodic lines in a Job's log
    progress: Callable[[int], Any] | None = field(default=None, compare=False)
    read_ahead: int | None = None  # batches a reader thread reads ahead (None: read_ahead(plan) decides)


def plan_scan(ctx: CheckContext, plan: ScanPlan) -> None:
    """Say, before the checks run, what the one pass should also compute (step 6 does; default: checks only).

    With the preview, the engine's imports start on a thread while the first checks wait on Domino: the drift
    engine's (scipy.special) first, then the quality metrics' (numpy only since they no longer use scikit-learn,
    so little is left to load). The pass waits for the drift engine only (``engine_ready(ctx, drift_only=True)``);
    the preview's quality waits for all of it."""
    ctx.memo.get(PLAN_KEY, lambda: plan)
    if plan.preview and ctx.memo.peek(PREFETCH_KEY) is None:
        drift_loaded = threading.Event()
        thread = threading.Thread(target=_import_engine, args=(drift_loaded,), name="dmm-engine-import", daemon=True)
        ctx.memo.put(PREFETCH_KEY, (thread, drift_loaded))
        thread.start()


def _import_engine(drift_loaded: threading.Event) -> None:
    try:
        import dmm.analysis.drift  # noqa: F401
    except Exception:  # the main thread's own import reports any problem
        pass
    finally:
        drift_loaded.set()
    try:
        import dmm.analysis.quality  # noqa: F401
    except Exception:
        pass


def engine_ready(ctx: CheckContext, *, drift_only: bool = False) -> None:
    """Wait for the engine's imports started by ``plan_scan`` (``drift_only``: the drift engine's), so the pass
    does not import a module the import thread is importing."""
    started = ctx.memo.peek(PREFETCH_KEY)
    if started is None:
        return
    thread, drift_loaded = started
    if drift_only:
        drift_loaded.wait()
    else:
        thread.join()


class JoinCounter:
    """The join-rate check's counts: distinct labelled ids, how many a prediction matched, ids labelled twice."""

    def __init__(self, index: LabelIndex) -> None:
        self.index = index  # the labels' ids, normalised once (shared with the quality join)
        self.duplicates = index.duplicated_ids()
        self.seen = np.zeros(len(index), dtype=bool)

    def add(self, positions: np.ndarray) -> None:
        """Label positions of prediction ids (``LabelIndex.look_up(keys).positions``; -1: none)."""
        self.seen[positions[positions >= 0]] = True

    def statistics(self) -> JoinStatistics:
        unmatched = self.index.text(np.flatnonzero(~self.seen)[:LISTED_IDS])  # first-seen order
        return JoinStatistics(len(self.index), int(self.seen.sum()), self.duplicates, tuple(unmatched))


@dataclass
class WindowScan:
    plan: ScanPlan
    join: JoinStatistics | None = None
    drift: DriftCalculator | None = None
    joined: JoinResult | None = None
    errors: dict[str, BaseException] = field(default_factory=dict)
    probes: int = 0  # the toolkit's probe rows (event id dmm-probe-...) in the window, left out of every consumer
    listed_probes: int = 0  # probe rows in every row of the listed files (what the footers' row count includes)
    engine: dict[str, Any] = field(default_factory=lambda: {"name": "local"})
    # while watchers are fed a frame: its drift bin counts per column (what drift.update just added), or None
    batch_counts: dict[str, np.ndarray] | None = None

    def result(self, what: str) -> Any:
        """The drift calculator or the join result; the error its consumer met, re-raised."""
        if what in self.errors:
            raise self.errors[what]
        return self.drift if what == "drift" else self.joined


def window_scan(ctx: CheckContext, *, preview: bool = False, drift_config: dict | None = None,
                batch_rows: int | None = None) -> WindowScan:
    """The memoised pass; run again (and memoised) only when the preview needs what the first pass did not feed."""
    planned: ScanPlan = ctx.memo.get(PLAN_KEY, ScanPlan)
    scan: WindowScan | None = ctx.memo.peek(SCAN_KEY)
    if scan is not None and (not preview or (scan.plan.preview and scan.plan.drift_config == drift_config)):
        return scan
    if preview:
        plan = replace(planned, preview=True, drift_config=drift_config,
                       batch_rows=batch_rows or planned.batch_rows)
    else:
        plan = planned
    scan = backend_for(plan.engine).run(ctx, plan)
    ctx.memo.put(SCAN_KEY, scan)
    return scan


def _truth(ctx: CheckContext) -> GroundTruth | None:
    try:
        truth = ctx.ground_truth
    except Exception:  # reported by the join-rate check and the quality preview themselves
        return None
    return None if truth is None or truth.frame.empty else truth


def _training_ok(ctx: CheckContext) -> bool:
    result = ctx.results.get(CheckName.TRAINING_SET)
    return result is None or result.ok


def drift_columns(ctx: CheckContext) -> dict[str, str]:
    """Every feature, and the prediction (captured under the target's name), with its value type."""
    schema = ctx.schema
    columns: dict[str, str] = {f.name: f.value_type for f in schema.features}
    columns[schema.prediction_name] = schema.target_value_type
    return columns


def _consumers(ctx: CheckContext, scan: WindowScan, truth: GroundTruth | None, index: LabelIndex | None
               ) -> tuple[DriftCalculator | None, dict[str, str], GroundTruthJoiner | None]:
    engine_ready(ctx, drift_only=True)
    from dmm.analysis.drift import DriftCalculator
    from dmm.analysis.join import GroundTruthJoiner

    drift: DriftCalculator | None = None
    joiner: GroundTruthJoiner | None = None
    columns: dict[str, str] = {}
    if not scan.plan.preview or not _training_ok(ctx):
        return drift, columns, joiner
    try:
        columns = drift_columns(ctx)
        drift = DriftCalculator(scan.plan.drift_config).fit(ctx.training_frame, columns)
    except Exception as error:
        scan.errors["drift"] = error
    if truth is not None:
        try:
            joiner = GroundTruthJoiner(truth.frame, truth.id_column, truth.label_column,
                                       label_name=truth.joined_label(ctx.schema.prediction_name), index=index,
                                       moment_columns=TIMESTAMP_COLUMNS)
        except Exception as error:
            scan.errors["quality"] = error
    return drift, columns, joiner


def use_returning_pool() -> None:
    """Arrow's buffers from jemalloc, freed pages returned at once, unless ARROW_DEFAULT_MEMORY_POOL chooses: the
    default mimalloc keeps freed pages per thread, ~70 MB more peak RSS at 10M rows (bench/step6.py, issue 14)."""
    import os

    import pyarrow as pa

    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(0)
    except (NotImplementedError, AttributeError):  # a pyarrow built without jemalloc keeps its default
        pass


def run_scan(ctx: CheckContext, plan: ScanPlan) -> WindowScan:
    """One read of each file of the window, feeding every consumer the plan asks for."""
    scan = WindowScan(plan)
    engine_ready(ctx, drift_only=True)
    use_returning_pool()
    from dmm.analysis.join import LabelIndex, normalise_ids

    truth = _truth(ctx)
    index = LabelIndex(truth.frame[truth.id_column]) if truth is not None else None  # normalised once
    counter = JoinCounter(index) if index is not None else None
    drift, columns, joiner = _consumers(ctx, scan, truth, index)
    scan.drift = drift  # the fitted bins, for watchers
    watched = [c for watcher in plan.watchers for c in watcher.columns]
    whole_rows = any(watcher.name == "own_metrics" for watcher in plan.watchers)  # --metric gets every column read
    prediction = ctx.schema.prediction_name if joiner is not None else ""
    # the timestamps ride along, for the report's quality over time (dmm/analysis/timeline.py)
    quality_columns = [ID_COLUMN, prediction, PROBABILITY_COLUMN, *TIMESTAMP_COLUMNS] if joiner is not None else []
    start, end = _aware(ctx.start), _aware(ctx.end)
    pending = Pending()

    def feed(batches: list[Any], counted: np.ndarray) -> None:
        """Consumers fed once per ~batch_rows rows, however many files they came from (counts add up). Only the
        drift columns and the ids become pandas; the quality join takes its (labelled) rows from Arrow."""
        import pyarrow as pa

        # one chunk per column when many small files' batches came together: each later step pays per chunk; a few
        # large batches are not copied (at 10M rows over 168 files the copy added ~10 MB of peak RSS)
        window = pa.Table.from_batches(batches)
        if len(batches) > COMBINE_CHUNKS:
            window = window.combine_chunks()
        batches.clear()  # the pending list lets its batches go (the reader's current hand-off may still hold some)
        probes = probe_row_mask(window, ID_COLUMN)  # probes are counted apart and fed to no consumer
        if probes is not None:
            is_probe = probes.to_numpy(zero_copy_only=False)
            scan.probes += int(is_probe.sum())
            scan.listed_probes += int((is_probe & ~counted).sum())  # edge rows were counted from their ids
            window, counted = window.filter(pa.array(~is_probe)), counted[~is_probe]
        if not (counter or drift or joiner or plan.watchers) or window.num_rows == 0:
            return
        names = window.column_names
        ids = None
        if index is not None and ID_COLUMN in names:
            keys = normalise_ids(window.column(ID_COLUMN).to_pandas()).to_numpy(dtype=object, na_value=None)
            ids = index.look_up(keys)  # hashed and looked up once for the count and the join
        if counter is not None and ids is not None:
            counter.add(ids.positions[~counted])
        present = [c for c in columns if c in names]
        watching = names if whole_rows else [c for c in watched if c in names] if plan.watchers else []
        wanted = list(dict.fromkeys([*present, *watching]))
        frame = window.select(wanted).to_pandas() if wanted else None
        scan.batch_counts = None
        if drift is not None and present and frame is not None:
            before = [drift.production_counts[name].copy() for name in present] if plan.watchers else None
            fed = _feed(scan, "drift", drift.update, frame if len(wanted) == len(present) else frame[present])
            if fed and before is not None:  # the time view takes this batch's own counts
                scan.batch_counts = {name: drift.production_counts[name] - counts
                                     for name, counts in zip(present, before, strict=True)}
        if joiner is not None and ids is not None and prediction in names:
            chunk = window.select([c for c in dict.fromkeys(quality_columns) if c in names])
            _feed(scan, "quality", joiner.add, chunk, ID_COLUMN, ids=ids)
        for watcher in plan.watchers:
            _feed(scan, watcher.name, watcher.add, frame if frame is not None else window.to_pandas(), scan)
        scan.batch_counts = None

    footers = ctx.prediction_footers
    progress = plan.progress(len(ctx.prediction_files)) if plan.progress and ctx.prediction_files else None
    read = [*columns, *quality_columns, *watched]

    depth = read_ahead(plan)
    parts = next((w.part_of for w in plan.watchers if hasattr(w, "part_of")), None)

    def part_of(item: PredictionFile) -> Any:
        return parts(item.hour) if parts is not None else None

    reading = window_batches(ctx.prediction_files, footers, read, start, end, plan.batch_rows, depth <= 0, part_of)
    try:
        for pairs, done in prefetched(reading, depth):
            for batch, edge_keys, part in pairs:
                if edge_keys is not None:
                    scan.listed_probes += count_probe_ids(edge_keys)
                if counter is not None and index is not None and edge_keys is not None:
                    counter.add(index.look_up(edge_keys).positions)  # the check counts every row of the file
                if batch.num_rows:
                    pending.add(batch, edge_keys is not None, plan.batch_rows, feed, part)
            if progress is not None:
                for _ in range(done):
                    progress.update()
        pending.flush(feed)
    finally:
        if progress is not None:
            progress.close()
    scan.join = counter.statistics() if counter is not None else None
    scan.drift = drift
    if joiner is not None:
        scan.joined = _feed(scan, "quality", joiner.result)
    return scan


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _feed(scan: WindowScan, what: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call one consumer; its first error is kept for its reader and it is fed nothing more."""
    if what in scan.errors:
        return None
    try:
        return function(*args, **kwargs)
    except Exception as error:
        scan.errors[what] = error
        return None
