"""Find, validate and expose ``monitoring_config.json``, the config every step after step 2 reads.

Search order (the first that exists wins): an explicit ``--config PATH``, ``$DMM_CONFIG``,
``./monitoring_config.json``, ``/mnt/monitoring_config.json``, ``/mnt/artifacts/monitoring_config.json``.

The file is strict: unknown keys and placeholder values (``YOUR_…``, ``REPLACE_…``, ``your-…``) are errors that
name the dotted key; keys starting with ``_`` (such as the template's ``_help``) are ignored. Every key can be
overridden by an environment variable ``DMM_<SECTION>_<KEY>``, e.g. ``DMM_MODEL_API_ENDPOINT_URL``.

Secrets stay out of the file by default: Domino credentials come from the chain in ``dmm.auth``
(``domino.auth_method``, ``domino.auth_token_env``; the user API key from the variable named by
``domino.user_api_key_env``) and the Model API token from the variable named by ``model_api.token_env``. A token
stored in ``model_api.token`` is accepted, but ``save_config`` writes such a file with mode 0600 and the loaded
config carries a warning about it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from dmm.errors import ConfigError, UsageError
from dmm.files import write_atomic
from dmm.redact import register_secret

CONFIG_FILE_NAME = "monitoring_config.json"
CONFIG_ENV_VAR = "DMM_CONFIG"
SETUP_HINT = "run 3_setup_monitoring.py to write one"
DEFAULT_SEARCH_DIRS: tuple[Path, ...] = (Path("/mnt"), Path("/mnt/artifacts"))
LEDGER_FILE_NAME = "monitoring_ledger.json"

# section -> key -> (type, default); a default of None means the key is required.
KNOWN_KEYS: dict[str, dict[str, tuple[type, Any]]] = {
    "domino": {"base_url": (str, None), "user_api_key_env": (str, "DOMINO_USER_API_KEY"),
               "auth_method": (str, "auto"), "auth_token_env": (str, "")},
    "model_monitor": {"model_id": (str, None), "base_url": (str, "")},
    "model_api": {"endpoint_url": (str, None), "token_env": (str, "DOMINO_MODEL_API_TOKEN"),
                  "token": (str, ""), "timeout": (float, 30.0), "kind": (str, "auto")},
    "data_sources": {"ground_truth": (str, None), "ground_truth_type": (str, "s3"),
                     "ground_truth_prefix": (str, "ground_truth"), "model_monitor_name": (str, "")},
    "test_data": {"path": (str, ""), "label_column": (str, "")},
    "schema": {"path": (str, "monitoring_schema.json")},
}
URL_KEYS = ("domino.base_url", "model_monitor.base_url", "model_api.endpoint_url")
ENV_NAME_KEYS = ("domino.user_api_key_env", "domino.auth_token_env", "model_api.token_env")
AUTH_METHODS = ("auto", "api-proxy", "token", "token-file", "api-key")  # dmm.auth.CHOICES
MODEL_API_KINDS = ("auto", "file", "registry")  # dmm.model_api.KINDS: a predict function, or a registered MLflow model
# Model Monitor's data-source types (/work/shared/domino-api.md §2.5): "s3" is in Domino's docs sample; "generic_s3",
# "azure_blob" and "azure_data_lake" were observed; GCS, HDFS and Snowflake appear in DMM's UI docs with unverified
# identifiers, so their plain lower-case names are accepted too (the sandbox's datasource_types option lists the
# same). Any other value is a type Model Monitor does not have: registering ground truth with it would fail.
DATASOURCE_TYPES = ("s3", "generic_s3", "azure_blob", "azure_data_lake", "gcs", "hdfs", "snowflake")
MAX_TIMEOUT_SECONDS = 3_600.0  # model_api.timeout; the same limit as step 4's --timeout (dmm/args.py)


def datasource_type_problem(value: str) -> str | None:
    """Why ``value`` is not a Model Monitor data-source type, or None."""
    if value.lower() in DATASOURCE_TYPES:
        return None
    return f"{value!r} is not a Model Monitor data source type (known: {', '.join(DATASOURCE_TYPES)})"

_PLACEHOLDER = re.compile(r"(?i)(?:^|[/:.@=])(?:your[_-]|replace[_-])|<[^<>]*>")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def override_env_name(section: str, key: str) -> str:
    return f"DMM_{section}_{key}".upper()


def monitor_api_url(domino_base_url: str, model_monitor_base_url: str = "") -> str:
    """``<model_monitor.base_url or domino.base_url + "/model-monitor">/v2/api``."""
    root = (model_monitor_base_url or f"{domino_base_url.rstrip('/')}/model-monitor").rstrip("/")
    return root if root.endswith("/v2/api") else f"{root}/v2/api"


def is_env_name(value: str) -> bool:
    return bool(_ENV_NAME.match(value))


def is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and bool(_PLACEHOLDER.search(value))


@dataclass(frozen=True)
class MonitoringConfig:
    """The validated config; paths are absolute, secrets are read on demand from the environment."""

    source_path: Path
    domino_base_url: str
    model_monitor_id: str
    model_monitor_base_url: str
    model_api_url: str
    model_api_timeout: float
    model_api_token_env: str
    user_api_key_env: str
    ground_truth_datasource: str
    ground_truth_datasource_type: str
    ground_truth_prefix: str
    test_data_path: Path | None
    test_label_column: str | None
    schema_path: Path
    stored_token: str = field(default="", repr=False)
    model_api_kind: str = "auto"  # model_api.kind: auto | file | registry (dmm.model_api.KINDS)
    ground_truth_monitor_name: str = ""  # data_sources.model_monitor_name: "" = the same name as ground_truth
    warnings: tuple[str, ...] = ()
    data: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, repr=False, compare=False)
    env: Mapping[str, str] = field(default_factory=lambda: os.environ, repr=False, compare=False)

    @property
    def model_monitor_api_url(self) -> str:
        return monitor_api_url(self.domino_base_url, self.model_monitor_base_url)

    @property
    def model_monitor_datasource(self) -> str:
        """The Model Monitor data source that ground-truth registrations name (``datasetDetails.datasourceName``):
        ``data_sources.model_monitor_name``, else the Domino data source's name. They are separate objects and may
        carry different names (a public Domino demo uploads through ``demo-bucket``, registers ``se-demo-bucket``)."""
        return self.ground_truth_monitor_name or self.ground_truth_datasource

    @property
    def ledger_path(self) -> Path:
        return self.source_path.parent / LEDGER_FILE_NAME

    def api_key(self) -> str:
        """The Domino user API key, from the variable named by ``domino.user_api_key_env``."""
        value = self.env.get(self.user_api_key_env, "")
        if not value:
            raise ConfigError(f"The environment variable {self.user_api_key_env} (the Domino API key) is not set",
                              f"In a Domino workspace it is set for you; elsewhere export {self.user_api_key_env} "
                              "with the key from Account Settings > API Key", code="api-key-missing")
        register_secret(value)
        return value

    def credentials(self) -> Any:
        """The Domino credentials ``dmm.auth``'s chain picks for this config (``ConfigError`` when none)."""
        from dmm.auth import from_config

        return from_config(self)

    def model_api_token(self) -> str:
        """The Model API access token: ``$<model_api.token_env>``, else the token stored in the file."""
        value = self.env.get(self.model_api_token_env, "") or self.stored_token
        if not value:
            raise ConfigError(f"The environment variable {self.model_api_token_env} (the Model API access token) "
                              "is not set",
                              f"Export {self.model_api_token_env} with the token from the endpoint's Settings > "
                              "Access page in Domino", code="model-api-token-missing")
        register_secret(value)
        return value


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="PATH", default=None,
        help=f"the monitoring config to use (default: ${CONFIG_ENV_VAR}, then ./{CONFIG_FILE_NAME}, "
             f"/mnt/{CONFIG_FILE_NAME}, /mnt/artifacts/{CONFIG_FILE_NAME}; write one with 3_setup_monitoring.py)")


def candidate_paths(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
                    ) -> list[tuple[str, Path]]:
    """Every place looked at, in order, with where the suggestion came from."""
    env = os.environ if env is None else env
    candidates: list[tuple[str, Path]] = []
    if path:
        candidates.append(("--config", Path(path)))
    if env.get(CONFIG_ENV_VAR):
        candidates.append((f"${CONFIG_ENV_VAR}", Path(env[CONFIG_ENV_VAR])))
    candidates.append(("the current folder", Path.cwd() / CONFIG_FILE_NAME))
    candidates.extend((str(folder), folder / CONFIG_FILE_NAME) for folder in DEFAULT_SEARCH_DIRS)
    return candidates


def find_config_path(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The config file to load; an explicit ``path`` or ``$DMM_CONFIG`` must exist, the defaults are searched."""
    env = os.environ if env is None else env
    candidates = candidate_paths(path, env)
    origin, first = candidates[0]
    if origin in ("--config", f"${CONFIG_ENV_VAR}"):
        if not first.is_file():
            _check_config_file(first, origin)
        return first.resolve()
    for _origin, candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    looked = ", ".join(str(candidate) for _origin, candidate in candidates)
    raise ConfigError(f"No {CONFIG_FILE_NAME} found (looked in {looked})",
                      f"Run 3_setup_monitoring.py to write one, or point --config or ${CONFIG_ENV_VAR} at yours",
                      code="config-missing")


def _check_config_file(path: Path, origin: str) -> None:
    """A ``ConfigError`` saying why ``path`` (named by ``origin``) is not a config file: missing, a folder, a loop."""
    from dmm.paths import check_readable_file

    if not path.exists() and not path.is_symlink():
        raise ConfigError(f"The config named by {origin} does not exist: {path}",
                          f"Check the path, or {SETUP_HINT}", code="config-missing")
    try:
        check_readable_file(path, f"The config named by {origin}", flag=origin if origin.startswith("-") else None,
                            thing="config")
    except UsageError as error:
        raise ConfigError(error.message, error.advice, code=error.code) from None


def read_config_data(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The file's JSON object, unvalidated (the wizard starts from it); errors name the line."""
    from dmm.paths import read_text

    path = Path(path)
    try:
        text = read_text(path, "The config", thing="config")
    except UsageError as error:
        raise ConfigError(error.message, error.advice, code=error.code) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"The config {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
                          f"Fix that line, or {SETUP_HINT}", code="config-invalid-json") from None
    if not isinstance(data, dict):
        raise ConfigError(f"The config {path} must hold a JSON object with sections such as \"domino\"",
                          SETUP_HINT[0].upper() + SETUP_HINT[1:], code="config-not-an-object")
    return data


Problem = tuple[str, str]  # (error code, text)


def _coerce(dotted: str, kind: type, value: Any, origin: str) -> tuple[Any, Problem | None]:
    """(value, problem) for one key; ``origin`` says where the value came from (for the message)."""
    if kind is float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                return None, ("config-bad-value", f"{dotted} must be a number ({origin} holds {value!r})")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None, ("config-bad-value", f"{dotted} must be a number")
        if not 0 < value <= MAX_TIMEOUT_SECONDS:  # NaN fails this too
            return None, ("config-bad-value", f"{dotted} must be a positive number of seconds, at most "
                                              f"{MAX_TIMEOUT_SECONDS:g} (got {value:g})")
        return float(value), None
    if not isinstance(value, str):
        return None, ("config-bad-value", f"{dotted} must be a string")
    value = value.strip()
    if is_placeholder(value):
        return None, ("config-placeholder", f"{dotted} still holds the placeholder {value!r}")
    return value, None


def url_problem(dotted: str, value: str) -> str | None:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return f"{dotted} must be an http(s) URL with a host (got {value!r})"
    return None


def validate_config_data(data: Mapping[str, Any], env: Mapping[str, str], where: str) -> dict[str, dict[str, Any]]:
    """Apply ``DMM_<SECTION>_<KEY>`` overrides and defaults; raise one ConfigError listing every problem.

    The error's code is the first problem's: ``config-unknown-key``, ``config-missing-key``,
    ``config-placeholder`` or ``config-bad-value``.
    """
    problems: list[Problem] = []
    for section, body in data.items():
        if section.startswith("_"):
            continue
        if section not in KNOWN_KEYS:
            problems.append(("config-unknown-key", f"unknown section {section!r} (known: {', '.join(KNOWN_KEYS)})"))
        elif not isinstance(body, dict):
            problems.append(("config-bad-value", f"{section} must be a JSON object"))
        else:
            problems.extend(("config-unknown-key", f"unknown key {section}.{key}") for key in body
                            if not key.startswith("_") and key not in KNOWN_KEYS[section])

    values: dict[str, dict[str, Any]] = {}
    for section, keys in KNOWN_KEYS.items():
        found = data.get(section)
        given: Mapping[str, Any] = found if isinstance(found, dict) else {}
        values[section] = {}
        for key, (kind, default) in keys.items():
            dotted, env_name = f"{section}.{key}", override_env_name(section, key)
            if env_name in env:
                raw, origin = env[env_name], f"${env_name}"
            elif key in given:
                raw, origin = given[key], where
            else:
                raw, origin = default, "the default"
            if raw is None or raw == "":
                if default is None:
                    problems.append(("config-missing-key", f"{dotted} is missing"))
                values[section][key] = "" if kind is str else default
                continue
            value, coerced = _coerce(dotted, kind, raw, origin)
            if coerced:
                problems.append(coerced)
                continue
            problem = None
            if dotted in URL_KEYS and value:
                problem = url_problem(dotted, value)
            elif dotted == "data_sources.ground_truth_type" and datasource_type_problem(value):
                problem = f"data_sources.ground_truth_type: {datasource_type_problem(value)}"
            elif dotted in ENV_NAME_KEYS and not is_env_name(value):
                problem = f"{dotted} must be the name of an environment variable (got {value!r})"
            elif dotted == "model_api.kind" and value not in MODEL_API_KINDS:
                problem = f"model_api.kind must be one of {', '.join(MODEL_API_KINDS)} (got {value!r})"
            elif dotted == "domino.auth_method" and value not in AUTH_METHODS:
                problem = f"{dotted} must be one of {', '.join(AUTH_METHODS)} (got {value!r})"
            if problem:
                problems.append(("config-bad-value", problem))
            values[section][key] = value.rstrip("/") if dotted in URL_KEYS else value

    if problems:
        raise ConfigError(f"The config {where} is not usable: {'; '.join(text for _code, text in problems)}",
                          f"Fix those keys (or set DMM_<SECTION>_<KEY> overrides), or {SETUP_HINT}",
                          code=problems[0][0])
    return values


def _resolve(folder: Path, value: str) -> Path | None:
    return _absolute(folder, value) if value else None


def _absolute(folder: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (folder / path).resolve()


def _token_warnings(path: Path, token: str, token_env: str) -> list[str]:
    if not token:
        return []
    warnings = [f"{path} holds a Model API token (model_api.token); anyone who can read the file can call the "
                f"model. Prefer exporting {token_env} and removing the token from the file"]
    try:
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.append(f"{path} holds a secret but is readable by others; run: chmod 600 {path}")
    except OSError:
        pass
    return warnings


def load_config(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
                ) -> MonitoringConfig:
    """Find (see the search order above), read and validate the config; raises ``ConfigError``."""
    env = os.environ if env is None else env
    source = find_config_path(path, env)
    raw = read_config_data(source)
    values = validate_config_data(raw, env, str(source))
    folder = source.parent
    token = values["model_api"]["token"]
    register_secret(token)
    file_token = token if isinstance(raw.get("model_api"), dict) and raw["model_api"].get("token") else ""
    return MonitoringConfig(
        source_path=source,
        domino_base_url=values["domino"]["base_url"],
        model_monitor_id=values["model_monitor"]["model_id"],
        model_monitor_base_url=values["model_monitor"]["base_url"],
        model_api_url=values["model_api"]["endpoint_url"],
        model_api_timeout=values["model_api"]["timeout"],
        model_api_kind=values["model_api"]["kind"],
        model_api_token_env=values["model_api"]["token_env"],
        user_api_key_env=values["domino"]["user_api_key_env"],
        ground_truth_datasource=values["data_sources"]["ground_truth"],
        ground_truth_datasource_type=values["data_sources"]["ground_truth_type"],
        ground_truth_prefix=values["data_sources"]["ground_truth_prefix"],
        test_data_path=_resolve(folder, values["test_data"]["path"]),
        test_label_column=values["test_data"]["label_column"] or None,
        schema_path=_absolute(folder, values["schema"]["path"] or KNOWN_KEYS["schema"]["path"][1]),
        stored_token=token,
        ground_truth_monitor_name=values["data_sources"]["model_monitor_name"],
        warnings=tuple(_token_warnings(source, file_token, values["model_api"]["token_env"])),
        data=values,
        env=env,
    )


def save_config(data: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Validate ``data`` (no overrides) and write it atomically; mode 0600 when it holds a token."""
    path = Path(path)
    values = validate_config_data(data, {}, str(path))
    holds_token = bool(values["model_api"]["token"])
    register_secret(values["model_api"]["token"])
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, json.dumps(data, indent=2) + "\n", private=holds_token)

