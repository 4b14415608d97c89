"""Step 4: labelled test traffic. Send sampled rows (features only) to the Model API, keep each response's event_id
with the row's label, and write that ground truth locally and to the data source under a key unique to the run.
"""

from __future__ import annotations

import datetime
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dmm.dataio import check_output_dir, read_table
from dmm.errors import AuthError, DmmError, Interrupted, UsageError
from dmm.files import describe_os_error, json_safe, write_atomic
from dmm.ground_truth import DEFAULT_PREFIX, model_folder
from dmm.journal import (
    LabelJournal,
    finish_journal,
    finish_journals,
    finished_lines,
    journal_folder,
    read_journal,
)
from dmm.journal import ground_truth_csv as journal_csv
from dmm.redact import redact
from dmm.schema import MonitoringSchema
from dmm.sending import RateLimiter, _reached_model, _sigterm_as_interrupt

if TYPE_CHECKING:
    import pandas as pd

    from dmm.config import MonitoringConfig
    from dmm.services import Services

LOCAL_FOLDER = "ground_truth"  # under the current folder, unless TrafficOptions.output_dir says otherwise
MAX_ERRORS_SHOWN = 5


@dataclass(frozen=True)
class TrafficOptions:
    count: int = 100
    file: str | None = None
    label_column: str | None = None
    concurrency: int = 4
    rate: float | None = None
    seed: int | None = None
    timeout: float | None = None
    dry_run: bool = False
    upload: bool = True
    output_dir: str | None = None


@dataclass
class Outcome:
    index: int
    label: Any
    event_id: str | None = None
    timestamp: str | None = None
    latency_s: float | None = None
    error: str | None = None
    sent: bool = True  # False: stopped (Ctrl-C/SIGTERM) before it was sent

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class TrafficSummary:
    sent: int
    succeeded: int
    failed: int
    p50_s: float | None
    p95_s: float | None
    throughput_rps: float
    elapsed_s: float


@dataclass
class TrafficResult:
    run_id: str
    label_column: str
    target: str
    source_file: Path
    example_payload: dict[str, Any]
    dry_run: bool = False
    summary: TrafficSummary | None = None
    ground_truth_path: Path | None = None
    ground_truth_key: str | None = None
    datasource: str | None = None
    upload_error: DmmError | None = None
    local_error: str | None = None
    errors: list[str] = field(default_factory=list)
    journal_path: Path | None = None
    label_rows: int = 0
    recovered: list[str] = field(default_factory=list)
    ground_truth_column: str = ""  # the label column as written to the ground-truth file (<target>_gt)
    resampled: str = ""  # the note when --count is beyond the file's labelled rows (sampled with replacement)


# ---- inputs ----------------------------------------------------------------------------------------------------

plain = json_safe  # a JSON-safe Python value: numpy/pandas scalars unwrapped, NaN/inf/NA -> None, times ISO


def feature_rows(frame: pd.DataFrame, feature_names: Sequence[str]) -> list[dict[str, Any]]:
    """Only the schema's features, in order, as JSON-safe dicts."""
    columns = [frame[name].tolist() for name in feature_names]
    return [{name: plain(value) for name, value in zip(feature_names, values, strict=True)}
            for values in zip(*columns, strict=True)]


def validate_inputs(schema: MonitoringSchema, frame: pd.DataFrame, label_column: str, source: Path) -> None:
    if label_column not in frame.columns:
        raise UsageError(f"The label column {label_column!r} is not in {source}",
                         f"Pass --label-column with one of: {', '.join(map(str, frame.columns))}",
                         code="column-missing")
    if label_column in schema.feature_names:
        raise UsageError(f"The label column {label_column!r} is one of the model's features",
                         "Pass --label-column naming the column that holds the true labels", code="label-is-a-feature")
    missing = [name for name in schema.feature_names if name not in frame.columns]
    if missing:
        raise UsageError(f"{source} lacks the feature column(s) {', '.join(missing)} of the monitoring schema",
                         "Use test data with the same columns as the training set", code="column-missing")


def new_run_id(now: datetime.datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def ground_truth_key(prefix: str, model_id: str, run_id: str, now: datetime.datetime) -> str:
    """``<prefix>/<model_id>/<YYYY-MM-DD UTC>/<run_id>.csv``: unique per run, dated for step 5's window."""
    return f"{model_folder(prefix, model_id)}{now:%Y-%m-%d}/{run_id}.csv"


# ---- sending ---------------------------------------------------------------------------------------------------

def send_all(predict: Callable[[Mapping[str, Any]], Any], payloads: Sequence[Mapping[str, Any]],
             labels: Sequence[Any], concurrency: int = 4, rate: float | None = None,
             on_result: Callable[[Outcome], None] | None = None, *, event_ids: Sequence[str] | None = None,
             journal: LabelJournal | None = None) -> list[Outcome]:
    """Call ``predict`` (a ``ModelApiClient.predict``) for every payload on ``concurrency`` threads.

    ``event_ids``: sent with each payload as ``event_id``, so a retried request is the same prediction. ``journal``:
    each label is written down before its request leaves and again when its answer arrives. Ctrl-C or SIGTERM stops
    sending at once (no queued request starts; the ones in flight keep their journal lines) and is re-raised."""
    limiter = RateLimiter(rate)
    stop = threading.Event()

    def one(index: int) -> Outcome:
        limiter.wait()
        outcome = Outcome(index=index, label=labels[index])
        if stop.is_set():
            outcome.error, outcome.sent = "not sent (interrupted)", False
            return outcome
        payload = payloads[index]
        if event_ids is not None:
            payload = {**payload, "event_id": event_ids[index]}
            if journal is not None:
                journal.sent(index, event_ids[index], labels[index])
        try:
            prediction = predict(payload)
        except AuthError:
            if journal is not None:
                journal.failed(index, reached=False)
            raise  # every other request would be refused the same way: stop, don't count
        except Exception as error:
            if journal is not None:
                journal.failed(index, reached=_reached_model(error))
            # a DmmError says it plainly; a transport error we did not map is named by its type
            outcome.error = str(error) if isinstance(error, DmmError) else f"{type(error).__name__}: {error}"
        else:
            outcome.event_id = prediction.event_id
            outcome.latency_s = prediction.latency_s
            result = prediction.result if isinstance(prediction.result, dict) else {}
            outcome.timestamp = str(result.get("timestamp") or _utc_iso())
            if journal is not None:
                journal.answered(index, outcome.event_id, outcome.timestamp)
        return outcome

    outcomes: list[Outcome] = []
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="traffic")
    try:
        with _sigterm_as_interrupt(stop):
            futures = [pool.submit(one, i) for i in range(len(payloads))]
            for future in as_completed(futures):
                outcome = future.result()
                outcomes.append(outcome)
                if on_result:
                    on_result(outcome)
            if stop.is_set():  # SIGTERM came, and its KeyboardInterrupt was lost in a finaliser
                raise KeyboardInterrupt
    except BaseException:  # AuthError, Ctrl-C, SIGTERM: nothing new is sent
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    outcomes.sort(key=lambda o: o.index)
    return outcomes


def summarise(outcomes: Sequence[Outcome], elapsed_s: float) -> TrafficSummary:
    import numpy as np

    latencies = [o.latency_s for o in outcomes if o.ok and o.latency_s is not None]
    p50, p95 = (float(v) for v in np.percentile(latencies, [50, 95])) if latencies else (None, None)
    succeeded = sum(1 for o in outcomes if o.ok)
    return TrafficSummary(sent=len(outcomes), succeeded=succeeded, failed=len(outcomes) - succeeded, p50_s=p50,
                          p95_s=p95, throughput_rps=len(outcomes) / elapsed_s if elapsed_s > 0 else 0.0,
                          elapsed_s=elapsed_s)


def _utc_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


# ---- the step --------------------------------------------------------------------------------------------------

def check_options(options: TrafficOptions) -> None:
    """The flags alone: raise ``UsageError`` before any file is read or service contacted."""
    from dmm.args import MAX_CONCURRENCY, MAX_COUNT, MAX_RATE, MAX_SEED, MAX_TIMEOUT, check_range

    check_range("--count", options.count, 1, MAX_COUNT)
    check_range("--concurrency", options.concurrency, 1, MAX_CONCURRENCY)
    if options.rate is not None:
        check_range("--rate", options.rate, 0, MAX_RATE, low_open=True)
    if options.seed is not None:
        check_range("--seed", options.seed, 0, MAX_SEED)
    if options.timeout is not None:
        check_range("--timeout", options.timeout, 0, MAX_TIMEOUT, low_open=True)


def check_config(config: MonitoringConfig, options: TrafficOptions) -> None:
    """What step 4 needs from the config and the environment (the token, the upload target); no request is sent."""
    if not config.model_api_url:
        raise UsageError("model_api.endpoint_url is not set",
                         "Run 3_setup_monitoring.py, or set it in monitoring_config.json", code="config-missing-key")
    config.model_api_token()
    if options.upload and not options.dry_run:
        if not config.ground_truth_datasource:
            raise UsageError("data_sources.ground_truth is not set, so the ground truth cannot be uploaded",
                             "Set it in monitoring_config.json, or pass --no-upload to keep the file local",
                             code="config-missing-key")
        if not config.model_monitor_id:
            raise UsageError("model_monitor.model_id is not set, so the ground truth has no place in the data source",
                             "Set it in monitoring_config.json, or pass --no-upload to keep the file local",
                             code="config-missing-key")


def generate_traffic(config: MonitoringConfig, options: TrafficOptions, services: Services | None = None, *,
                     on_result: Callable[[Outcome], None] | None = None,
                     now: datetime.datetime | None = None) -> TrafficResult:
    """Validate everything (flags, config, then files, then the data source), then send, write the ground truth
    locally, upload it and record it in the ledger. ``services`` defaults to ``DominoServices(config)``."""
    check_options(options)
    check_config(config, options)
    if services is None:
        from dmm.services import DominoServices

        services = DominoServices(config)
    schema = MonitoringSchema.load(config.schema_path)
    file = options.file or config.test_data_path
    if not file:
        raise UsageError("No test data file was given",
                         "Pass --file PATH, or set test_data.path in monitoring_config.json", code="file-not-given")
    source = Path(file)
    label_column = options.label_column or config.test_label_column or schema.target
    frame = read_table(source)
    validate_inputs(schema, frame, label_column, source)
    frame = frame[frame[label_column].notna()]
    if frame.empty:
        raise UsageError(f"Every value of the label column {label_column!r} in {source} is empty",
                         "Pass test data with labels", code="column-empty")
    local = Path(options.output_dir) if options.output_dir else Path.cwd() / LOCAL_FOLDER
    if not options.dry_run and (local.is_file() or local.is_symlink() and not local.exists()):
        raise UsageError(f"{local} is a file (or a broken link), but step 4 keeps its ground truth in a folder of that "
                         "name", "Move or rename it, or run step 4 from another folder", code="output-dir-not-a-folder")
    if options.upload and not options.dry_run:
        services.datasources.datasource(config.ground_truth_datasource)  # fails now, not after sending every request

    now = now or datetime.datetime.now(datetime.timezone.utc)
    run_id = new_run_id(now)
    sample = frame.sample(n=options.count, replace=options.count > len(frame), random_state=options.seed)
    payloads = feature_rows(sample, schema.feature_names)
    labels = [plain(v) for v in sample[label_column].tolist()]
    result = TrafficResult(run_id=run_id, label_column=label_column, target=schema.target, source_file=source,
                           example_payload={"data": payloads[0]}, dry_run=options.dry_run,
                           ground_truth_column=schema.ground_truth_column)
    if options.count > len(frame):
        result.resampled = (f"Note: --count {options.count} is more than the {len(frame)} labelled rows of {source}: "
                            "rows are sampled with replacement, so some are sent more than once (each with its own "
                            "event_id)")
    if options.dry_run:
        return result

    folder = local
    if options.output_dir:
        check_output_dir(folder, "TrafficOptions.output_dir")
    ledger = services.ledger
    journals = journal_folder(ledger.path)
    key = None
    if options.upload:
        done = finish_journals(journals, services.datasources, ledger, config.ground_truth_datasource)
        result.recovered = finished_lines(done)
        key = ground_truth_key(config.ground_truth_prefix or DEFAULT_PREFIX, config.model_monitor_id, run_id, now)
    # before the first request: a folder that cannot hold the journal stops the step here, with nothing sent
    journal = LabelJournal.create(journals, run_id, model_id=config.model_monitor_id,
                                  datasource=config.ground_truth_datasource if options.upload else None, key=key,
                                  label_column=schema.ground_truth_column)
    result.journal_path = journal.path
    try:  # the journal's lock is held until its labels are uploaded: recovery elsewhere leaves it alone
        client = services.model_api(timeout=options.timeout, pool_size=max(10, options.concurrency))
        started = time.perf_counter()
        event_ids = [str(uuid.uuid4()) for _ in payloads]
        try:
            outcomes = send_all(client.predict, payloads, labels, options.concurrency, options.rate, on_result,
                                event_ids=event_ids, journal=journal)
        except KeyboardInterrupt:
            journal.close("interrupted")
            kept = read_journal(journal.path)
            count = len(kept.labels()) if kept else 0
            raise Interrupted(f"Stopped: no further request was sent; the labels of the {count} request(s) sent are "
                              f"kept in {journal.path}",
                              "Run python 5_upload_ground_truth.py (or this step again) to upload and register them") \
                from None
        except AuthError:
            journal.close("refused")
            raise
        journal.close("done")
        result.summary = summarise(outcomes, time.perf_counter() - started)
        result.errors = [o.error for o in outcomes if o.error]
        contents = read_journal(journal.path)
        rows = contents.labels() if contents else []
        result.label_rows = len(rows)
        if not rows:
            return result

        content = journal_csv(rows, schema.ground_truth_column)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            result.ground_truth_path = write_atomic(folder / f"{run_id}.csv", content)
        except OSError as error:  # the labels are safe in the journal; say so and go on to the upload
            message, advice = describe_os_error(error, folder / f"{run_id}.csv")
            result.local_error = f"{message}. The labels are kept in {journal.path}. {advice}."
        if not options.upload or contents is None:
            return result

        result.datasource = config.ground_truth_datasource
        try:
            finished = finish_journal(contents, services.datasources, ledger, check_stored=False)
        except DmmError as error:
            result.upload_error = error
            return result
        if finished.action in ("uploaded", "found", "recorded"):
            result.ground_truth_key = key
        return result
    finally:
        journal.release()


def dry_run_lines(result: TrafficResult, count: int, endpoint_url: str) -> list[str]:
    """What a dry run would do, for a script to print (the example body follows)."""
    return [*([result.resampled] if result.resampled else []),
            f"Dry run: would send {count} requests with rows from {result.source_file} to {endpoint_url}, writing the "
            f"labels of column {result.label_column!r} to the ground-truth file as column "
            f"{result.ground_truth_column!r}. Example request body:"]


def summary_lines(result: TrafficResult, endpoint_url: str) -> list[str]:
    """What a finished (not dry) run did, as lines for a script to print: counts, latency, failures, the file."""
    summary = result.summary
    if summary is None:
        return []
    lines = [f"Sent {summary.sent} requests to {endpoint_url}: {summary.succeeded} succeeded, {summary.failed} failed."]
    if summary.p50_s is not None and summary.p95_s is not None:
        lines.append(f"Latency p50 {summary.p50_s * 1000:.0f} ms, p95 {summary.p95_s * 1000:.0f} ms; "
                     f"throughput {summary.throughput_rps:.1f} requests/s over {summary.elapsed_s:.1f} s.")
    lines += [f"  failed: {redact(error)}" for error in list(dict.fromkeys(result.errors))[:MAX_ERRORS_SHOWN]]
    extra = result.label_rows - summary.succeeded
    if extra > 0:
        lines.append(f"{extra} failed request(s) may have reached the model (its answer was lost or it timed out): "
                     "their labels are kept too, since each was sent with its own event_id")
    if result.ground_truth_path:
        lines.append(f"Ground truth ({result.label_rows} rows): {result.ground_truth_path}")
    if result.local_error:
        lines.append(f"Warning: {redact(result.local_error)}")
    return [*result.recovered, *([result.resampled] if result.resampled else []), *lines]


def upload_failed_lines(result: TrafficResult) -> list[str]:
    """What to do when the upload failed: the journal is finished by step 5 (never re-register a file by hand)."""
    return [f"The labels are kept in the label journal {result.journal_path}; python 5_upload_ground_truth.py "
            "uploads (or, if the upload did arrive, recognises) and registers them. Do not register the local file "
            "with --file as well: step 5 would find the same labels registered and skip them."]
