"""Step 5: register ground-truth files with Model Monitor, each exactly once.

Candidates are the CSV files under ``<prefix>/<model_id>/`` in the ground-truth data source plus the ledger's
uploads not yet registered, within a window of UTC dates taken from each key's date folder; or one file the
user made (validated, uploaded, then registered). The first registration declares the ``row_identifier`` and
``ground_truth`` variables; later ones send ``datasetDetails`` only. Which one is decided from the model's
variables as Model Monitor reports them, corrected by its answer (``dmm.ground_truth_register``). Dataset names
derive from the file key, so reruns repeat nothing."""

from __future__ import annotations

import datetime
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dmm import dates
from dmm.dataio import read_table
from dmm.datasources import subfolder_of
from dmm.errors import ConflictError, DmmError, NotFoundError, UsageError
from dmm.ground_truth_content import (
    RELABEL_NOTE,
    changed_since_upload,
    checked_frame,
    compare_with_ledger,
    read_ground_truth,
    subset_csv,
)
from dmm.ground_truth_content import result_lines as result_lines  # the script's name for it
from dmm.ground_truth_register import (
    NAME_UNSAFE,
    dataset_name,
    ground_truth_variables,
    register_with_fallback,
    registration_payload,
    variables_payload,
)
from dmm.journal import content_digest, finish_journals, finished_lines, journal_folder
from dmm.schema import MonitoringSchema

if TYPE_CHECKING:
    from dmm.config import MonitoringConfig
    from dmm.ledger import Ledger
    from dmm.monitor import ModelMonitorClient
    from dmm.services import Services

DEFAULT_HOURS = 24 * 7
DEFAULT_ID_COLUMN = "event_id"
DEFAULT_PREFIX = "ground_truth"
_DATE_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INGESTED_STATUSES = {"prediction", "ground_truth", "predictions", "active"}


@dataclass(frozen=True)
class GroundTruthOptions:
    hours: float | None = None
    start_date: str | None = None
    end_date: str | None = None
    file: str | None = None
    id_column: str = DEFAULT_ID_COLUMN
    label_column: str | None = None
    dry_run: bool = False
    allow_before_ingestion: bool = False
    relabel: bool = False


@dataclass(frozen=True)
class DateWindow:
    start: datetime.date
    end: datetime.date

    def __contains__(self, day: datetime.date) -> bool:
        return self.start <= day <= self.end

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d} to {self.end:%Y-%m-%d} (UTC)"


@dataclass
class Registration:
    key: str
    dataset_name: str
    payload: dict[str, Any]
    declares_variables: bool
    registered: bool = False
    already_registered: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    upload: bytes | None = None  # bytes to upload first (a --file, or the new rows of a partly registered file)
    covers: str | None = None  # the file whose new rows this registers
    adjustments: list[str] = field(default_factory=list)  # re-sends after Model Monitor's expected 400s


@dataclass
class GroundTruthResult:
    window: DateWindow | None
    dry_run: bool
    registrations: list[Registration] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    uploaded_key: str | None = None
    refused: list[tuple[str, str]] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    subfolder: str = ""  # the Domino data source's subfolder: Model Monitor reads <subfolder>/<key>

    @property
    def nothing_to_do(self) -> bool:
        return not self.registrations


# ---- names, dates, payloads ------------------------------------------------------------------------------------

def parse_date(text: str, flag: str) -> datetime.date:
    try:
        return dates.parse_date(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not a date", f"Write it as YYYY-MM-DD, e.g. {flag} 2024-05-01",
                         code="date-invalid") from None


def date_window(options: GroundTruthOptions, now: datetime.datetime) -> DateWindow:
    today = now.astimezone(datetime.timezone.utc).date()
    if options.start_date or options.end_date:
        if options.hours is not None:
            raise UsageError("--hours cannot be combined with --start-date/--end-date", "Pass one or the other",
                             code="flag-conflict")
        end = parse_date(options.end_date, "--end-date") if options.end_date else today
        start = parse_date(options.start_date, "--start-date") if options.start_date else end
        if start > end:
            raise UsageError(f"--start-date {start} is after --end-date {end}", "Swap them", code="date-order")
        return DateWindow(start, end)
    hours = DEFAULT_HOURS if options.hours is None else options.hours
    from dmm.args import MAX_HOURS, check_range

    check_range("--hours", hours, 0, MAX_HOURS, low_open=True)
    return DateWindow((now - datetime.timedelta(hours=hours)).astimezone(datetime.timezone.utc).date(), today)


def key_date(key: str) -> datetime.date | None:
    """The UTC date of a key's ``YYYY-MM-DD`` folder (the last one in the path)."""
    for part in reversed(key.split("/")[:-1]):
        if _DATE_FOLDER.match(part):
            try:
                return dates.parse_date(part)
            except ValueError:
                return None
    return None


def model_folder(prefix: str, model_id: str) -> str:
    """``<prefix>/<model_id>/``: where steps 4 and 5 keep a model's ground-truth files, in UTC date folders."""
    return "/".join(p for p in (prefix.strip("/"), model_id) if p) + "/"


# ---- a file the user made ----------------------------------------------------------------------------------------

def prepare_user_file(path: str | Path, schema: MonitoringSchema, id_column: str,
                      label_column: str | None) -> tuple[bytes, int]:
    """Validate a user's ground-truth file; the CSV to upload and its row count.

    The upload always uses the names every batch is registered under (``event_id`` and the schema's
    ground-truth column): Model Monitor declares the variables once, so later files must carry the same names."""
    frame = read_table(path)
    if label_column is None:
        label_column = next((c for c in (schema.ground_truth_column, schema.target) if c in frame.columns),
                            schema.ground_truth_column)
    checked_frame(frame, str(path), schema, id_column, label_column)
    ids = frame[id_column].astype(str)
    with_timestamp = "timestamp" in frame.columns and "timestamp" not in (id_column, label_column)
    columns = [id_column, label_column] + (["timestamp"] if with_timestamp else [])
    out = frame[columns].copy()
    out[id_column] = ids
    out = out.rename(columns={id_column: DEFAULT_ID_COLUMN, label_column: schema.ground_truth_column})
    buffer = io.StringIO()
    out.to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8"), len(out)


def user_file_key(folder: str, path: str | Path, content: bytes, today: datetime.date) -> str:
    digest = hashlib.sha256(content).hexdigest()[:12]
    stem = NAME_UNSAFE.sub("_", Path(path).stem).strip("_") or "ground_truth"
    return f"{folder}{today:%Y-%m-%d}/{stem}-{digest}.csv"


# ---- the step ----------------------------------------------------------------------------------------------------

def predictions_ingested(monitor: ModelMonitorClient, model_id: str) -> bool | None:
    """True once Model Monitor has ingested predictions for the model, False if not yet, None if it can't tell."""
    model = monitor.get_model(model_id)
    status = str((model or {}).get("ingestionStatus") or "").strip().lower()
    if not status:
        return None
    return status in INGESTED_STATUSES


def register_ground_truth(config: MonitoringConfig, options: GroundTruthOptions, services: Services | None = None,
                          *, now: datetime.datetime | None = None) -> GroundTruthResult:
    """Validate (config, flags, environment, then files), then register; ``services`` defaults to
    ``DominoServices(config)``."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    model_id = config.model_monitor_id
    datasource = config.ground_truth_datasource
    if not model_id or not datasource:
        raise UsageError("model_monitor.model_id and data_sources.ground_truth must both be set",
                         "Run 3_setup_monitoring.py, or set them in monitoring_config.json", code="config-missing-key")
    window = None if options.file else date_window(options, now)
    config.credentials()  # fail before reading files when there are no Domino credentials
    schema = MonitoringSchema.load(config.schema_path)
    id_column = DEFAULT_ID_COLUMN
    label_column = schema.ground_truth_column
    folder = model_folder(config.ground_truth_prefix or DEFAULT_PREFIX, model_id)
    user_file = (prepare_user_file(options.file, schema, options.id_column or DEFAULT_ID_COLUMN, options.label_column)
                 if options.file else None)
    if services is None:
        from dmm.services import DominoServices

        services = DominoServices(config)
    ledger, datasources = services.ledger, services.datasources
    result = GroundTruthResult(window=window, dry_run=options.dry_run)
    if not options.dry_run:  # what an interrupted or failed step 4 left: upload (or find) it first
        finished = finish_journals(journal_folder(ledger.path), datasources, ledger, datasource)
        result.recovered = finished_lines(finished)

    listed = datasources.list_keys(datasource, folder)
    find = getattr(datasources, "datasource", None)
    result.subfolder = subfolder_of(find(datasource)) if find is not None else ""
    file_name = Path(options.file).name if options.file else ""
    if user_file is not None:
        content, rows = user_file
        key = user_file_key(folder, file_name, content, now.date())
        suffix = key.rsplit("/", 1)[1]
        same = [k for k in dict.fromkeys([*ledger.registrations, *ledger.uploads, *listed])
                if k.startswith(folder) and k.endswith(suffix)]
        done = next((k for k in same if ledger.is_registered(k)), None)
        if done:
            result.skipped.append((done, "this file's content is already registered"))
            return result
        key = same[0] if same else key
        candidates = [key]
    else:
        assert window is not None  # a window is made whenever no --file is given
        candidates = _candidates(listed, ledger, folder, datasource, window, result)

    plans: list[Registration] = []
    for key in candidates:
        plan = _plan(key, user_file[0] if user_file is not None else None, options, config, schema, ledger,
                     datasources, listed, result)
        # after a crash between uploading a file's new rows and registering them, that upload is a candidate of its
        # own and its file plans the same upload again: one registration per key, the one that knows what it covers
        if plan is None:
            continue
        twin = next((n for n, planned in enumerate(plans) if planned.key == plan.key), None)
        if twin is None:
            plans.append(plan)
        elif plan.covers and not plans[twin].covers:
            plans[twin] = plan
    if not plans:
        return result

    monitor = services.monitor
    ingested = predictions_ingested(monitor, model_id)
    if ingested is not True:
        problem = ("Model Monitor has not ingested any predictions for this model yet" if ingested is False else
                   "Could not confirm that Model Monitor has ingested predictions for this model")
        advice = ("labels registered before their predictions are ingested will not match; wait for the daily "
                  "ingestion (check the model's Overview in Model Monitor), then run this step")
        if ingested is False and not options.allow_before_ingestion:
            raise DmmError(problem, f"Nothing was registered: {advice} (or pass --before-ingestion to register now)",
                           code="predictions-not-ingested")
        result.warnings.append(f"{problem}: {advice}.")

    existing = ground_truth_variables(monitor.variables(model_id), schema.prediction_name)
    if existing and existing[0].get("name") != label_column:
        raise UsageError(f"Model Monitor already labels {schema.prediction_name!r} with the ground-truth column "
                         f"{existing[0].get('name')!r}, but the file's label column is {label_column!r}",
                         f"Name the label column {existing[0].get('name')!r} in the file",
                         code="ground-truth-name-clash")
    declared = bool(existing)

    for registration in plans:
        key = registration.key
        variables = None if declared else variables_payload(schema, id_column, label_column)
        registration.payload = registration_payload(config, key, variables, result.subfolder)
        registration.declares_variables = variables is not None
        result.registrations.append(registration)
        if options.dry_run:
            declared = True
            continue
        if registration.upload is not None and key not in listed:
            datasources.upload_bytes(datasource, key, registration.upload)
            run_id = f"file:{file_name}" if user_file is not None else f"new-rows:{registration.covers}"
            ledger.record_upload(key, datasource, len(registration.labels), run_id=run_id,
                                 digest=content_digest(registration.upload))
            ledger.save()
            result.uploaded_key = key
        try:  # the tutorial's two expected 400s: re-sent with fewer variables (ground_truth_register)
            attempt = register_with_fallback(monitor, model_id, registration.payload)
        except ConflictError as error:
            if error.status != 409:  # 409: this dataset name exists already, which is what we wanted
                raise
            registration.already_registered = True
            declared = bool(ground_truth_variables(monitor.variables(model_id), schema.prediction_name))
        else:  # what was finally sent, and why it differs from the first payload
            registration.registered, registration.payload, declared = True, attempt.payload, True
            registration.declares_variables, registration.adjustments = bool(attempt.declared), attempt.adjustments
        ledger.record_registration(key, registration.dataset_name, model_id, labels=registration.labels)
        if registration.covers:
            ledger.record_covered(registration.covers, model_id, by=f"its new rows, registered as {key}")
        ledger.save()
    return result


def _plan(key: str, user_content: bytes | None, options: GroundTruthOptions, config: MonitoringConfig,
          schema: MonitoringSchema, ledger: Ledger, datasources: Any, listed: list[str],
          result: GroundTruthResult) -> Registration | None:
    """Read and check one candidate file, and decide what of it to register (None: nothing, with the reason said)."""
    model_id = config.model_monitor_id
    try:
        content = user_content if user_content is not None else datasources.download_bytes(
            config.ground_truth_datasource, key)
    except NotFoundError:
        result.refused.append((key, "the ledger records its upload, but the data source does not have it"))
        return None
    try:
        changed = changed_since_upload(ledger, key, content)
        if changed:
            raise UsageError(f"{key}: {changed}", "", code="file-changed")
        frame = read_ground_truth(content, key, schema)
    except UsageError as error:
        if user_content is not None:
            raise
        result.refused.append((key, error.message))
        return None
    check = compare_with_ledger(frame, ledger, model_id, schema.ground_truth_column)
    if check.conflicts and not options.relabel:
        event_id, old, new = check.conflicts[0]
        problem = (f"{len(check.conflicts)} event id(s) in it already have a different registered label (e.g. "
                   f"{event_id}: {old!r} registered, {new!r} here)")
        if user_content is not None:
            raise UsageError(f"{options.file}: {problem}", f"Fix the labels, or: {RELABEL_NOTE}", code="label-conflict")
        result.refused.append((key, f"{problem}; {RELABEL_NOTE}"))
        return None
    positions = sorted(check.new + (check.conflict_positions if options.relabel else []))
    if not positions:
        result.skipped.append((key, f"all {check.same} label(s) in it are already registered (same event ids, same "
                                    "labels): nothing registered"))
        if not options.dry_run:
            ledger.record_covered(key, model_id, by="the same labels, registered before")
            ledger.save()
        return None
    wanted = set(positions)
    labels = {ids: label for position, (ids, label) in enumerate(check.labels.items()) if position in wanted}
    upload, covers, register_key = user_content, None, key
    if len(positions) < len(frame):  # register only the rows not registered yet, as a file of their own
        upload = subset_csv(frame, positions)
        register_key = f"{key[:-4] if key.lower().endswith('.csv') else key}-new-{content_digest(upload)[:12]}.csv"
        covers = key
        if ledger.is_registered(register_key):
            return None
    return Registration(register_key, dataset_name(register_key), {}, declares_variables=False, labels=labels,
                        upload=upload, covers=covers)


def _candidates(listed: list[str], ledger: Ledger, folder: str, datasource: str, window: DateWindow,
                result: GroundTruthResult) -> list[str]:
    from_ledger = [k for k in ledger.pending_registrations()
                   if k.startswith(folder) and ledger.uploads[k].get("datasource", datasource) == datasource]
    keys = sorted({k for k in [*listed, *from_ledger] if k.lower().endswith(".csv")})
    chosen = []
    for key in keys:
        day = key_date(key)
        if ledger.is_registered(key):
            continue
        if day is None:
            result.skipped.append((key, "no YYYY-MM-DD folder in its key; register it with --file"))
        elif day not in window:
            continue
        else:
            chosen.append(key)
    return sorted(chosen, key=lambda k: (key_date(k), k))
