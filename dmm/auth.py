"""How the toolkit proves who it is to Domino: the methods python-domino supports, in its order of preference.

python-domino (``domino/authentication.py`` ``get_auth_by_type``, ``domino/domino.py`` ``Domino.__init__``) prefers,
in this order: the local API proxy (``DOMINO_API_PROXY``, which adds credentials itself), an explicit access token
(Bearer), the token file (``DOMINO_TOKEN_FILE``, first line, re-read on every request), then the user API key
(``X-Domino-Api-Key``). ``domino_data`` (``domino_data/auth.py``) knows the same four, and fetches a token from the
proxy with ``GET {DOMINO_API_PROXY}/access-token`` (a plain-text JWT) instead of sending requests through it.

Here:

- ``auto`` (the default) walks that chain: ``api-proxy`` if ``DOMINO_API_PROXY`` is set, ``token`` if the variable
  named by ``domino.auth_token_env`` holds one (a service account's token, for example), ``token-file`` if
  ``DOMINO_TOKEN_FILE`` names an existing file, else ``api-key`` from the variable named by
  ``domino.user_api_key_env``.
- ``domino.auth_method`` (or ``--auth``, or ``DMM_DOMINO_AUTH_METHOD``) picks one method and only that one, since
  whether each method reaches Model Monitor's REST API is not documented for every Domino version.
- For our own calls (Model Monitor), ``api-proxy`` means what ``domino_data`` does: a token fetched from
  ``{DOMINO_API_PROXY}/access-token``, sent as ``Authorization: Bearer`` to the external URL (Model Monitor is not
  served through the proxy: domino-api.md §0).
- A token or key is registered with ``dmm.redact`` as soon as it is read, so it never reaches output or files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dmm.errors import ApiError, ConfigError
from dmm.redact import register_secret

AUTO = "auto"
API_PROXY, TOKEN, TOKEN_FILE, API_KEY = "api-proxy", "token", "token-file", "api-key"
METHODS = (API_PROXY, TOKEN, TOKEN_FILE, API_KEY)
CHOICES = (AUTO, *METHODS)
METHOD_ENV = "DMM_DOMINO_AUTH_METHOD"
TOKEN_ENV_ENV = "DMM_DOMINO_AUTH_TOKEN_ENV"
DEFAULT_KEY_ENV = "DOMINO_USER_API_KEY"
LABELS = {API_PROXY: "the Domino API proxy (DOMINO_API_PROXY)", TOKEN: "an access token",
          TOKEN_FILE: "the token file (DOMINO_TOKEN_FILE)", API_KEY: "the user API key"}


@dataclass(frozen=True)
class Credentials:
    """One chosen method and what it needs; ``headers()`` for our own requests."""

    method: str
    source: str  # where the credential comes from, for messages: "$DOMINO_USER_API_KEY", "DOMINO_API_PROXY=…"
    api_key: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    token_file: str = ""
    proxy_url: str = ""
    _cached: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def describe(self) -> str:
        return f"{LABELS[self.method]} from {self.source}"

    def headers(self) -> dict[str, str]:
        """The auth header for a request we send ourselves (read fresh for a token file, as python-domino does)."""
        if self.method == API_KEY:
            return {"X-Domino-Api-Key": self.api_key}
        if self.method == TOKEN:
            return {"Authorization": f"Bearer {self.token}"}
        if self.method == TOKEN_FILE:
            return {"Authorization": f"Bearer {read_token_file(self.token_file)}"}
        if "jwt" not in self._cached:
            self._cached["jwt"] = fetch_proxy_token(self.proxy_url)
        return {"Authorization": f"Bearer {self._cached['jwt']}"}

    def domino_data_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``domino_data``'s clients, with only the chosen method set."""
        return {"api_key": self.api_key or None, "token": self.token or None,
                "token_file": self.token_file or None, "token_url": self.proxy_url or None}

    def python_domino_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``domino.Domino(...)`` (its own names for the same four methods)."""
        return {API_PROXY: {"api_proxy": self.proxy_url}, TOKEN: {"auth_token": self.token},
                TOKEN_FILE: {"domino_token_file": self.token_file}, API_KEY: {"api_key": self.api_key}}[self.method]

    def fix(self) -> str:
        """What to do when Domino refused this identity."""
        return {API_PROXY: "The API proxy's identity was refused: run this inside a Domino workspace or job, or "
                           "choose another method with --auth (token, token-file, api-key)",
                TOKEN: f"Put a current access token in {self.source} (a service account's token, or one from "
                       "Account Settings), or choose another method with --auth",
                TOKEN_FILE: f"The token in {self.token_file} was refused; restart the workspace to renew it, or "
                            "choose another method with --auth",
                API_KEY: f"Export {self.source.lstrip('$')} with a current key from Account Settings > API Key "
                         "(or choose --auth token / api-proxy where keys are disabled)"}[self.method]


def read_token_file(path: str) -> str:
    try:
        with open(path, encoding="ascii") as handle:
            token = handle.readline().strip()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"The token file {path} (DOMINO_TOKEN_FILE) cannot be read ({error})",
                          "Point DOMINO_TOKEN_FILE at the file Domino wrote, or choose another method with --auth",
                          code="auth-token-file-unreadable") from None
    register_secret(token)
    return token


def fetch_proxy_token(proxy_url: str, timeout: float = 10) -> str:
    """``GET {DOMINO_API_PROXY}/access-token`` answers a plain-text JWT (``domino_data/auth.py`` get_jwt_token)."""
    import requests

    from dmm import transport

    session = transport.mount(requests.Session(), transport.DEFAULT_POLICY, "dmm.access_token")
    url = f"{proxy_url.rstrip('/')}/access-token"
    try:
        response = session.get(url, timeout=timeout)
    except requests.RequestException as error:
        raise ApiError(f"Could not reach the Domino API proxy at {proxy_url} ({type(error).__name__})",
                       "Run this inside a Domino workspace or job (the proxy runs there), or choose another method "
                       "with --auth", url=url, code="unreachable") from None
    finally:
        session.close()
    if response.status_code != 200 or not response.text.strip():
        raise ApiError(f"The Domino API proxy at {proxy_url} gave no access token (HTTP {response.status_code})",
                       "Run this inside a Domino workspace or job, or choose another method with --auth",
                       status=response.status_code, url=url, code="auth-proxy-no-token")
    token = response.text.strip()
    register_secret(token)
    return token


def _proxy_url(value: str) -> str:
    """python-domino accepts ``host:port`` or ``scheme://host:port`` (``ProxyAuth``); give it a scheme."""
    return value if value.startswith(("http://", "https://")) else f"http://{value}"


def resolve(method: str = AUTO, *, token_env: str = "", api_key_env: str = DEFAULT_KEY_ENV,
            env: Mapping[str, str] | None = None) -> Credentials:
    """The credentials for ``method`` (``auto`` walks python-domino's order); ``ConfigError`` naming the fix."""
    env = os.environ if env is None else env
    method = (method or AUTO).strip().lower()
    if method not in CHOICES:
        raise ConfigError(f"Unknown auth method {method!r}", f"Use one of: {', '.join(CHOICES)}",
                          code="auth-method-unknown")
    tried = []
    for candidate in (METHODS if method == AUTO else (method,)):
        found = _try(candidate, token_env, api_key_env, env)
        if isinstance(found, Credentials):
            return found
        tried.append(found)
    if method == AUTO:
        raise ConfigError("No Domino credentials were found (" + "; ".join(tried) + ")",
                          f"In a Domino workspace or job they are set for you; elsewhere export {api_key_env} with "
                          "the key from Account Settings > API Key, or name a variable holding an access token in "
                          "domino.auth_token_env", code="api-key-missing")
    raise ConfigError(f"The auth method {method!r} was chosen but {tried[0]}",
                      "Set what it needs, or choose another method with --auth (or domino.auth_method)",
                      code="auth-method-unavailable")


def _try(method: str, token_env: str, api_key_env: str, env: Mapping[str, str]) -> Credentials | str:
    if method == API_PROXY:
        proxy = env.get("DOMINO_API_PROXY", "").strip()
        return (Credentials(API_PROXY, f"DOMINO_API_PROXY={proxy}", proxy_url=_proxy_url(proxy)) if proxy
                else "DOMINO_API_PROXY is not set")
    if method == TOKEN:
        if not token_env:
            return "domino.auth_token_env names no variable"
        token = env.get(token_env, "").strip()
        register_secret(token)
        return Credentials(TOKEN, f"${token_env}", token=token) if token else f"{token_env} is not set"
    if method == TOKEN_FILE:
        path = env.get("DOMINO_TOKEN_FILE", "").strip()
        if not path:
            return "DOMINO_TOKEN_FILE is not set"
        return (Credentials(TOKEN_FILE, f"DOMINO_TOKEN_FILE={path}", token_file=path) if Path(path).is_file()
                else f"DOMINO_TOKEN_FILE names {path}, which does not exist")
    key = env.get(api_key_env, "").strip()
    register_secret(key)
    return Credentials(API_KEY, f"${api_key_env}", api_key=key) if key else f"{api_key_env} is not set"


def from_config(config: Any, env: Mapping[str, str] | None = None) -> Credentials:
    """The credentials a loaded ``MonitoringConfig`` asks for."""
    data = getattr(config, "data", {}) or {}
    domino = data.get("domino", {}) if isinstance(data, Mapping) else {}
    return resolve(domino.get("auth_method") or AUTO, token_env=domino.get("auth_token_env", ""),
                   api_key_env=getattr(config, "user_api_key_env", DEFAULT_KEY_ENV),
                   env=getattr(config, "env", None) if env is None else env)


def from_environment(env: Mapping[str, str] | None = None) -> Credentials:
    """For steps that run without a config (step 1): ``DMM_DOMINO_AUTH_METHOD`` / ``DMM_DOMINO_AUTH_TOKEN_ENV``."""
    env = os.environ if env is None else env
    return resolve(env.get(METHOD_ENV, AUTO), token_env=env.get(TOKEN_ENV_ENV, ""), env=env)


class RequestsAuth:
    """A ``requests`` auth hook that adds the chosen credentials' header to every request."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials

    def __call__(self, request: Any) -> Any:
        request.headers.update(self.credentials.headers())
        return request
