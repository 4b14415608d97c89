"""Step 3's wizard: ask for (or take from flags) every value of ``monitoring_config.json``, check each live, write it.

The library never prints: it talks through a ``WizardIO`` (``ask`` / ``tell``) that the script provides;
``ConsoleIO(input_fn, print_fn)`` wraps ``input`` and ``print``, and tests pass scripted functions.

Prompt order (stable; scripted and end-to-end runs rely on it). A question answered by a flag is not asked
unless its check fails; with ``--yes`` nothing is asked and a failed check ends the run.

  1. domino.base_url              --base-url         Domino answers, accepts the API key; Model Monitor answers
  2. model_monitor.model_id       --model-id         the model exists in Model Monitor
  3. schema.path                  --schema           the schema written by step 1 can be read (default: the one
                                                     next to the output, else in the current folder)
  4. model_api.token_env          --token-env        the variable it names is set (interactively, an unset token is
                                                     asked with a hidden prompt, then "Store it ...? [y/N]")
  5. model_api.endpoint_url       --endpoint-url     the endpoint answers a sample row with an event_id and the
                                                     prediction under the target's name (default: the endpoint
                                                     the monitor's record names)
  6. data_sources.ground_truth    --datasource       a Domino data source of that name
     data_sources.model_monitor_name --monitor-datasource  not asked unless its check fails: Model Monitor has a data
                                                     source of that name (default: the same name as Domino's)
  7. data_sources.ground_truth_type --datasource-type  (no check; default from Model Monitor's record)
  8. test_data.path               --test-data        optional (blank for none); the file exists
  9. test_data.label_column       --label-column     only asked when a test file was given; it is a column of it
 10. "Write <path>? [Y/n]"                           confirmation (not asked with --yes or --dry-run)

Before the model id and the data-source questions the wizard lists what the identity can see in Model Monitor
(``dmm.wizard_discovery``); a wrong answer's "Problem:" names a near miss or the monitor of an endpoint id, which
the next prompt then offers. A rejected answer is never offered back as the default.

With ``--offline`` only the checks that need no network run (URL syntax, placeholders, local files).
The questions, each with its own default and check, are in ``dmm.wizard_questions``; the session they read and
fill, and the live checks' handles, in ``dmm.wizard_session``.
Each prompt ends with ``: `` and shows its default in brackets; an empty answer takes the default.
"""

from __future__ import annotations

import getpass
import json
import os
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from dmm.checks.result import CheckResult
from dmm.config import (
    CONFIG_FILE_NAME,
    KNOWN_KEYS,
    ConfigError,
    find_config_path,
    monitor_api_url,
    read_config_data,
    save_config,
    validate_config_data,
)
from dmm.errors import DmmError, UsageError
from dmm.paths import check_output_file
from dmm.redact import mask, register_secret
from dmm.wizard_questions import QUESTIONS, Question, check_answer
from dmm.wizard_session import LiveChecks, WizardSession, check_token_env

__all__ = ["QUESTIONS", "ConsoleIO", "LiveChecks", "Question", "WizardIO", "WizardOptions", "WizardOutcome",
           "next_step_hint", "render", "run_wizard"]

NEXT_STEP = "python 4_generate_predictions.py --count 100"


class WizardIO(Protocol):
    def ask(self, question: str, default: str) -> str: ...

    def ask_secret(self, question: str) -> str: ...

    def tell(self, text: str) -> None: ...


@dataclass
class ConsoleIO:
    input_fn: Callable[[str], str] = input
    print_fn: Callable[[str], None] = print
    getpass_fn: Callable[[str], str] = getpass.getpass  # hidden input: nothing typed is echoed

    def ask(self, question: str, default: str) -> str:
        suffix = f" [{default}]" if default else ""
        answer = self.input_fn(f"{question}{suffix}: ").strip()
        return answer or default

    def ask_secret(self, question: str) -> str:
        return self.getpass_fn(f"{question}: ")

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
    monitor_datasource: str | None = None
    datasource_type: str | None = None
    test_data: str | None = None
    label_column: str | None = None
    output: str = CONFIG_FILE_NAME
    config: str | None = None
    offline: bool = False
    yes: bool = False
    dry_run: bool = False
    store_token: bool = False
    no_probe: bool = False  # --no-probe: the endpoint is not sent the schema's sample row
    trace: str | None = None  # acted on by dmm.cli.run
    auth: str | None = None  # --auth: written to domino.auth_method
    auth_token_env: str | None = None  # --auth-token-env: written to domino.auth_token_env (checked: set, non-empty)


@dataclass
class WizardOutcome:
    path: Path
    data: dict[str, dict[str, Any]]
    written: bool


class SetupCheckFailed(DmmError):
    """A check failed in an unattended run: the run ends with the check's sentence and exit code."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.detail, result.fix)
        self.exit_code = result.exit_code or 2


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


# --- the run -------------------------------------------------------------------------------------------------

def _ask(s: WizardSession, question: Question) -> str:
    """Ask until the answer checks out. A rejected answer never becomes the default: the next prompt offers the
    check's suggestion (a near miss it recognised), else the previous default unless that was what failed."""
    value = getattr(s.options, question.option)
    default = question.default(s)
    introduced = False
    ask = question.asked  # a question not asked is asked once its check failed
    while True:
        if value is None and s.interactive and s.live and question.intro is not None and not introduced:
            introduced = True
            intro = question.intro(s)
            if intro:
                s.io.tell(f"  {intro}")
        if value is None:
            value = s.io.ask(question.prompt, default) if s.interactive and ask else default
        value = value.strip()
        result = check_answer(s, question, value)
        if result.ok:
            if result.detail:
                s.io.tell(f"  ok: {result.detail}")
            return value
        if not s.interactive:
            if not value and question.required:
                raise UsageError(f"No value for {question.key}", f"Pass {question.flag} when running with --yes")
            raise SetupCheckFailed(result)
        s.io.tell(f"  Problem: {result.sentence()}")
        suggestion = str(result.facts.get("suggestion") or "")
        default = suggestion or ("" if value == default else default)
        value, ask = None, True


def _config_data(s: WizardSession) -> dict[str, dict[str, Any]]:
    """The config to write: the answers, then the starting config's other known keys, then the defaults."""
    data: dict[str, dict[str, Any]] = {}
    for section, keys in KNOWN_KEYS.items():
        data[section] = {}
        for key, (kind, default) in keys.items():
            dotted = f"{section}.{key}"
            value: Any = s.answers[dotted] if dotted in s.answers else s.base_value(dotted)
            if dotted in ("schema.path", "test_data.path") and dotted in s.answers:
                value = _stored_path(value, s.output.parent)
            if kind is float:
                value = int(s.timeout) if float(s.timeout).is_integer() else s.timeout
            data[section][key] = value if value not in (None, "") else ("" if default is None else default)
    data["model_api"]["token"] = ""
    if data["data_sources"].get("model_monitor_name") == data["data_sources"].get("ground_truth"):
        data["data_sources"]["model_monitor_name"] = ""  # the default: the same name
    if s.options.auth:
        data["domino"]["auth_method"] = s.options.auth
    if s.options.auth_token_env:
        data["domino"]["auth_token_env"] = s.options.auth_token_env
    return data


def _store_token(s: WizardSession, data: dict[str, dict[str, Any]]) -> None:
    token_env = data["model_api"]["token_env"]
    if s.store_token:
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
    env = ChainMap({}, dict(os.environ if env is None else env))  # a token typed in is kept for this run only
    checks = checks or LiveChecks()
    check_output_file(Path(options.output).expanduser(), "--output")  # before resolve(), which a link loop breaks
    base, base_dir = _starting_config(options, env, io)
    s = WizardSession(options, io, env, base, base_dir, Path(options.output).expanduser().resolve(), checks,
                      store_token=options.store_token)
    check_token_env(s)
    if s.live:
        try:
            s.credentials = s.resolve_credentials()
        except DmmError as error:
            raise UsageError(f"{error.message}, so the answers cannot be checked", f"{error.advice}, or add --offline",
                             code=error.code) from None
        io.tell(f"Reaching Domino with {s.credentials.describe()}")
        checks.use_credentials(s.credentials)
    register_secret(env.get(s.api_key_env))
    for question in QUESTIONS:
        if question.key == "test_data.label_column" and not s.answers.get("test_data.path"):
            continue
        s.answers[question.key] = _ask(s, question)

    data = _config_data(s)
    _store_token(s, data)
    validate_config_data(data, {}, str(s.output))
    if s.live:
        io.tell("Services: " + "; ".join(f"{name} at {url or 'not set here'}"
                                         for name, url in service_hosts(data, env).items()))
        io.tell(access_line(s, data))
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


def service_hosts(data: Mapping[str, Mapping[str, Any]], env: Mapping[str, str]) -> dict[str, str]:
    """Where each Domino service will be reached with these answers (``dmm.hosts``, as steps 3 and 6 say it)."""
    from dmm import hosts

    base = str(data["domino"].get("base_url", ""))
    monitor_base = str(data.get("model_monitor", {}).get("base_url", ""))
    return hosts.per_service(base, monitor_api_url(base, monitor_base), env)


def access_line(s: WizardSession, data: Mapping[str, Mapping[str, Any]]) -> str:
    """Which services accepted the identity: Model Monitor (its check above), training sets and data sources (steps
    1, 4 and 5 reach them through Domino's clients; the data source's check above), custom metrics (a read-only
    call, ``dmm.access``)."""
    from dmm import hosts
    from dmm.access import custom_metrics_access
    from dmm.publish import custom_metrics_client

    assert s.credentials is not None
    credentials = s.credentials
    host = hosts.custom_metrics(str(data["domino"].get("base_url", "")), s.env)
    metrics = custom_metrics_access(lambda: custom_metrics_client(credentials, host, s.env),
                                    str(data["model_monitor"].get("model_id", "")), credentials.describe())
    line = f"Access: Model Monitor accepted {credentials.describe()}; {metrics.sentence()}"
    return f"{line}. {metrics.fix}" if metrics.fix else line
