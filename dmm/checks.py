"""Step 6's chain of checks: config, training set, endpoint, capture, DMM model, data source, predictions, labels.

Each check is a small function of a ``CheckContext`` returning a ``CheckResult`` (PASS, WARN, FAIL or SKIP) with
the fix for a FAIL. Checks run in order; a check whose prerequisite failed is SKIP and says which one. What a
check learns (the config, the schema, the training data, the prediction files, the labels) stays on the context,
memoised, for the later checks and the preview.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import pandas as pd
import pyarrow.parquet as pq

from dmm import dataio
from dmm.analysis.readers import iter_parquet_batches
from dmm.errors import AuthError, DmmError, NotFoundError, UsageError
from dmm.prediction_files import (CAPTURE_COLUMNS, PredictionFile, default_roots, list_prediction_files,
                                  resolve_prediction_dir, summarize)
from dmm.redact import redact
from dmm.schema import MonitoringSchema

PASS, WARN, FAIL, SKIP = "PASS", "WARN", "FAIL", "SKIP"
ID_COLUMN = "event_id"
FULL_JOIN_RATE = 1.0
ACCEPTABLE_JOIN_RATE = 0.9  # below this the labels mostly belong to other predictions: FAIL
LISTED_IDS = 10
ID_SCAN_BATCH_ROWS = 200_000


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str
    detail: str
    fix: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in (PASS, WARN)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix,
                "facts": dict(self.facts)}


@dataclass(frozen=True)
class CheckInputs:
    """What the user told step 6."""

    config_path: str | None = None
    env: Mapping[str, str] | None = None
    prediction_data: str | Path | None = None
    ground_truth_file: str | Path | None = None
    start: datetime | None = None
    end: datetime | None = None


def _load_config(path: str | None, env: Mapping[str, str] | None) -> Any:
    from dmm.config import load_config
    return load_config(path, env)


def _monitor_client(config: Any) -> Any:
    from dmm.monitor import ModelMonitorClient
    return ModelMonitorClient(config.model_monitor_api_url, config.api_key())


def _model_api_client(config: Any) -> Any:
    from dmm.model_api import ModelApiClient
    return ModelApiClient(config.model_api_url, config.model_api_token(), config.model_api_timeout)


def _training_set_version(name: str, number: int) -> Any:
    from domino_data.training_sets.client import get_training_set_version
    return get_training_set_version(name, number)


def _datasources() -> Any:
    import dmm.datasources
    return dmm.datasources


def _ledger(path: Path) -> Any:
    from dmm.ledger import Ledger
    return Ledger.load(path)


@dataclass
class Services:
    """How checks reach the outside world; tests swap in fakes."""

    load_config: Callable[[str | None, Mapping[str, str] | None], Any] = _load_config
    monitor: Callable[[Any], Any] = _monitor_client
    model_api: Callable[[Any], Any] = _model_api_client
    training_set_version: Callable[[str, int], Any] = _training_set_version
    datasources: Callable[[], Any] = _datasources
    ledger: Callable[[Path], Any] = _ledger
    load_schema: Callable[[Path], MonitoringSchema] = MonitoringSchema.load


class Memo:
    """Values computed once on first use and shared by the checks and the preview."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def get(self, key: str, compute: Callable[[], Any]) -> Any:
        if key not in self._values:
            self._values[key] = compute()
        return self._values[key]


@dataclass
class GroundTruth:
    frame: pd.DataFrame  # every label row, in arrival order (the last row of an id wins)
    id_column: str
    label_column: str
    sources: tuple[str, ...]


@dataclass
class CheckContext:
    inputs: CheckInputs = field(default_factory=CheckInputs)
    services: Services = field(default_factory=Services)
    memo: Memo = field(default_factory=Memo)
    results: dict[str, CheckResult] = field(default_factory=dict)

    # The window every look at predictions uses.
    @property
    def end(self) -> datetime:
        return self.inputs.end or datetime.now(timezone.utc)

    @property
    def start(self) -> datetime:
        return self.inputs.start or self.end - timedelta(days=7)

    @property
    def config(self) -> Any:
        return self.memo.get("config", lambda: self.services.load_config(self.inputs.config_path, self.inputs.env))

    @property
    def schema(self) -> MonitoringSchema:
        return self.memo.get("schema", lambda: self.services.load_schema(Path(self.config.schema_path)))

    @property
    def monitor(self) -> Any:
        return self.memo.get("monitor", lambda: self.services.monitor(self.config))

    @property
    def model(self) -> dict[str, Any]:
        return self.memo.get("model", lambda: self.monitor.get_model(self.config.model_monitor_id))

    @property
    def variables(self) -> list[dict[str, Any]]:
        return self.memo.get("variables", lambda: list(self.monitor.variables(self.config.model_monitor_id) or []))

    @property
    def training_version(self) -> Any:
        schema = self.schema
        return self.memo.get("training_version", lambda: self.services.training_set_version(
            schema.training_set_name, schema.training_set_version))

    @property
    def training_frame(self) -> pd.DataFrame:
        return self.memo.get("training_frame", lambda: self.training_version.load_raw_pandas())

    @property
    def env(self) -> Mapping[str, str]:
        return os.environ if self.inputs.env is None else self.inputs.env

    @property
    def prediction_dir(self) -> Path | None:
        def compute() -> Path | None:
            return resolve_prediction_dir(self.inputs.prediction_data, self.model_version_id(),
                                          default_roots(self.env))
        return self.memo.get("prediction_dir", compute)

    @property
    def prediction_files(self) -> list[PredictionFile]:
        def compute() -> list[PredictionFile]:
            folder = self.prediction_dir
            return list_prediction_files(folder, self.start, self.end) if folder else []
        return self.memo.get("prediction_files", compute)

    @property
    def ledger(self) -> Any:
        return self.memo.get("ledger", lambda: self.services.ledger(Path(self.config.ledger_path)))

    @property
    def ground_truth(self) -> GroundTruth | None:
        return self.memo.get("ground_truth", lambda: load_ground_truth(self))

    def model_version_id(self) -> str | None:
        """The endpoint version whose captures the DMM model watches, when DMM says so."""
        try:
            details = (self.model or {}).get("sourceDetails") or {}
        except DmmError:
            return None
        return details.get("workbenchModelVersionId")

    def variable_named(self, variable_type: str) -> list[dict[str, Any]]:
        return [v for v in self.variables if v.get("variableType") == variable_type]


# ---------------------------------------------------------------------------------------------------------------
# The checks, in the order the user's path builds the chain.

def check_config(ctx: CheckContext) -> CheckResult:
    config = ctx.config
    return CheckResult("config", PASS, f"{config.source_path} is valid")


def check_api_key(ctx: CheckContext) -> CheckResult:
    ctx.config.api_key()
    try:
        datasources = ctx.memo.get("dmm_datasources", lambda: list(ctx.monitor.list_datasources() or []))
    except AuthError as error:
        return CheckResult("api key", FAIL, f"Model Monitor refused the API key ({error.message})",
                           "Set DOMINO_USER_API_KEY to your key from Domino's Account Settings > API Key "
                           "(or name the variable holding it in domino.user_api_key_env)")
    return CheckResult("api key", PASS, f"Model Monitor at {ctx.config.model_monitor_api_url} accepted it "
                                        f"({len(datasources)} monitoring data source(s) visible)")


def check_training_set(ctx: CheckContext) -> CheckResult:
    schema = ctx.schema
    label = f"{schema.training_set_name} v{schema.training_set_version}"
    if schema.training_set_version is None:
        return CheckResult("training set", FAIL, f"{ctx.config.schema_path} names no training set version",
                           "Run 1_register_training_set.py again; it records the version it created")
    try:
        version = ctx.training_version
        frame = ctx.training_frame
    except DmmError:
        raise
    except Exception as error:  # the training-set client raises its own ServerException / ValueError
        return CheckResult("training set", FAIL, f"Training set {label} could not be read: {redact(str(error))}",
                           "Check the name and version in monitoring_schema.json, or run "
                           "1_register_training_set.py to register it")
    problems = schema_mismatches(schema, list(frame.columns), list(getattr(version, "target_columns", []) or []))
    if problems:
        return CheckResult("training set", FAIL, f"Training set {label} does not match monitoring_schema.json: "
                           + "; ".join(problems),
                           "Run 1_register_training_set.py again so the schema and the training set agree")
    return CheckResult("training set", PASS, f"{label} has {len(frame):,} rows and every schema column "
                       f"({len(schema.features)} features, target {schema.target})",
                       facts={"rows": len(frame)})


def schema_mismatches(schema: MonitoringSchema, columns: Sequence[str], target_columns: Sequence[str]) -> list[str]:
    problems = []
    missing = [name for name in schema.feature_names if name not in columns]
    if missing:
        problems.append(f"feature column(s) missing: {', '.join(missing)}")
    if schema.target not in columns:
        problems.append(f"target column {schema.target} missing")
    if target_columns and list(target_columns) != [schema.target]:
        problems.append(f"its target columns are {list(target_columns)}, the schema's target is {schema.target}")
    return problems


def check_endpoint(ctx: CheckContext) -> CheckResult:
    client = ctx.services.model_api(ctx.config)
    prediction = client.predict(ctx.schema.sample_row())
    ctx.memo.get("sample_prediction", lambda: prediction)
    if not prediction.event_id:
        return CheckResult("endpoint", FAIL, "The endpoint answered but returned no event_id",
                           "Return the event_id from predict() as prediction_capture_example.py does: "
                           "ground truth can only be matched to predictions by it")
    return CheckResult("endpoint", PASS, f"answered in {prediction.latency_s:.2f} s with event_id "
                                         f"{prediction.event_id}", facts={"event_id": str(prediction.event_id)})


def check_capture_names(ctx: CheckContext) -> CheckResult:
    schema = ctx.schema
    expected = [*schema.feature_names, schema.prediction_name]
    files = ctx.prediction_files
    if files:
        found = list(summarize(files).columns)
        where = f"the captured prediction data in {ctx.prediction_dir}"
    else:
        found = [v["name"] for v in ctx.variables if v.get("variableType") in ("feature", "prediction")]
        where = "the DMM model's variables (no captured prediction files found; pass --prediction-data to check them)"
    missing = [name for name in expected if name not in found]
    failed_ingestions = unresolved_columns(ctx)
    if failed_ingestions and not missing:
        missing = [name for name in expected if name in failed_ingestions] or sorted(failed_ingestions)
        where = (f"Model Monitor's ingestion (UNRESOLVED_COLUMN on {len(failed_ingestions)} column(s)): "
                 "the captured data")
    ignored = set(CAPTURE_COLUMNS) | set(schema.key_columns) | set(schema.excluded_columns)
    if schema.timestamp_column:
        ignored.add(schema.timestamp_column)
    unexpected = [name for name in found if name not in expected and name not in ignored
                  and not name.startswith(("__", "$$"))]
    if missing:
        detail = f"{where} lack {', '.join(missing)}"
        if unexpected:
            detail += f" and have unexpected column(s) {', '.join(unexpected)}"
        return CheckResult("capture names", FAIL, detail,
                           f"In predict(), capture features under the training set's names "
                           f"({', '.join(schema.feature_names)}) and the prediction as '{schema.prediction_name}' "
                           f"(predict_names == [target]); copy the lines of prediction_capture_example.py and redeploy",
                           facts={"missing": missing, "unexpected": unexpected})
    if unexpected:
        return CheckResult("capture names", WARN, f"{where} also have column(s) {', '.join(unexpected)}, "
                           "which DMM ignores", facts={"unexpected": unexpected})
    return CheckResult("capture names", PASS, f"{where} use the schema's {len(schema.features)} feature names and "
                                              f"the prediction '{schema.prediction_name}'")


def unresolved_columns(ctx: CheckContext) -> set[str]:
    """Columns Model Monitor reported missing from captured files when it tried to ingest them."""
    try:
        errors = ctx.model.get("ingestionErrors") or []
    except DmmError:
        return set()
    return {str(column) for error in errors if error.get("errorCode") == "UNRESOLVED_COLUMN"
            for column in error.get("columns") or []}


def check_dmm_model(ctx: CheckContext) -> CheckResult:
    model_id = ctx.config.model_monitor_id
    try:
        model = ctx.model
    except NotFoundError:
        return CheckResult("DMM model", FAIL, f"Model Monitor has no model with id {model_id}",
                           "Copy the model id from Model Monitor (the endpoint's Monitoring tab) into "
                           "model_monitor.model_id, or rerun 3_setup_monitoring.py")
    schema = ctx.schema
    features = {v["name"]: v.get("valueType") for v in ctx.variable_named("feature")}
    predictions = {v["name"]: v.get("valueType") for v in ctx.variable_named("prediction")}
    missing = [name for name in schema.feature_names if name not in features]
    unexpected = [name for name in features if name not in schema.feature_names]
    problems = []
    if missing:
        problems.append(f"feature(s) missing: {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected feature(s): {', '.join(unexpected)}")
    if schema.prediction_name not in predictions:
        problems.append(f"no prediction variable named {schema.prediction_name} "
                        f"(has {', '.join(predictions) or 'none'})")
    wrong_types = [f"{f.name} is {features[f.name]}, schema says {f.value_type}"
                   for f in schema.features if f.name in features and features[f.name] not in (None, f.value_type)]
    name = model.get("name") or model_id
    if problems:
        return CheckResult("DMM model", FAIL, f"{name} ({model_id}) variables do not match the schema: "
                           + "; ".join(problems),
                           "Variables cannot be edited in DMM: attach the training set named in "
                           "monitoring_schema.json to the endpoint version again (Domino UI) so DMM recreates "
                           "the monitor, then update model_monitor.model_id",
                           facts={"missing": missing, "unexpected": unexpected})
    if wrong_types:
        return CheckResult("DMM model", WARN, f"{name} value types differ: {'; '.join(wrong_types)}",
                           "Mark categorical columns in the training set's monitoring metadata "
                           "(1_register_training_set.py --categorical)")
    return CheckResult("DMM model", PASS, f"{name} ({model_id}) has the schema's {len(features)} features and "
                                          f"the prediction {schema.prediction_name}")


def check_data_source(ctx: CheckContext) -> CheckResult:
    name = ctx.config.ground_truth_datasource
    in_domino = ctx.services.datasources().exists(name)
    dmm_source = ctx.monitor.datasource_named(name)
    if not in_domino:
        return CheckResult("data source", FAIL, f"Domino has no data source named {name} available to this project",
                           f"Create an object-store data source named {name} in Domino (Data > Data Sources) and "
                           "add it to this project, or set data_sources.ground_truth to an existing one")
    if not dmm_source:
        return CheckResult("data source", FAIL, f"{name} exists in Domino but not in Model Monitor",
                           f"Add it in Model Monitor > Monitoring Data Sources under the same name {name} "
                           f"(type {ctx.config.ground_truth_datasource_type}); DMM reads ground truth only from there")
    return CheckResult("data source", PASS, f"{name} is in Domino and in Model Monitor")


def check_predictions(ctx: CheckContext) -> CheckResult:
    window = f"{_fmt(ctx.start)} – {_fmt(ctx.end)}"
    count = traffic_count(ctx.monitor.prediction_traffic(ctx.config.model_monitor_id, ctx.start, ctx.end))
    summary = summarize(ctx.prediction_files)
    if summary.rows:
        span = f", hours {_fmt(summary.first_hour)} to {_fmt(summary.last_hour)}" if summary.first_hour else ""
        detail = f"{summary.rows:,} predictions in {summary.files} file(s) in {ctx.prediction_dir}{span}"
        facts = {"rows": summary.rows, "files": summary.files, "monitor_rows": count, "source": "prediction_data"}
        if not count:
            return CheckResult("predictions ingested", WARN, detail + f"; Model Monitor counts none in {window}",
                               "Model Monitor ingests captured predictions daily; if they stay missing, fix the "
                               "'capture names' check first (a column the monitor expects is not captured)",
                               facts=facts)
        return CheckResult("predictions ingested", PASS, detail + f"; Model Monitor counts {count:,}", facts=facts)
    if count:
        return CheckResult("predictions ingested", PASS, f"Model Monitor counts {count:,} predictions in {window}",
                           facts={"rows": count, "source": "monitor"})
    return CheckResult("predictions ingested", FAIL, f"No ingested predictions in {window}",
                       "Send traffic to the endpoint (4_generate_predictions.py), then wait for Domino's hourly "
                       "capture export and daily ingestion (in the sandbox: python -m sandbox ingest); widen the "
                       "window with --days if they are older")


def check_ground_truth_registered(ctx: CheckContext) -> CheckResult:
    schema = ctx.schema
    registered = ledger_ground_truth(ctx.ledger)
    variables = [v for v in ctx.variable_named("ground_truth")
                 if v.get("forPredictionOutput") in (None, schema.prediction_name)]
    if not variables:
        detail = "Model Monitor has no ground-truth variable"
        if registered:
            detail += f" although the ledger lists {len(registered)} registration(s)"
        return CheckResult("ground truth registered", FAIL, detail + f" for prediction {schema.prediction_name}",
                           "Run 5_upload_ground_truth.py; it registers the labels with forPredictionOutput "
                           f"= {schema.prediction_name}")
    variable = variables[0]
    if not registered:
        return CheckResult("ground truth registered", WARN, f"Model Monitor has ground truth {variable['name']}, "
                           "but this project's ledger lists no uploads",
                           "Run 5_upload_ground_truth.py from this folder so the files it registers are recorded",
                           facts={"label_variable": variable["name"]})
    return CheckResult("ground truth registered", PASS, f"{len(registered)} file(s) registered as "
                       f"{variable['name']} for {schema.prediction_name}",
                       facts={"label_variable": variable["name"], "files": len(registered)})


def check_join_rate(ctx: CheckContext) -> CheckResult:
    truth = ctx.ground_truth
    if truth is None or truth.frame.empty:
        return CheckResult("join rate", SKIP, "No ground-truth rows to join",
                           "Pass --ground-truth FILE, or upload labels with 5_upload_ground_truth.py")
    if not ctx.prediction_files:
        return CheckResult("join rate", SKIP, "No captured prediction files to join the labels to",
                           "Pass --prediction-data DIR (the mounted prediction_data dataset)")
    stats = join_statistics(truth, ctx.prediction_files)
    facts = stats.to_dict()
    detail = (f"{stats.matched:,} of {stats.labelled:,} labelled event_ids match a prediction "
              f"({stats.rate:.1%}) from {', '.join(truth.sources)}")
    if stats.duplicates:
        detail += f"; {stats.duplicates:,} id(s) labelled more than once (latest label wins)"
    if stats.unmatched:
        detail += f"; unmatched: {', '.join(stats.unmatched_sample)}"
    if stats.rate >= FULL_JOIN_RATE:
        return CheckResult("join rate", PASS, detail, facts=facts)
    fix = ("Write the event_id the endpoint returned into the ground truth (4_generate_predictions.py does); "
           "ids the endpoint never returned can never match")
    if stats.rate >= ACCEPTABLE_JOIN_RATE:
        return CheckResult("join rate", WARN, detail, "Labels for predictions outside the window or not yet "
                           "ingested match later; " + fix, facts=facts)
    return CheckResult("join rate", FAIL, detail, fix, facts=facts)


CHECKS: tuple[tuple[Callable[[CheckContext], CheckResult], str, tuple[str, ...]], ...] = (
    (check_config, "config", ()),
    (check_api_key, "api key", ("config",)),
    (check_training_set, "training set", ("config",)),
    (check_endpoint, "endpoint", ("training set",)),
    (check_capture_names, "capture names", ("training set", "api key")),
    (check_dmm_model, "DMM model", ("training set", "api key")),
    (check_data_source, "data source", ("api key",)),
    (check_predictions, "predictions ingested", ("DMM model",)),
    (check_ground_truth_registered, "ground truth registered", ("DMM model",)),
    (check_join_rate, "join rate", ("training set", "data source")),
)


def run_checks(ctx: CheckContext) -> list[CheckResult]:
    """Every check in order; errors become FAIL results, never exceptions."""
    results = []
    for check, name, prerequisites in CHECKS:
        blocked = [p for p in prerequisites if not ctx.results[p].ok]
        if blocked:
            result = CheckResult(name, SKIP, f"skipped because {', '.join(blocked)} did not pass")
        else:
            result = _run_one(check, name, ctx)
        ctx.results[name] = result
        results.append(result)
    return results


def _run_one(check: Callable[[CheckContext], CheckResult], name: str, ctx: CheckContext) -> CheckResult:
    try:
        return check(ctx)
    except DmmError as error:
        return CheckResult(name, FAIL, redact(error.message), redact(error.advice))
    except Exception as error:  # a check reports, it never crashes the step
        return CheckResult(name, FAIL, f"unexpected {type(error).__name__}: {redact(str(error))}",
                           "This looks like a bug in the toolkit or an unexpected server answer; rerun with the "
                           "same inputs and report it with this message")


def any_failed(results: Iterable[CheckResult]) -> bool:
    return any(r.status == FAIL for r in results)


# ---------------------------------------------------------------------------------------------------------------
# Facts the checks need.

def traffic_count(answer: Any) -> int:
    """The number of predictions in a traffic answer, whatever its exact shape (domino-api.md §2.2 is vague)."""
    if answer is None:
        return 0
    if isinstance(answer, bool):
        return 0
    if isinstance(answer, (int, float)):
        return int(answer)
    if isinstance(answer, list):
        return sum(traffic_count(item) for item in answer)
    if isinstance(answer, dict):
        for key in ("count", "total", "totalCount", "totalQueries", "queries", "numberOfPredictions", "predictionCount", "rowCount",
                    "matchedRowCount", "numberOfRows"):
            if isinstance(answer.get(key), (int, float)) and not isinstance(answer.get(key), bool):
                return int(answer[key])
        for key in ("traffic", "data", "items", "buckets", "predictionTraffic", "counts"):
            if key in answer:
                return traffic_count(answer[key])
        return sum(traffic_count(v) for v in answer.values() if isinstance(v, (list, dict)))
    return 0


def ledger_ground_truth(ledger: Any) -> dict[str, dict[str, Any]]:
    """The ground-truth files the ledger says were registered with DMM: ``{key: record}``."""
    return dict(getattr(ledger, "registrations", None) or {})


def ledger_uploads(ledger: Any) -> dict[str, dict[str, Any]]:
    """The ground-truth files the ledger says were uploaded: ``{key: {datasource, rows, ...}}``, oldest first."""
    uploads = dict(getattr(ledger, "uploads", None) or {})
    return dict(sorted(uploads.items(), key=lambda item: (str(item[1].get("uploaded_at", "")), item[0])))


def load_ground_truth(ctx: CheckContext) -> GroundTruth | None:
    """Labels from --ground-truth FILE, else the files the ledger lists, downloaded from the data source."""
    frames, sources = [], []
    if ctx.inputs.ground_truth_file:
        path = Path(ctx.inputs.ground_truth_file)
        frames.append(dataio.read_table(path))
        sources.append(str(path))
    else:
        datasources = ctx.services.datasources()
        for key, record in ledger_uploads(ctx.ledger).items():
            name = record.get("datasource") or ctx.config.ground_truth_datasource
            frames.append(read_bytes_table(key, datasources.download_bytes(name, key)))
            sources.append(key)
    if not frames:
        return None
    frame = pd.concat(frames, ignore_index=True)
    id_column = _first_present(frame.columns, [v["name"] for v in _safe_variables(ctx, "row_identifier")] + [ID_COLUMN])
    label_candidates = [v["name"] for v in _safe_variables(ctx, "ground_truth")]
    label_candidates += [ctx.schema.ground_truth_column, getattr(ctx.config, "test_label_column", "") or "",
                         ctx.schema.target, "actual_target",
                         "ground_truth", "label"]
    label_column = _first_present(frame.columns, label_candidates)
    if id_column is None or label_column is None:
        raise UsageError(f"The ground truth ({', '.join(sources)}) needs an event_id column and a label column; "
                         f"it has {', '.join(map(str, frame.columns))}",
                         f"Write event_id and {ctx.schema.ground_truth_column} columns "
                         "(4_generate_predictions.py does)")
    frame[id_column] = frame[id_column].astype("string")
    return GroundTruth(frame, id_column, label_column, tuple(sources))


def _safe_variables(ctx: CheckContext, variable_type: str) -> list[dict[str, Any]]:
    try:
        return ctx.variable_named(variable_type)
    except DmmError:
        return []


def _first_present(columns: Iterable[Any], candidates: Iterable[str]) -> str | None:
    present = set(map(str, columns))
    return next((c for c in candidates if c and c in present), None)


def read_bytes_table(name: str, data: bytes) -> pd.DataFrame:
    if name.lower().endswith(".parquet"):
        return pd.read_parquet(io.BytesIO(data))
    return pd.read_csv(io.BytesIO(data))


@dataclass(frozen=True)
class JoinStatistics:
    labelled: int  # distinct labelled ids
    matched: int
    duplicates: int
    unmatched_sample: tuple[str, ...]

    @property
    def unmatched(self) -> int:
        return self.labelled - self.matched

    @property
    def rate(self) -> float:
        return self.matched / self.labelled if self.labelled else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"labelled_ids": self.labelled, "matched_ids": self.matched, "unmatched_ids": self.unmatched,
                "duplicate_ids": self.duplicates, "join_rate": round(self.rate, 6),
                "unmatched_sample": list(self.unmatched_sample)}


def join_statistics(truth: GroundTruth, files: Sequence[PredictionFile]) -> JoinStatistics:
    """Match labelled ids against the predictions' event_ids, streaming only that column; memory ~ the labels."""
    ids = truth.frame[truth.id_column].dropna()
    counts = ids.value_counts()
    wanted = set(counts.index)
    seen: set[str] = set()
    for item in files:
        if ID_COLUMN not in pq.ParquetFile(item.path).schema_arrow.names:
            continue
        for chunk in iter_parquet_batches(item.path, [ID_COLUMN], ID_SCAN_BATCH_ROWS):
            seen.update(wanted.intersection(chunk[ID_COLUMN].dropna().astype(str)))
    unmatched = [i for i in ids.drop_duplicates() if i not in seen]
    return JoinStatistics(len(wanted), len(seen), int((counts > 1).sum()), tuple(unmatched[:LISTED_IDS]))


def _fmt(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "?"
