"""Step 6's chain of checks, in the order the user's path builds it: config, API key, training set, endpoint,
capture names, DMM model, data source, ingested predictions, registered ground truth, join rate.

Each check is a function of a ``CheckContext`` returning a ``CheckResult`` with the fix for a FAIL; it is registered
on ``CHAIN`` under its ``CheckName`` with the checks it needs (a check whose prerequisite failed is SKIP).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from dmm.checks.context import CheckContext
from dmm.checks.ground_truth import join_statistics
from dmm.checks.names import CheckName
from dmm.checks.probes import PROBE_EVENT_PREFIX, PROBE_SKIPPED, check_datasource, probe_endpoint
from dmm.checks.registry import Chain
from dmm.checks.result import FAIL, PASS, SKIP, WARN, CheckResult
from dmm.checks.scan import window_scan
from dmm.errors import AuthError, DmmError, NotFoundError
from dmm.prediction_files import CAPTURE_COLUMNS, PredictionDataSummary, summarize
from dmm.redact import redact
from dmm.schema import MonitoringSchema
from dmm.training_set_rerun import monitor_training_version

FULL_JOIN_RATE = 1.0
ACCEPTABLE_JOIN_RATE = 0.9  # below this the labels mostly belong to other predictions: FAIL

CHAIN = Chain()


def run_checks(ctx: CheckContext) -> list[CheckResult]:
    """Every check of the chain in order; errors become FAIL results, never exceptions."""
    return CHAIN.run(ctx)


@CHAIN.register(CheckName.CONFIG)
def check_config(ctx: CheckContext) -> CheckResult:
    config = ctx.config
    return CheckResult(CheckName.CONFIG, PASS, f"{config.source_path} is valid")


@CHAIN.register(CheckName.API_KEY, needs=[CheckName.CONFIG])
def check_api_key(ctx: CheckContext) -> CheckResult:
    """The auth method in use, the host of every service, and whether Model Monitor accepts the identity.

    The probe is ``GET /model?model_id=`` on the configured model, a route every user may call on their own model
    (not a permission-gated listing): a 404 still proves the identity; a 403 is "may not", not "bad key".
    """
    from dmm import hosts

    credentials = getattr(ctx.services, "credentials", None) or ctx.config.credentials()
    where = hosts.per_service(ctx.config.domino_base_url, ctx.config.model_monitor_api_url, ctx.config.env)
    facts = {"auth_method": credentials.method, "auth_source": credentials.source, "hosts": where}
    places = "; ".join(f"{service} at {url or '(not set)'}" for service, url in where.items())
    used = f"Auth: {credentials.describe()}; {places}"
    model_id = ctx.config.model_monitor_id
    try:
        _ = ctx.model
    except NotFoundError:
        pass  # the identity was accepted; the DMM model check reports the missing model
    except AuthError as error:
        if error.status == 403:
            return CheckResult(CheckName.API_KEY, FAIL, f"{used}. Model Monitor accepted {credentials.describe()} "
                               f"but this identity may not read model {model_id} (HTTP 403)",
                               "Ask the model's owner to add this identity as a collaborator in Model Monitor, or "
                               "run as a user who owns the model", facts=facts)
        return CheckResult(CheckName.API_KEY, FAIL, f"{used}. Model Monitor at {ctx.config.model_monitor_api_url} "
                           f"refused {credentials.describe()} ({error.message})",
                           f"{credentials.fix()}. If other services accept it, this Domino's Model Monitor may not "
                           f"take this method: try --auth with another one", facts=facts)
    from dmm.access import custom_metrics_access

    metrics = custom_metrics_access(ctx.services.custom_metrics, model_id, credentials.describe())
    facts["access"] = {hosts.MODEL_MONITOR: "accepted", hosts.CUSTOM_METRICS: metrics.state}
    detail = f"{used}. Model Monitor accepted it; {metrics.sentence()}"
    if not metrics.ok:  # only --push-metrics needs custom metrics: a warning with the fix
        return CheckResult(CheckName.API_KEY, WARN, detail, metrics.fix, facts=facts)
    return CheckResult(CheckName.API_KEY, PASS, detail, facts=facts)


@CHAIN.register(CheckName.TRAINING_SET, needs=[CheckName.CONFIG])
def check_training_set(ctx: CheckContext) -> CheckResult:
    schema = ctx.schema
    label = f"{schema.training_set_name} v{schema.training_set_version}"
    if schema.training_set_version is None:
        return CheckResult(CheckName.TRAINING_SET, FAIL, f"{ctx.config.schema_path} names no training set version",
                           "Run 1_register_training_set.py again; it records the version it created")
    try:
        version = ctx.training_version
        frame = ctx.training_frame
    except DmmError:
        raise
    except Exception as error:  # the training-set client raises its own ServerException / ValueError
        return CheckResult(CheckName.TRAINING_SET, FAIL,
                           f"Training set {label} could not be read: {redact(str(error))}",
                           "Check the name and version in monitoring_schema.json, or run "
                           "1_register_training_set.py to register it")
    problems = schema_mismatches(schema, list(frame.columns), list(getattr(version, "target_columns", []) or []))
    if problems:
        return CheckResult(CheckName.TRAINING_SET, FAIL, f"Training set {label} does not match monitoring_schema.json: "
                           + "; ".join(problems),
                           "Run 1_register_training_set.py again so the schema and the training set agree")
    return CheckResult(CheckName.TRAINING_SET, PASS, f"{label} has {len(frame):,} rows and every schema column "
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


@CHAIN.register(CheckName.ENDPOINT, needs=[CheckName.TRAINING_SET])
def check_endpoint(ctx: CheckContext) -> CheckResult:
    config = ctx.config
    if not ctx.inputs.probe:
        return CheckResult(CheckName.ENDPOINT, SKIP,
                           f"{PROBE_SKIPPED}: no sample row was sent to {config.model_api_url}",
                           "Run without --no-probe to check that the endpoint answers with an event_id (one "
                           f"prediction, event id {PROBE_EVENT_PREFIX}..., left out of step 6's preview)")
    return probe_endpoint(ctx.services.model_api(), ctx.schema, endpoint_url=config.model_api_url,
                          token_env=config.model_api_token_env)


@CHAIN.register(CheckName.CAPTURE_NAMES, needs=[CheckName.TRAINING_SET, CheckName.API_KEY])
def check_capture_names(ctx: CheckContext) -> CheckResult:
    schema = ctx.schema
    expected = [*schema.feature_names, schema.prediction_name]
    files = ctx.prediction_files
    if files:
        found = list(prediction_summary(ctx).columns)
        where = f"the captured prediction data in {ctx.prediction_dir}"
    else:
        found = [v["name"] for v in ctx.variables if v.get("variableType") in ("feature", "prediction")]
        where = "the DMM model's variables (no captured prediction files found; pass --prediction-data to check them)"
    missing = [name for name in expected if name not in found]
    failed_ingestions = unresolved_columns(ctx)
    extra = training_only_columns(ctx)
    uncaptured = [name for name in extra if (files and name not in found) or name in failed_ingestions]
    if uncaptured and not missing:
        return CheckResult(CheckName.CAPTURE_NAMES, FAIL,
                           f"training set {schema.training_set_name} v{schema.training_set_version} has column(s) "
                           f"{', '.join(uncaptured)} that {where if files else 'the capture'} lack(s): Model Monitor "
                           "fails the ingestion of such predictions (UNRESOLVED_COLUMN)",
                           "Run 1_register_training_set.py again (it leaves --key and --timestamp columns out of the "
                           "training set) and make the new version the endpoint's training data (a new endpoint "
                           f"version in Domino), or capture {', '.join(uncaptured)} in predict()",
                           facts={"uncaptured_training_columns": uncaptured})
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
        return CheckResult(CheckName.CAPTURE_NAMES, FAIL, detail,
                           f"In predict(), capture features under the training set's names "
                           f"({', '.join(schema.feature_names)}) and the prediction as '{schema.prediction_name}' "
                           f"(predict_names == [target]); copy the lines of prediction_capture_example.py and redeploy",
                           facts={"missing": missing, "unexpected": unexpected})
    if unexpected:
        return CheckResult(CheckName.CAPTURE_NAMES, WARN, f"{where} also have column(s) {', '.join(unexpected)}, "
                           "which DMM ignores", facts={"unexpected": unexpected})
    reported = "" if ingestion_errors_reported(ctx) else "; ingestion errors: not reported by this Domino"
    return CheckResult(CheckName.CAPTURE_NAMES, PASS,
                       f"{where} use the schema's {len(schema.features)} feature names and "
                       f"the prediction '{schema.prediction_name}'{reported}")


def ingestion_errors_reported(ctx: CheckContext) -> bool:
    """Whether the model record carries ``ingestionErrors`` (undocumented: read best-effort, absence never FAILs)."""
    try:
        return isinstance(ctx.model, dict) and "ingestionErrors" in ctx.model
    except DmmError:
        return False


def training_only_columns(ctx: CheckContext) -> list[str]:
    """The training-set version's columns (not excluded) beyond the features and the target, e.g. key or timestamp
    columns: an endpoint monitor looks for every training-set column in the captured data (issue 10 §3)."""
    try:
        version = ctx.training_version
    except Exception:  # the training-set check reports it
        return []
    excluded = set(getattr(version, "exclude_columns", None) or [])
    known = {*ctx.schema.feature_names, ctx.schema.target}
    return [str(c) for c in getattr(version, "all_columns", None) or [] if c not in excluded and c not in known]


def unresolved_columns(ctx: CheckContext) -> set[str]:
    """Columns Model Monitor reported missing from captured files when it tried to ingest them."""
    try:
        errors = ctx.model.get("ingestionErrors") or []
    except DmmError:
        return set()
    if not isinstance(errors, list):  # an undocumented field in another shape: best effort
        return set()
    return {str(column) for error in errors if isinstance(error, dict) and error.get("errorCode") == "UNRESOLVED_COLUMN"
            for column in error.get("columns") or []}


@CHAIN.register(CheckName.DMM_MODEL, needs=[CheckName.TRAINING_SET, CheckName.API_KEY])
def check_dmm_model(ctx: CheckContext) -> CheckResult:
    model_id = ctx.config.model_monitor_id
    try:
        model = ctx.model
    except NotFoundError:
        return CheckResult(CheckName.DMM_MODEL, FAIL, f"Model Monitor has no model with id {model_id}",
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
        return CheckResult(CheckName.DMM_MODEL, FAIL, f"{name} ({model_id}) variables do not match the schema: "
                           + "; ".join(problems),
                           "Variables cannot be edited in DMM: attach the training set named in "
                           "monitoring_schema.json to the endpoint version again (Domino UI) so DMM recreates "
                           "the monitor, then update model_monitor.model_id",
                           facts={"missing": missing, "unexpected": unexpected})
    used = monitor_training_version(model, schema, model_id)
    if used is not None and schema.training_set_version is not None and used != schema.training_set_version:
        return CheckResult(CheckName.DMM_MODEL, FAIL, f"{name} ({model_id}) uses training set "
                           f"{schema.training_set_name!r} version {used}, but monitoring_schema.json names version "
                           f"{schema.training_set_version}: the preview would compare against another baseline",
                           "Choose the schema's version in the endpoint's Settings > Monitoring and put the new "
                           "monitor's id in the config (3_setup_monitoring.py --model-id), or rerun "
                           f"1_register_training_set.py with the data of version {used}",
                           facts={"monitor_version": used, "schema_version": schema.training_set_version})
    if wrong_types:
        return CheckResult(CheckName.DMM_MODEL, WARN, f"{name} value types differ: {'; '.join(wrong_types)}",
                           "Mark categorical columns in the training set's monitoring metadata "
                           "(1_register_training_set.py --categorical)")
    return CheckResult(CheckName.DMM_MODEL, PASS, f"{name} ({model_id}) has the schema's {len(features)} features and "
                                          f"the prediction {schema.prediction_name}")


@CHAIN.register(CheckName.DATA_SOURCE, needs=[CheckName.API_KEY])
def check_data_source(ctx: CheckContext) -> CheckResult:
    config = ctx.config
    return check_datasource(config.ground_truth_datasource, ctx.services.datasources, ctx.monitor,
                            config.ground_truth_datasource_type, monitor_name=config.model_monitor_datasource)


@CHAIN.register(CheckName.PREDICTIONS, needs=[CheckName.DMM_MODEL])
def check_predictions(ctx: CheckContext) -> CheckResult:
    window = f"{_fmt(ctx.start)} – {_fmt(ctx.end)}"
    count = reported_count(ctx)
    summary = prediction_summary(ctx)
    if count is None:  # the traffic answer's shape is undocumented: best effort, never a FAIL on its own
        unreported = "Model Monitor's prediction count: not reported by this Domino (its traffic answer names none)"
        if summary.rows:
            probes = probe_rows(ctx)
            apart = f" (and {probes:,} probe prediction(s) sent by steps 3 and 6, counted apart)" if probes else ""
            return CheckResult(CheckName.PREDICTIONS, PASS, f"{summary.rows - probes:,} predictions{apart} in "
                               f"{summary.files} file(s) in {ctx.prediction_dir}; {unreported}",
                               facts={"rows": summary.rows - probes, "probe_rows": probes, "files": summary.files,
                                      "monitor_rows": None, "source": "prediction_data"})
        return CheckResult(CheckName.PREDICTIONS, WARN, f"No captured prediction files in {window}; {unreported}",
                           "Check the model's Overview in Model Monitor, or pass --prediction-data with the "
                           "prediction_data folder to check the files", facts={"monitor_rows": None})
    if summary.rows:
        probes = probe_rows(ctx)
        span = f", hours {_fmt(summary.first_hour)} to {_fmt(summary.last_hour)}" if summary.first_hour else ""
        apart = (f" (and {probes:,} probe prediction(s) sent by steps 3 and 6, counted apart and left out of the "
                 "preview)" if probes else "")
        detail = (f"{summary.rows - probes:,} predictions{apart} in {summary.files} file(s) in "
                  f"{ctx.prediction_dir}{span}")
        facts = {"rows": summary.rows - probes, "probe_rows": probes, "files": summary.files, "monitor_rows": count,
                 "source": "prediction_data"}
        if not count:
            return CheckResult(CheckName.PREDICTIONS, WARN, detail + f"; Model Monitor counts none in {window}",
                               "Model Monitor ingests captured predictions daily; if they stay missing, fix the "
                               "'capture names' check first (a column the monitor expects is not captured)",
                               facts=facts)
        theirs = " (it counts probes as predictions)" if probes else ""
        return CheckResult(CheckName.PREDICTIONS, PASS, detail + f"; Model Monitor counts {count:,}{theirs}",
                           facts=facts)
    if count:
        return CheckResult(CheckName.PREDICTIONS, PASS, f"Model Monitor counts {count:,} predictions in {window}",
                           facts={"rows": count, "source": "monitor"})
    return CheckResult(CheckName.PREDICTIONS, FAIL, f"No ingested predictions in {window}",
                       "Send traffic to the endpoint (4_generate_predictions.py), then wait for Domino's hourly "
                       "capture export and daily ingestion (in the sandbox: python -m sandbox ingest); widen the "
                       "window with --days if they are older")


def reported_count(ctx: CheckContext) -> int | None:
    monitor = ctx.monitor
    reader = getattr(monitor, "reported_prediction_count", None)  # test fakes may offer only prediction_count
    if reader is None:
        return int(monitor.prediction_count(ctx.config.model_monitor_id, ctx.start, ctx.end))
    count: int | None = reader(ctx.config.model_monitor_id, ctx.start, ctx.end)
    return count


@CHAIN.register(CheckName.GROUND_TRUTH, needs=[CheckName.DMM_MODEL])
def check_ground_truth_registered(ctx: CheckContext) -> CheckResult:
    schema = ctx.schema
    registered = ctx.ledger.registrations
    variables = [v for v in ctx.variable_named("ground_truth")
                 if v.get("forPredictionOutput") in (None, schema.prediction_name)]
    if not variables:
        detail = "Model Monitor has no ground-truth variable"
        if registered:
            detail += f" although the ledger lists {len(registered)} registration(s)"
        return CheckResult(CheckName.GROUND_TRUTH, FAIL, detail + f" for prediction {schema.prediction_name}",
                           "Run 5_upload_ground_truth.py; it registers the labels with forPredictionOutput "
                           f"= {schema.prediction_name}")
    variable = variables[0]
    if not registered:
        return CheckResult(CheckName.GROUND_TRUTH, WARN, f"Model Monitor has ground truth {variable['name']}, "
                           "but this project's ledger lists no uploads",
                           "Run 5_upload_ground_truth.py from this folder so the files it registers are recorded",
                           facts={"label_variable": variable["name"]})
    return CheckResult(CheckName.GROUND_TRUTH, PASS, f"{len(registered)} file(s) registered as "
                       f"{variable['name']} for {schema.prediction_name}",
                       facts={"label_variable": variable["name"], "files": len(registered)})


@CHAIN.register(CheckName.JOIN_RATE, needs=[CheckName.TRAINING_SET, CheckName.DATA_SOURCE])
def check_join_rate(ctx: CheckContext) -> CheckResult:
    truth = ctx.ground_truth
    if truth is None or truth.frame.empty:
        return CheckResult(CheckName.JOIN_RATE, SKIP, "No ground-truth rows to join",
                           "Pass --ground-truth FILE, or upload labels with 5_upload_ground_truth.py")
    if not ctx.prediction_files:
        return CheckResult(CheckName.JOIN_RATE, SKIP, "No captured prediction files to join the labels to",
                           "Pass --prediction-data DIR (the mounted prediction_data dataset)")
    # one pass over the window's files (dmm/checks/scan.py) also feeds the preview
    stats = window_scan(ctx).join or join_statistics(truth, ctx.prediction_files)
    facts = stats.to_dict()
    detail = (f"{stats.matched:,} of {stats.labelled:,} labelled event_ids match a prediction "
              f"({stats.rate:.1%}) from {', '.join(truth.sources)}")
    if stats.duplicates:
        detail += f"; {stats.duplicates:,} id(s) labelled more than once (latest label wins)"
    if stats.unmatched:
        detail += f"; unmatched: {', '.join(stats.unmatched_sample)}"
    if stats.rate >= FULL_JOIN_RATE:
        return CheckResult(CheckName.JOIN_RATE, PASS, detail, facts=facts)
    fix = ("Write the event_id the endpoint returned into the ground truth (4_generate_predictions.py does); "
           "ids the endpoint never returned can never match")
    if stats.rate >= ACCEPTABLE_JOIN_RATE:
        return CheckResult(CheckName.JOIN_RATE, WARN, detail, "Labels for predictions outside the window or not yet "
                           "ingested match later; " + fix, facts=facts)
    return CheckResult(CheckName.JOIN_RATE, FAIL, detail, fix, facts=facts)


def probe_rows(ctx: CheckContext) -> int:
    """The probe predictions among the listed files' rows, from step 6's one pass (which leaves them out of the
    preview); 0 when that pass cannot read the files (the join-rate check then reports why)."""
    try:
        return window_scan(ctx).listed_probes
    except Exception:
        return 0


def prediction_summary(ctx: CheckContext) -> PredictionDataSummary:
    """Files, rows, hours and columns of the window, from the parquet footers, read once for every check."""
    return ctx.memo.get("prediction_summary", lambda: summarize(ctx.prediction_files,
                                                                      ctx.prediction_footers))


def _fmt(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "?"
