"""Step 3's questions: each carries its prompt, its default and its check; they read and fill the wizard's session
(``dmm.wizard_session``).

A question's default is a function of what the wizard has learnt so far (an existing config, the environment,
earlier answers, Model Monitor's record); its check runs after the common ones (an answer is given when
required, it is not a placeholder) and, when it needs Domino, is skipped with ``--offline``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dmm import setup_checks
from dmm import wizard_discovery as discovery
from dmm.checks.probes import PROBE_SKIPPED
from dmm.checks.result import CheckResult, failed, from_error, passed
from dmm.config import (
    KNOWN_KEYS,
    datasource_type_problem,
    is_env_name,
    is_placeholder,
    monitor_api_url,
    url_problem,
)
from dmm.errors import DmmError, UsageError
from dmm.monitor import ModelMonitorClient
from dmm.redact import register_secret
from dmm.schema import SCHEMA_FILE_NAME
from dmm.wizard_session import WizardSession, display_path

# --- the questions: each carries its default and its check ---------------------------------------------------

Default = Callable[["WizardSession"], str]
Check = Callable[["WizardSession", "Question", str], CheckResult]
Intro = Callable[["WizardSession"], str]


def _ok(s: WizardSession, question: Question, value: str) -> CheckResult:
    return passed(question.key, "")


@dataclass(frozen=True)
class Question:
    key: str            # dotted config key
    option: str         # WizardOptions attribute (its flag is --option-with-dashes)
    prompt: str
    default: Default    # shown in brackets; an empty answer takes it
    check: Check = _ok  # run after the common checks (an answer is given, not a placeholder)
    required: bool = True
    intro: Intro | None = None  # told once before the question is first asked (interactive, live): what exists
    metavar: str = ""   # the flag's argument name and help, for the script's --help
    help: str = ""
    asked: bool = True  # False: not prompted (the flag or the default is checked), asked only when its check fails

    @property
    def flag(self) -> str:
        return "--" + self.option.replace("_", "-")


def _all(*checks: Check) -> Check:
    """The checks in order; the first that fails, else the last result."""
    def run(s: WizardSession, question: Question, value: str) -> CheckResult:
        result = passed(question.key, "")
        for check in checks:
            result = check(s, question, value)
            if not result.ok:
                return result
        return result
    return run


def _live(check: Check) -> Check:
    """A check that needs Domino: skipped (passes silently) with --offline."""
    return lambda s, question, value: check(s, question, value) if s.live else passed(question.key, "")


def _url(s: WizardSession, question: Question, value: str) -> CheckResult:
    problem = url_problem(question.key, value)
    if problem:
        return failed(question.key, problem,
                      f"Answer with the full URL, e.g. https://domino.example.com ({question.flag})")
    return passed(question.key, "")


def _env_name(s: WizardSession, question: Question, value: str) -> CheckResult:
    if not is_env_name(value):
        return failed(question.key, f"{value!r} is not an environment variable name",
                      "Answer with a name such as DOMINO_MODEL_API_TOKEN")
    return passed(question.key, "")


def _domino(s: WizardSession, question: Question, value: str) -> CheckResult:
    monitor_url = monitor_api_url(value, s.base_value("model_monitor.base_url"))
    result = setup_checks.check_domino(value, s.credentials, monitor_url, api_key_env=s.api_key_env, env=s.env,
                                       session=s.checks.session_factory(), timeout=s.timeout,
                                       model_id=s.base_value("model_monitor.model_id"))
    if result.ok and s.credentials is not None:
        s.monitor = ModelMonitorClient(monitor_url, s.credentials, s.timeout, s.checks.session_factory(),
                                       s.api_key_env)
    return result


def _base_url_default(s: WizardSession) -> str:
    """The existing config's URL, else the run's Domino host, but an internal one (``nucleus-frontend…``,
    ``127.0.0.1:<port>``) only after Model Monitor answered there (dmm.hosts)."""
    from dmm import hosts

    if s.base_value("domino.base_url"):
        return s.base_value("domino.base_url")
    for name in ("DOMINO_API_HOST", "DOMINO_USER_HOST"):
        host = s.env.get(name, "").rstrip("/")
        if not host:
            continue
        if not hosts.is_internal(host):
            return host
        if s.live and s.credentials is not None and setup_checks.check_domino(
                host, s.credentials, monitor_api_url(host, s.base_value("model_monitor.base_url")),
                env=s.env, session=s.checks.session_factory(), timeout=s.timeout).ok:
            return host
        s.io.tell(f"{name} is {host}, an internal address where Model Monitor "
                  f"{'does not answer' if s.live else 'is usually not served'}: give Domino's external URL, "
                  "as in your browser's address bar")
    return ""


def _monitor(s: WizardSession) -> ModelMonitorClient:
    if s.monitor is None:  # the Domino URL is asked (and checked) first; its check builds the client
        raise UsageError("Model Monitor was not reached", "Answer the Domino URL question first")
    return s.monitor


def _model_id(s: WizardSession, question: Question, value: str) -> CheckResult:
    result = setup_checks.check_model_id(_monitor(s), value)
    s.model_record = dict(result.facts.get("model") or {}) if result.ok else None
    if result.ok:
        return result
    hint = discovery.model_id_hint(value, discovery.visible_models(s.monitor))
    return discovery.with_hint(result, question.key, hint)


def _schema(s: WizardSession, question: Question, value: str) -> CheckResult:
    result = setup_checks.check_schema(value)
    s.schema = result.facts.get("schema") if result.ok else None
    return result


def _token_set(s: WizardSession, question: Question, value: str) -> CheckResult:
    """The variable is set; interactively, a missing token is asked for with a hidden prompt and kept in the
    run's environment (``s.env``) for its checks, or in the config when the user says so (as ``--store-token``)."""
    if not s.env.get(value) and s.interactive:
        token = s.io.ask_secret(f"{value} is not set. Paste the endpoint's access token (Endpoints > your endpoint "
                                "> Settings > Access; input hidden)").strip()
        if token:
            register_secret(token)
            s.env[value] = token
            if not s.store_token:
                offer = f"Store it in {s.output.name} (mode 0600, as --store-token)? [y/N]"
                s.store_token = s.io.ask(offer, "").strip().lower() in ("y", "yes")
            where = f"stored in {s.output.name}" if s.store_token else (
                f"kept for this run's checks only: export {value} before steps 4-6")
            return passed(question.key, f"token for {value} read; {where}")
    if not s.env.get(value):
        return failed(question.key, f"The environment variable {value} (the Model API access token) is not set",
                      f"Export {value} with the token from the endpoint's Settings > Access page and run the wizard "
                      "again, or add --offline")
    register_secret(s.env[value])
    return passed(question.key, f"{value} is set")


def _endpoint(s: WizardSession, question: Question, value: str) -> CheckResult:
    if s.options.no_probe:
        return passed(question.key, f"Endpoint not probed ({PROBE_SKIPPED}): no sample row was sent; step 6 "
                                    "checks it unless it is given --no-probe too")
    token_env = s.answers["model_api.token_env"]
    result = setup_checks.check_model_api(value, s.env.get(token_env, ""), s.schema, timeout=s.timeout,
                                          token_env=token_env, client_factory=s.checks.model_api_factory)
    if result.ok and result.facts.get("kind"):  # file or registry, as the answer showed: steps 4 and 6 send its shape
        s.answers["model_api.kind"] = str(result.facts["kind"])
    return result


def _datasource(s: WizardSession, question: Question, value: str) -> CheckResult:
    """Domino's side only: Model Monitor's name for the bucket is the next question. A near miss is named from the
    data sources Model Monitor lists (the usual case: both sides carry one name)."""
    result = setup_checks.check_datasource(value, s.checks.datasources, None)
    if result.ok:
        return result
    return discovery.with_hint(result, question.key,
                               discovery.datasource_hint(value, discovery.visible_datasources(s.monitor)))


def _monitor_datasource(s: WizardSession, question: Question, value: str) -> CheckResult:
    from dmm.checks.probes import check_monitor_datasource

    result = check_monitor_datasource(value, _monitor(s), domino_name=s.answers.get("data_sources.ground_truth", ""))
    s.datasource_record = dict(result.facts.get("record") or {}) if result.ok else None
    if result.ok:
        return result
    return discovery.with_hint(result, question.key,
                               discovery.datasource_hint(value, discovery.visible_datasources(s.monitor)))


def _datasource_type(s: WizardSession, question: Question, value: str) -> CheckResult:
    problem = datasource_type_problem(value)
    if problem:
        return failed(question.key, problem, f"Answer with the type Model Monitor shows for the data source "
                                             f"({question.flag})")
    return passed(question.key, f"Data source type {value}")


def _test_file(s: WizardSession, question: Question, value: str) -> CheckResult:
    from dmm.paths import check_readable_file

    if not Path(value).expanduser().is_file():
        if Path(value).expanduser().exists() or Path(value).expanduser().is_symlink():  # a folder, a link loop, ...
            try:
                check_readable_file(Path(value).expanduser(), "The test data", flag=question.flag)
            except DmmError as error:
                return from_error(question.key, error)
        return failed(question.key, f"No test data file at {value}",
                      f"Give the path of a CSV, Parquet or JSON Lines file ({question.flag}), or leave it blank")
    return passed(question.key, f"Test data: {value}")


def _label_column(s: WizardSession, question: Question, value: str) -> CheckResult:
    from dmm import dataio

    test_file = s.answers.get("test_data.path", "")
    try:
        columns = list(dataio.read_table(test_file).columns)
    except DmmError as error:
        return from_error(question.key, error)
    if value not in columns:
        return failed(question.key, f"{test_file} has no column {value!r} (it has "
                                    f"{', '.join(map(str, columns[:20]))})",
                      "Answer with the column that holds the true label (--label-column)")
    return passed(question.key, f"Labels in column {value!r}")


def _schema_default(s: WizardSession) -> str:
    candidates = [s.output.parent / SCHEMA_FILE_NAME, Path.cwd() / SCHEMA_FILE_NAME]
    found = next((path for path in candidates if path.is_file()), candidates[0])
    return s.base_path("schema.path") or display_path(found)


def _datasource_type_default(s: WizardSession) -> str:
    record = s.datasource_record or {}
    from_monitor = record.get("type") or record.get("datasourceType") or record.get("dataSourceType")
    return s.base_value("data_sources.ground_truth_type") or (str(from_monitor).lower() if from_monitor else "s3")


QUESTIONS: tuple[Question, ...] = (
    Question("domino.base_url", "base_url",
             "Domino URL, as you open it in your browser (Model Monitor needs the external URL)",
             _base_url_default,
             _all(_url, _live(_domino)), metavar="URL",
             help="Domino's external URL, as opened in a browser (default: the existing config, else "
                  "DOMINO_API_HOST unless it is an internal address where Model Monitor does not answer); Model "
                  "Monitor is reached at URL/model-monitor"),
    Question("model_monitor.model_id", "model_id", "Model Monitor model id (from the monitor's page URL)",
             lambda s: s.base_value("model_monitor.model_id"), _live(_model_id), metavar="ID",
             intro=discovery.models_intro,
             help="the Model Monitor model id (Model Monitor > your model, or the endpoint's Monitoring tab; it is "
                  "the last part of the page URL)"),
    Question("schema.path", "schema", "Monitoring schema written by step 1", _schema_default, _schema,
             metavar="PATH", help="the monitoring schema written by step 1 (default: monitoring_schema.json next to "
                                  "the config)"),
    Question("model_api.token_env", "token_env", "Environment variable holding the endpoint's access token",
             lambda s: s.base_value("model_api.token_env") or KNOWN_KEYS["model_api"]["token_env"][1],
             _all(_env_name, _live(_token_set)), metavar="NAME",
             help="the environment variable holding the endpoint's access token (default: DOMINO_MODEL_API_TOKEN)"),
    Question("model_api.endpoint_url", "endpoint_url",
             "Endpoint URL (Endpoints > your endpoint > Overview), e.g. https://<domino>/models/<id>/latest/model",
             discovery.endpoint_default, _all(_url, _live(_endpoint)), metavar="URL",
             help="the endpoint's URL (Endpoints > your endpoint > Overview), e.g. "
                  "https://domino.example.com/models/<id>/latest/model (default: the existing config, else the "
                  "endpoint the monitor's record names)"),
    Question("data_sources.ground_truth", "datasource",
             "Ground-truth data source name in Domino (Data > Data Sources)",
             lambda s: s.base_value("data_sources.ground_truth"), _live(_datasource), metavar="NAME",
             intro=discovery.datasources_intro,
             help="the ground-truth data source: the Domino data source (an object store) that steps 4 and 5 "
                  "upload labels through"),
    Question("data_sources.model_monitor_name", "monitor_datasource",
             "Its name in Model Monitor (Model Monitor > Monitoring Data Sources)",
             lambda s: (s.base_value("data_sources.model_monitor_name")
                        or s.answers.get("data_sources.ground_truth", "")),
             _live(_monitor_datasource), required=False, asked=False, metavar="NAME",
             help="the Model Monitor data source for the same bucket, when its name differs from the Domino data "
                  "source's (default: the same name)"),
    Question("data_sources.ground_truth_type", "datasource_type",
             "Data source type in Model Monitor (s3, generic_s3, azure_blob, gcs, ...)", _datasource_type_default,
             _datasource_type, metavar="TYPE",
             help="its type in Model Monitor: s3, generic_s3, azure_blob, azure_data_lake, gcs, hdfs or snowflake "
                  "(default: what Model Monitor reports, else s3)"),
    Question("test_data.path", "test_data", "Labelled test data file for step 4 (blank for none)",
             lambda s: s.base_path("test_data.path"), _test_file, required=False, metavar="PATH",
             help="optional labelled test file (CSV, Parquet or JSON Lines) that step 4 sends to the endpoint; an "
                  "empty value means none"),
    Question("test_data.label_column", "label_column", "Label column of the test data",
             lambda s: s.base_value("test_data.label_column") or (s.schema.target if s.schema else ""),
             _label_column, required=False, metavar="NAME",
             help="the test file's label column (default: the schema's target)"),
)


def check_answer(s: WizardSession, question: Question, value: str) -> CheckResult:
    """The checks every answer gets (given when required, not a placeholder), then the question's own."""
    if not value:
        if question.required:
            return failed(question.key, f"No answer for {question.key}",
                          f"Answer the question, or pass {question.flag}")
        return passed(question.key, "")
    if is_placeholder(value):
        return failed(question.key, f"{value!r} is a placeholder, not a value for {question.key}",
                      f"Give the real value ({question.flag})")
    return question.check(s, question, value)
