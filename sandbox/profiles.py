"""Profiles: the sandbox behaves as one kind of Domino deployment (``python -m sandbox start --profile NAME``).

Every behaviour is a claim about Domino; the evidence for each is named beside it. Where Domino's behaviour is not
documented, the profile takes the stricter reading and an option (below) switches to the other one.

- ``keys`` (default, today's behaviour): user API keys are enabled. ``DOMINO_USER_API_KEY`` is exported and every
  Domino route takes ``X-Domino-Api-Key`` (python-domino ``domino/authentication.py`` ``ApiKeyAuth``;
  domino_data ``auth.py`` falls back to it) or a Bearer token.
- ``keyless``: user API keys are disabled, as Domino now recommends ("DOMINO_USER_API_KEY ... if enabled", docs
  api_guide get-api-key / authentication; domino-api.md's audit). ``DOMINO_USER_API_KEY`` is not exported and an
  ``X-Domino-Api-Key`` header is refused with 401. Credentials come from the local API proxy
  (``DOMINO_API_PROXY``): a second listener that forwards every request to the sandbox with
  ``Authorization: Bearer <token>`` added (python-domino's ``ProxyAuth`` sends each request to the proxy's host
  and adds nothing itself), and answers ``GET /access-token`` with that token as plain text (domino_data
  ``auth.get_jwt_token`` reads ``{DOMINO_API_PROXY}/access-token``; its clients then send the token as Bearer to
  ``DOMINO_API_HOST`` and the data-source proxy). Model Monitor is *not* served through the proxy by default
  (domino-api.md §0 and §8 [observed]: "it does not front DMM"); ``proxy_fronts_model_monitor`` lets it through.
  A Bearer access token is accepted by Model Monitor on the external URL (DMM v2 takes Domino's credentials since
  5.6, docs user_guide api-token; domino-api.md §0 "Accept X-Domino-Api-Key or Authorization: Bearer").
- ``service-account``: user API keys disabled and no proxy (a job or CI outside a workspace): the only credential is
  a service account's access token in the environment variable ``DOMINO_SERVICE_ACCOUNT_TOKEN`` (a name the
  user chooses; the toolkit's config names it in ``domino.auth_token_env``), sent as Bearer (python-domino
  ``BearerAuth``; domino_data's explicit ``token``).
- ``internal-host``: ``DOMINO_API_HOST`` is an internal address (``nucleus-frontend...`` or ``127.0.0.1:<port>``
  behind the newer gateway, domino-api.md's audit [observed]): a second listener serving the Domino REST routes but
  not ``/model-monitor`` (404 there; Domino's tutorial client swaps that host for the external URL before calling
  Model Monitor). The external URL (``DMM_SANDBOX_URL``, what a browser shows) serves everything.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

DEFAULT_PROFILE = "keys"
SERVICE_ACCOUNT_TOKEN_ENV = "DOMINO_SERVICE_ACCOUNT_TOKEN"
# the options a profile can be given (`--profile-option KEY=VALUE`): the readings of Domino left open
PROFILE_OPTIONS = ("proxy_fronts_model_monitor",)


@dataclass(frozen=True)
class Profile:
    name: str
    summary: str
    user_api_keys: bool = True  # X-Domino-Api-Key accepted and DOMINO_USER_API_KEY exported
    api_proxy: bool = False  # a DOMINO_API_PROXY listener that adds a Bearer token
    service_account_token: bool = False  # a service account's token exported in SERVICE_ACCOUNT_TOKEN_ENV
    internal_host: bool = False  # DOMINO_API_HOST is a listener without /model-monitor
    proxy_fronts_model_monitor: bool = False  # [uncertain]; stricter reading (False) by default

    @property
    def line(self) -> str:
        return f"{self.name:<16} {self.summary}"


PROFILES: dict[str, Profile] = {profile.name: profile for profile in (
    Profile("keys", "user API keys enabled: DOMINO_USER_API_KEY exported, X-Domino-Api-Key accepted (default)"),
    Profile("keyless", "user API keys disabled: credentials only through the API proxy (DOMINO_API_PROXY), "
                       "which does not front Model Monitor", user_api_keys=False, api_proxy=True),
    Profile("service-account", f"user API keys disabled, no proxy: a service account's token in "
                               f"{SERVICE_ACCOUNT_TOKEN_ENV}, sent as Bearer", user_api_keys=False,
            service_account_token=True),
    Profile("internal-host", "DOMINO_API_HOST is an internal address serving Domino's REST routes but not "
                             "/model-monitor; the external URL serves everything", internal_host=True),
)}


def get_profile(name: str, options: dict[str, bool] | None = None) -> Profile:
    """The named profile with its options applied; ``KeyError`` for an unknown name or option."""
    profile = PROFILES[name]
    for key in options or {}:
        if key not in PROFILE_OPTIONS:
            raise KeyError(key)
    if options:
        profile = Profile(**{**profile.__dict__, **options})
    return profile


def access_token(api_key: str, purpose: str) -> str:
    """The sandbox's access token for ``purpose`` (``proxy`` or ``service-account``), derived from its API key so
    that a restarted sandbox accepts the tokens it gave out, and no token equals the key itself."""
    digest = hmac.new(api_key.encode(), f"sandbox-access-token:{purpose}".encode(), hashlib.sha256).hexdigest()
    return f"sandbox-{purpose}-token-{digest[:32]}"


def accepted_tokens(profile: Profile, api_key: str) -> tuple[str, ...]:
    """The Bearer tokens a keyless profile accepts besides nothing else (keys profiles accept the keys too)."""
    return (access_token(api_key, "proxy"), access_token(api_key, "service-account"))
