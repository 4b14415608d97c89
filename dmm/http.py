"""The one HTTP layer for Domino's REST services (Model Monitor, Model API, custom metrics lookups).

A ``requests`` session with the auth header, a default timeout and the one retry policy of ``dmm.transport``
(urllib3's ``Retry`` driving backoff with jitter on 429, 502, 503, 504 and dropped connections; every attempt
traced); errors become ``ApiError`` subclasses carrying the status, the server's message and advice, with every
secret redacted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from urllib3.exceptions import ReadTimeoutError

from dmm import tls
from dmm.errors import ApiError, AuthError, ConflictError, NotFoundError
from dmm.redact import redact, register_secret
from dmm.transport import RETRY_STATUSES, RetryPolicy, mount

DEFAULT_TIMEOUT = 30.0
ALL_METHODS = frozenset({"GET", "PUT", "DELETE", "HEAD", "OPTIONS", "POST", "PATCH"})
__all__ = ["RETRY_STATUSES", "ApiClient", "api_key_headers", "build_retry", "make_session", "raise_for_response"]


def build_retry(total: int = 4, backoff: float = 0.5, methods: frozenset[str] | None = None,
                max_time: float = 60.0, post_statuses: frozenset[int] = frozenset({429, 503})) -> RetryPolicy:
    """The retry policy (``dmm.transport``): backoff with jitter on connection failures, 429 and 503 (honouring
    Retry-After), 502 and 504; POSTs are repeated after a possible delivery (502, 504, a lost answer) only if
    ``methods`` names POST (the default: Model Monitor's registrations answer a repeat with "already configured")."""
    methods = ALL_METHODS if methods is None else methods
    return RetryPolicy(total=total, backoff=backoff, jitter=min(backoff, 0.5), max_time=max_time,
                       retry_posts="POST" in methods, post_statuses=post_statuses)


def make_session(headers: Mapping[str, str] | None = None, auth: Any = None,
                 retry: RetryPolicy | None = None, pool_size: int = 10, client: str = "dmm") -> requests.Session:
    """A session whose every request is retried by ``retry`` and traced (``dmm.trace``) as ``client``."""
    session = mount(requests.Session(), retry if retry is not None else build_retry(), client, pool_size)
    if headers:
        session.headers.update(headers)
    if auth:
        session.auth = auth
    return session


def api_key_headers(api_key: str) -> dict[str, str]:
    register_secret(api_key)
    return {"X-Domino-Api-Key": api_key}


def server_message(response: requests.Response) -> str:
    """The most useful text of an error response: its ``message`` / ``errors`` fields, else the body."""
    try:
        body = response.json()
    except ValueError:
        return redact(response.text.strip()[:500])
    if isinstance(body, dict):
        for key in ("message", "errors", "error", "detail"):
            if body.get(key):
                value = body[key]
                text = "; ".join(map(str, value)) if isinstance(value, list) else str(value)
                return redact(text[:500])
    return redact(json.dumps(body)[:500])


_ADVICE_BY_STATUS = {
    401: "Check that the API key or token is set and valid (for Domino: DOMINO_USER_API_KEY; for a Model API: its "
         "access token)",
    403: "The credentials were accepted but lack permission here: ask the project owner for access",
    404: "Check the id or name in monitoring_config.json against Domino's UI",
    429: "The service is rate limiting: lower --concurrency or --rate and try again",
}


def raise_for_response(response: requests.Response, what: str, advice: str = "") -> None:
    """Turn a non-2xx answer into the matching ``ApiError`` subclass."""
    if response.status_code < 400:
        return
    status = response.status_code
    message = server_message(response)
    cls = {401: AuthError, 403: AuthError, 404: NotFoundError, 409: ConflictError}.get(status, ApiError)
    advice = advice or _ADVICE_BY_STATUS.get(
        status, "The server reported an error; try again, and if it persists check the service's status")
    detail = f": {message}" if message else ""
    raise cls(f"{what} failed with HTTP {status}{detail}", advice, status=status, server_message=message,
              url=redact(response.url), code="rate-limited" if status == 429 else None)


def _read_timed_out(exc: requests.exceptions.ConnectionError) -> bool:
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, ReadTimeoutError)


@dataclass
class ApiClient:
    """A base URL plus a configured session; every call returns parsed JSON or raises ``ApiError``."""

    base_url: str
    session: requests.Session = field(default_factory=make_session)
    timeout: float = DEFAULT_TIMEOUT
    service_name: str = "Domino"

    def url(self, path: str) -> str:
        if not path:  # the base URL is the whole endpoint (e.g. a Model API's URL)
            return self.base_url
        return f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, what: str = "", advice: str = "", **kwargs: Any) -> Any:
        url = self.url(path)
        what = redact(what or f"{method} {path}")
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.exceptions.RetryError as exc:
            raise ApiError(f"{what} kept failing after retries ({redact(str(exc.args[0]) if exc.args else '')})",
                           "The service is overloaded or down; wait and try again", url=redact(url),
                           code="retries-exhausted") from None
        except requests.exceptions.Timeout:
            raise self._timed_out(what, kwargs["timeout"], url) from None
        except requests.exceptions.ConnectionError as exc:
            if _read_timed_out(exc):  # requests wraps a read timeout whose retries ran out as a ConnectionError
                raise self._timed_out(what, kwargs["timeout"], url) from None
            scheme_error = tls.mismatch(url, self.service_name, exc)  # https:// to an http server, or the reverse
            if scheme_error is not None:
                raise scheme_error from None
            raise ApiError(f"Could not reach {self.service_name} at {redact(self.base_url)}",
                           "Check the URL in monitoring_config.json and that the service is running", url=redact(url),
                           code="unreachable") from None
        if response.status_code == 400 and url.startswith("http://"):
            scheme_error = tls.mismatch(url, self.service_name, body=response.text[:2000])
            if scheme_error is not None:
                raise scheme_error
        raise_for_response(response, what, advice)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    def _timed_out(self, what: str, timeout: Any, url: str) -> ApiError:
        return ApiError(f"{what} timed out after {timeout} s talking to {self.service_name} at {redact(self.base_url)}",
                        "Check that the service is up, or raise the timeout", url=redact(url), code="timeout")

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)
