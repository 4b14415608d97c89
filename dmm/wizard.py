"""Step 3's wizard: ask for (or take from flags) every value of ``monitoring_config.json``, check each live, write it.

The library never prints: it talks through a ``WizardIO`` (``ask`` / ``tell``) that the script provides;
``ConsoleIO(input_fn, print_fn)`` wraps ``input`` and ``print``, and tests pass scripted functions.

Prompt order (stable; scripted and end-to-end runs rely on it). A question answered by a flag is not asked
unless its check fails; with ``--yes`` nothing is asked and a failed check ends the run.

  1. domino.base_url              --base-url         Domino answers, accepts the API key; Model Monitor answers
  2. model_monitor.model_id       --model-id         the model exists in Model Monitor
  3. schema.path                  --schema           the schema written by step 1 can be read (default: the one
                                                     next to the output, else in the current folder)
  4. model_api.token_env          --token-env        the variable it names is set
  5. model_api.endpoint_url       --endpoint-url     the endpoint answers a sample row with an event_id
  6. data_sources.ground_truth    --datasource       a Domino data source and a Model Monitor one of that name
  7. data_sources.ground_truth_type --datasource-type  (no check; default from Model Monitor's record)
  8. test_data.path               --test-data        optional (blank for none); the file exists
  9. test_data.label_column       --label-column     only asked when a test file was given; it is a column of it
 10. "Write <path>? [Y/n]"                           confirmation (not asked with --yes or --dry-run)

With ``--offline`` only the checks that need no network run (URL syntax, placeholders, local files).
Each prompt ends with ``: `` and shows its default in brackets; an empty answer takes the default.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

from dmm.config import (CONFIG_FILE_NAME, KNOWN_KEYS, ConfigError, find_config_path, is_env_name,
                           is_placeholder, monitor_api_url, override_env_name, read_config_data, save_config,
                           url_problem, validate_config_data)
from dmm import setup_checks
from dmm.errors import DmmError, UsageError
from dmm.monitor import ModelMonitorClient
from dmm.redact import mask, register_secret
from dmm.schema import SCHEMA_FILE_NAME, MonitoringSchema
from dmm.setup_checks import CheckResult, failed, passed

NEXT_STEP = "python 4_generate_predictions.py --count 100"


class WizardIO(Protocol):
    def ask(self, question: str, default: str) -> str: ...

    def tell(self, text: str) -> None: ...


@dataclass
class ConsoleIO:
    input_fn: Callable[[str], str] = input
    print_fn: Callable[[str], None] = print

    def ask(self, question: str, default: str) -> str:
        suffix = f" [{default}]" if default else ""
        answer = self.input_fn(f"{question}{suffix}: ").strip()
        return answer or default

    def tell(self, text: str) -> None:
        self.print_fn(text)


@dataclass
class WizardOptions:
    base_url: str | None = None
    model_id: str | None = None
    schema: str | None = None
    token_env: str | None = None
    endpoint_url: str | None = None
    datasource: str | None = None
    datasource_type: str | None = None
    test_data: str | None = None
    label_column: str | None = None
    output: str = CONFIG_FILE_NAME
    config: str | None = None
    offline: bool = False
    yes: bool = False
    dry_run: bool = False
    store_token: bool = False


@dataclass
class WizardOutcome:
    path: Path
    data: dict[str, dict[str, Any]]
    written: bool


class SetupCheckFailed(DmmError):
    """A check failed in an unattended run: the run ends with the check's sentence and exit code."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.message, result.fix)
        self.exit_code = result.exit_code or 2


@dataclass(frozen=True)
class Question:
    key: str            # dotted config key
    option: str         # WizardOptions attribute (its flag is --option-with-dashes)
    prompt: str
    required: bool = True

    @property
    def flag(self) -> str:
        return "--" + self.option.replace("_", "-")


QUESTIONS: tuple[Question, ...] = (
    Question("domino.base_url", "base_url",
             "Domino URL, as you open it in your browser (Model Monitor needs the external URL)"),
    Question("model_monitor.model_id", "model_id", "Model Monitor model id (from the monitor's page URL)"),
    Question("schema.path", "schema", "Monitoring schema written by step 1"),
    Question("model_api.token_env", "token_env", "Environment variable holding the endpoint's access token"),
    Question("model_api.endpoint_url", "endpoint_url",
             "Endpoint URL (Endpoints > your endpoint > Overview), e.g. https://<domino>/models/<id>/latest/model"),
    Question("data_sources.ground_truth", "datasource",
             "Ground-truth data source name (same name in Domino and in Model Monitor)"),
    Question("data_sources.ground_truth_type", "datasource_type",
             "Data source type in Model Monitor (s3, generic_s3, azure_blob, gcs, ...)"),
    Question("test_data.path", "test_data", "Labelled test data file for step 4 (blank for none)", required=False),
    Question("test_data.label_column", "label_column", "Label column of the test data", required=False),
)


@dataclass
class _Session:
    """What the wizard has learnt so far: answers, the starting config, and live handles."""

    options: WizardOptions
    io: WizardIO
    env: Mapping[str, str]
    base: dict[str, Any]
    base_dir: Path
    output: Path
    answers: dict[str, str] = field(default_factory=dict)
    schema: MonitoringSchema | None = None
    monitor: ModelMonitorClient | None = None
    datasource_record: dict[str, Any] | None = None

    def base_value(self, dotted: str) -> str:
        section, key = dotted.split(".")
        override = self.env.get(override_env_name(section, key))
        body = self.base.get(section)
        value = override if override else (body.get(key) if isinstance(body, dict) else None)
        if value is None or is_placeholder(value):
            return ""
        return str(value)

    def base_path(self, dotted: str) -> str:
        value = self.base_value(dotted)
        return _display_path(self.base_dir / value) if value else ""

    @property
    def interactive(self) -> bool:
        return not self.options.yes

    @property
    def live(self) -> bool:
        return not self.options.offline

    @property
    def api_key_env(self) -> str:
        return self.base_value("domino.user_api_key_env") or KNOWN_KEYS["domino"]["user_api_key_env"][1]

    @property
    def timeout(self) -> float:
        try:
            return float(self.base_value("model_api.timeout") or KNOWN_KEYS["model_api"]["timeout"][1])
        except ValueError:
            return KNOWN_KEYS["model_api"]["timeout"][1]


def _display_path(path: Path) -> str:
    path = path.expanduser().resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _stored_path(answer: str, output_dir: Path) -> str:
    """A path answered relative to the current folder, stored relative to the config's folder when inside it."""
    if not answer:
        return ""
    path = Path(answer).expanduser().resolve()
    try:
        return str(path.relative_to(output_dir.resolve()))
    except ValueError:
        return str(path)


def _starting_config(options: WizardOptions, env: Mapping[str, str], io: WizardIO) -> tuple[dict[str, Any], Path]:
    if options.config:
        path = find_config_path(options.config, env)
        return read_config_data(path), path.parent
    try:
        path = find_config_path(None, env)
    except ConfigError:
        return {}, Path.cwd()
    try:
        data = read_config_data(path)
    except ConfigError as error:
        io.tell(f"Ignoring {path}: {error}")
        return {}, Path.cwd()
    io.tell(f"Starting from {path}")
    return data, path.parent


# --- defaults and checks, one pair per question ------------------------------------------------------------

def _default(s: _Session, question: Question) -> str:
    key = question.key
    if key == "domino.base_url":
        return s.base_value(key) or s.env.get("DOMINO_API_HOST", "").rstrip("/")
    if key == "schema.path":
        candidates = [s.output.parent / SCHEMA_FILE_NAME, Path.cwd() / SCHEMA_FILE_NAME]
        found = next((path for path in candidates if path.is_file()), candidates[0])
        return s.base_path(key) or _display_path(found)
    if key == "model_api.token_env":
        return s.base_value(key) or KNOWN_KEYS["model_api"]["token_env"][1]
    if key == "data_sources.ground_truth_type":
        record = s.datasource_record or {}
        from_monitor = record.get("type") or record.get("datasourceType") or record.get("dataSourceType")
        return s.base_value(key) or (str(from_monitor).lower() if from_monitor else "s3")
    if key == "test_data.path":
        return s.base_path(key)
    if key == "test_data.label_column":
        return s.base_value(key) or (s.schema.target if s.schema else "")
    return s.base_value(key)


def _check(s: _Session, question: Question, value: str, checks: "LiveChecks") -> CheckResult:
    key = question.key
    if not value:
        if question.required:
            return failed(f"No answer for {key}", f"Answer the question, or pass {question.flag}")
        return passed("")
    if is_placeholder(value):
        return failed(f"{value!r} is a placeholder, not a value for {key}", f"Give the real value ({question.flag})")
    if key in ("domino.base_url", "model_api.endpoint_url"):
        problem = url_problem(key, value)
        if problem:
            return failed(problem, f"Answer with the full URL, e.g. https://domino.example.com ({question.flag})")
    if key == "test_data.path":
        if not Path(value).expanduser().is_file():
            return failed(f"No test data file at {value}", f"Give the path of a CSV, Parquet or JSON Lines file "
                                                           f"({question.flag}), or leave it blank")
        return passed(f"Test data: {value}")
    if key == "test_data.label_column":
        return checks.label_column(s, value)
    if key == "model_api.token_env" and not is_env_name(value):
        return failed(f"{value!r} is not an environment variable name", "Answer with a name such as "
                                                                        "DOMINO_MODEL_API_TOKEN")
    if not s.live:
        if key == "schema.path":  # a local file: checked offline too
            result = setup_checks.check_schema(value)
            s.schema = result.details.get("schema") if result.ok else None
            return result
        return passed("")
    return checks.run(s, key, value)


def _check_session() -> Any:
    """A session for interactive checks: a couple of quick retries, so a wrong host fails in seconds."""
    from dmm.http import build_retry, make_session
    return make_session(retry=build_retry(total=2, backoff=0.2))


class LiveChecks:
    """Binds the checks of ``dmm.setup_checks`` to the wizard's answers; tests replace the service factories."""

    def __init__(self, session_factory: Callable[[], Any] | None = None,
                 model_api_factory: Callable[..., Any] | None = None,
                 domino_lookup: Callable[[str], Any] | None = None) -> None:
        self.session_factory = session_factory or _check_session
        self.model_api_factory = model_api_factory
        self.domino_lookup = domino_lookup or setup_checks.domino_datasource_exists

    def run(self, s: _Session, key: str, value: str) -> CheckResult:
        api_key = s.env.get(s.api_key_env, "")
        if key == "domino.base_url":
            monitor_url = monitor_api_url(value, s.base_value("model_monitor.base_url"))
            result = setup_checks.check_domino(value, api_key, monitor_url, api_key_env=s.api_key_env, env=s.env,
                                               session=self.session_factory(), timeout=s.timeout)
            if result.ok:
                s.monitor = ModelMonitorClient(monitor_url, api_key, s.timeout, self.session_factory(),
                                               s.api_key_env)
            return result
        if key == "model_monitor.model_id":
            return setup_checks.check_model_id(s.monitor, value)
        if key == "schema.path":
            result = setup_checks.check_schema(value)
            s.schema = result.details.get("schema") if result.ok else None
            return result
        if key == "model_api.token_env":
            if not s.env.get(value):
                return failed(f"The environment variable {value} (the Model API access token) is not set",
                              f"Export {value} with the token from the endpoint's Settings > Access page and run "
                              "the wizard again, or add --offline")
            register_secret(s.env[value])
            return passed(f"{value} is set")
        if key == "model_api.endpoint_url":
            token_env = s.answers["model_api.token_env"]
            return setup_checks.check_model_api(value, s.env.get(token_env, ""), s.schema, timeout=s.timeout,
                                                token_env=token_env, client_factory=self.model_api_factory)
        if key == "data_sources.ground_truth":
            result = setup_checks.check_datasource(s.monitor, value, domino_lookup=self.domino_lookup)
            s.datasource_record = dict(result.details.get("record") or {}) if result.ok else None
            return result
        return passed("")

    @staticmethod
    def label_column(s: _Session, value: str) -> CheckResult:
        from dmm import dataio
        test_file = s.answers.get("test_data.path", "")
        try:
            columns = list(dataio.read_table(test_file).columns)
        except DmmError as error:
            return setup_checks.from_error(error)
        if value not in columns:
            return failed(f"{test_file} has no column {value!r} (it has {', '.join(map(str, columns[:20]))})",
                          "Answer with the column that holds the true label (--label-column)")
        return passed(f"Labels in column {value!r}")


# --- the run -------------------------------------------------------------------------------------------------

def _ask(s: _Session, question: Question, checks: LiveChecks) -> str:
    value = getattr(s.options, question.option)
    default = _default(s, question)
    while True:
        if value is None:
            value = s.io.ask(question.prompt, default) if s.interactive else default
        value = value.strip()
        result = _check(s, question, value, checks)
        if result.ok:
            if result.message:
                s.io.tell(f"  ok: {result.message}")
            return value
        if not s.interactive:
            if not value and question.required:
                raise UsageError(f"No value for {question.key}", f"Pass {question.flag} when running with --yes")
            raise SetupCheckFailed(result)
        s.io.tell(f"  Problem: {result.sentence()}")
        default, value = value, None


def _config_data(s: _Session) -> dict[str, dict[str, Any]]:
    """The config to write: the answers, then the starting config's other known keys, then the defaults."""
    data: dict[str, dict[str, Any]] = {}
    for section, keys in KNOWN_KEYS.items():
        data[section] = {}
        for key, (kind, default) in keys.items():
            dotted = f"{section}.{key}"
            value = s.answers[dotted] if dotted in s.answers else s.base_value(dotted)
            if dotted in ("schema.path", "test_data.path") and dotted in s.answers:
                value = _stored_path(value, s.output.parent)
            if kind is float:
                value = int(s.timeout) if float(s.timeout).is_integer() else s.timeout
            data[section][key] = value if value not in (None, "") else ("" if default is None else default)
    data["model_api"]["token"] = ""
    return data


def _store_token(s: _Session, data: dict[str, dict[str, Any]]) -> None:
    token_env = data["model_api"]["token_env"]
    if s.options.store_token:
        token = s.env.get(token_env, "")
        if not token:
            raise UsageError(f"--store-token needs the token in {token_env}, which is not set",
                             f"Export {token_env} first, or leave out --store-token")
        register_secret(token)
        data["model_api"]["token"] = token
        s.io.tell(f"Warning: the Model API token is stored in {s.output} (written with mode 0600); anyone who can "
                  f"read that file can call the model. Exporting {token_env} instead keeps it out of the file.")
    elif s.base_value("model_api.token"):
        s.io.tell(f"Note: the token stored in the starting config is not copied; export {token_env} instead "
                  "(or pass --store-token).")


def render(data: Mapping[str, Mapping[str, Any]]) -> str:
    """The config as JSON with any token masked."""
    shown = {section: dict(body) for section, body in data.items()}
    if shown.get("model_api", {}).get("token"):
        shown["model_api"]["token"] = mask(shown["model_api"]["token"])
    return json.dumps(shown, indent=2)


def run_wizard(options: WizardOptions, io: WizardIO, env: Mapping[str, str] | None = None,
               checks: LiveChecks | None = None) -> WizardOutcome:
    """Ask, check, then write the config (or only show it with ``dry_run``); raises DmmError on unattended failure."""
    env = os.environ if env is None else env
    checks = checks or LiveChecks()
    base, base_dir = _starting_config(options, env, io)
    s = _Session(options, io, env, base, base_dir, Path(options.output).expanduser().resolve())
    if s.live and not env.get(s.api_key_env):
        raise UsageError(f"The environment variable {s.api_key_env} (the Domino API key) is not set, so the answers "
                         "cannot be checked",
                         f"Export {s.api_key_env} with the key from Account Settings > API Key, or add --offline")
    register_secret(env.get(s.api_key_env))
    for question in QUESTIONS:
        if question.key == "test_data.label_column" and not s.answers.get("test_data.path"):
            continue
        s.answers[question.key] = _ask(s, question, checks)

    data = _config_data(s)
    _store_token(s, data)
    validate_config_data(data, {}, str(s.output))
    if options.dry_run:
        io.tell(f"Dry run: would write {s.output}:")
        io.tell(render(data))
        return WizardOutcome(s.output, data, written=False)
    if s.interactive:
        io.tell(render(data))
        if s.io.ask(f"Write {s.output}? [Y/n]", "").strip().lower() not in ("", "y", "yes"):
            io.tell("Nothing written.")
            return WizardOutcome(s.output, data, written=False)
    save_config(data, s.output)
    return WizardOutcome(s.output, data, written=True)


def next_step_hint(outcome: WizardOutcome) -> str:
    default_location = Path.cwd() / CONFIG_FILE_NAME
    if outcome.path == default_location.resolve():
        return NEXT_STEP
    return f"{NEXT_STEP} --config {outcome.path}"
