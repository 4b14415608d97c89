"""Step 3's session: what the wizard has learnt so far (``WizardSession``), and what its live checks reach Domino
with (``LiveChecks``). The questions that read and fill it are in ``dmm.wizard_questions``."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dmm.auth import Credentials
from dmm.checks.probes import FindsDataSources
from dmm.config import KNOWN_KEYS, is_placeholder, override_env_name
from dmm.errors import UsageError
from dmm.monitor import ModelMonitorClient
from dmm.redact import register_secret
from dmm.schema import MonitoringSchema

if TYPE_CHECKING:
    from dmm.wizard import WizardIO, WizardOptions


@dataclass
class WizardSession:
    """What the wizard has learnt so far: answers, the starting config, and live handles."""

    options: WizardOptions
    io: WizardIO
    env: MutableMapping[str, str]  # the run's environment over the process's: a token typed in is kept here only
    base: dict[str, Any]
    base_dir: Path
    output: Path
    checks: LiveChecks
    answers: dict[str, str] = field(default_factory=dict)
    schema: MonitoringSchema | None = None
    monitor: ModelMonitorClient | None = None
    credentials: Credentials | None = None
    datasource_record: dict[str, Any] | None = None
    model_record: dict[str, Any] | None = None  # Model Monitor's record of the answered model (its endpoint, if any)
    store_token: bool = False  # --store-token, or "yes" to the offer after a token was typed in

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
        return display_path(self.base_dir / value) if value else ""

    @property
    def interactive(self) -> bool:
        return not self.options.yes

    @property
    def live(self) -> bool:
        return not self.options.offline

    def resolve_credentials(self) -> Credentials:
        """``--auth``, else ``domino.auth_method`` (config or override), else auto: ``dmm.auth``'s chain."""
        from dmm import auth

        method = self.options.auth or self.base_value("domino.auth_method") or auth.AUTO
        return auth.resolve(method, token_env=self.options.auth_token_env or self.base_value("domino.auth_token_env"),
                            api_key_env=self.api_key_env, env=self.env)

    @property
    def api_key_env(self) -> str:
        return self.base_value("domino.user_api_key_env") or KNOWN_KEYS["domino"]["user_api_key_env"][1]

    @property
    def timeout(self) -> float:
        try:
            return float(self.base_value("model_api.timeout") or KNOWN_KEYS["model_api"]["timeout"][1])
        except ValueError:
            return KNOWN_KEYS["model_api"]["timeout"][1]


def check_token_env(s: WizardSession) -> None:
    """``--auth-token-env NAME``: a variable name, and (unless --offline) set and non-empty; its value is registered
    as a secret and never shown."""
    name = s.options.auth_token_env
    if not name:
        return
    from dmm.cli import check_auth_token_env

    check_auth_token_env(name)
    value = s.env.get(name, "").strip()
    register_secret(value)
    if s.live and not value:
        raise UsageError(f"--auth-token-env names {name}, which is not set or is empty",
                         f"Export {name} with the access token (a service account's token, or one from Account "
                         "Settings), or add --offline", code="auth-method-unavailable")


def display_path(path: Path) -> str:
    path = path.expanduser().resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _check_session() -> Any:
    """A session for interactive checks: a couple of quick retries, so a wrong host fails in seconds."""
    from dmm.http import build_retry, make_session
    return make_session(retry=build_retry(total=2, backoff=0.2))


class LiveChecks:
    """What the live checks reach Domino with; tests pass fakes (a session factory, a Model API client factory,
    an object with ``exists(name)`` for Domino's data sources)."""

    def __init__(self, session_factory: Callable[[], Any] | None = None,
                 model_api_factory: Callable[..., Any] | None = None,
                 datasources: FindsDataSources | None = None) -> None:
        self.session_factory = session_factory or _check_session
        self.model_api_factory = model_api_factory
        if datasources is None:
            from dmm.datasources import DataSources
            datasources = DataSources()
        self.datasources = datasources

    def use_credentials(self, credentials: Credentials) -> None:
        """Reach Domino's data sources with the method the wizard chose (when they are the real ones)."""
        use = getattr(self.datasources, "use", None)
        if use is not None:
            from dmm import domino_clients

            use(lambda: domino_clients.data_source_client(credentials))
