"""One retry policy and one trace for every Domino call: ours (``requests``) and Domino's own clients' (``httpx``).

The policy is urllib3's ``Retry`` (counting, exponential backoff with jitter, ``Retry-After``), driven by one small
loop per attempt so that each attempt is traced and the whole call is bounded in time (``RetryPolicy.max_time``).
What is retried, and why:

- a connection that could not be opened (nothing was sent), a 429 (RFC 6585 §4: too many requests, refused) and a
  503 (RFC 9110 §15.6.4: "the server is currently unable to handle the request"), both honouring ``Retry-After``:
  every method, since the server says it did not act (``post_statuses``; a policy may narrow it to 429). Whether a
  Domino gateway ever answers 503 *after* the service acted is not documented; if it does, the repeat is what
  issue 9's own event ids and the ledger make harmless;
- 502, 504, a read timeout or a reset connection: only requests that are safe to repeat (GET, HEAD, PUT,
  DELETE, OPTIONS, and POSTs the policy names as safe: Domino's read-only searches, Model Monitor's registrations,
  which answer a repeat with "already configured"). A POST to a Model API is never repeated on these: the model may
  already have made (and captured) the prediction.

Domino's client libraries are reached without changing them:

- ``domino_data`` (training sets, data sources, the signed object-store URLs, the ``/access-token`` lookup) builds
  its own ``httpx.Client`` objects (``training_set_api_client/client.py``, ``domino_data/data_sources.py``), all on
  httpx's default ``HTTPTransport``: ``install_domino_client_hooks`` wraps ``HTTPTransport.handle_request``.
- python-domino (custom metrics) builds a ``requests.Session`` in ``_HttpRequestManager._set_session``
  (``domino/http_request_manager.py``; its own Retry is mounted on ``https://`` only and skips POSTs and 429):
  the hook mounts our adapter on the sessions it builds.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

from dmm import trace

RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
# POSTs that only read (domino_data's generated clients: training_set_api_client/api/default/*find*,
# datasource_api_client/api/proxy/{get_key_url,list_keys}.py).
DOMINO_SAFE_POSTS = (re.compile(r"/trainingset/(version/)?find$"), re.compile(r"/objectstore/(key|list)$"))


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; ``retry_posts`` marks every POST safe (Model Monitor), else only
    ``safe_posts`` are."""

    total: int = 5
    backoff: float = 0.5
    backoff_max: float = 10.0
    jitter: float = 0.5
    max_time: float = 60.0
    retry_posts: bool = False
    safe_posts: tuple[re.Pattern[str], ...] = field(default=DOMINO_SAFE_POSTS)
    post_statuses: frozenset[int] = frozenset({429, 503})  # "not handled": retried for any method

    def urllib3_retry(self) -> Retry:
        return Retry(total=self.total, connect=self.total, read=self.total, status=self.total, other=0,
                     redirect=0, allowed_methods=None, status_forcelist=RETRY_STATUSES, backoff_factor=self.backoff,
                     backoff_max=self.backoff_max, backoff_jitter=self.jitter, respect_retry_after_header=True,
                     raise_on_status=False, raise_on_redirect=False)

    def repeatable(self, method: str, url: str) -> bool:
        """May a request that possibly reached the service be sent again?"""
        method = method.upper()
        if method in IDEMPOTENT or (method == "POST" and self.retry_posts):
            return True
        path = url.split("?", 1)[0].rstrip("/")
        return method == "POST" and any(p.search(path) for p in self.safe_posts)


DEFAULT_POLICY = RetryPolicy()
MONITOR_POLICY = RetryPolicy(retry_posts=True)
# A prediction POST: only what the model cannot have handled (an unopened connection, 429, 503), never a 500/502/504
# or a lost answer, after which the model may already have made and captured the prediction.
MODEL_API_POLICY = RetryPolicy(total=4)


class _Answer:
    """The little of a response urllib3's ``Retry`` reads (status, headers, no redirect)."""

    def __init__(self, status: int, headers: Mapping[str, str]) -> None:
        self.status, self.headers = status, headers

    def get_redirect_location(self) -> bool:
        return False


MAX_TIME_ENV = "DMM_RETRY_MAX_SECONDS"


def time_budget(policy: RetryPolicy) -> float:
    """The policy's time bound, lowered by ``$DMM_RETRY_MAX_SECONDS`` (for example in CI, or to fail fast by hand)."""
    try:
        override = float(os.environ.get(MAX_TIME_ENV, ""))
    except ValueError:
        return policy.max_time
    return min(policy.max_time, override) if override >= 0 else policy.max_time


def run_with_retry(policy: RetryPolicy, method: str, url: str, attempt: Callable[[int], Any],
                   status_of: Callable[[Any], int], headers_of: Callable[[Any], Mapping[str, str]],
                   failure_kind: Callable[[BaseException], str | None], discard: Callable[[Any], None],
                   replayable: bool = True) -> Any:
    """Call ``attempt(n)`` until it succeeds, may not be repeated, or the policy runs out of tries or time.

    ``failure_kind(exc)`` says ``"connect"`` (nothing sent), ``"read"`` (maybe sent) or ``None`` (not retryable).
    The last answer is returned (the caller reports it), or the last error is raised.
    """
    retry = policy.urllib3_retry()
    deadline = time.monotonic() + time_budget(policy)
    number = 0
    while True:
        number += 1
        try:
            answer = attempt(number)
        except Exception as exc:
            kind = failure_kind(exc)
            allowed = replayable and (kind == "connect" or (kind == "read" and policy.repeatable(method, url)))
            if not allowed:
                raise
            try:
                retry = retry.increment(method, url, error=_as_urllib3_error(exc, kind))
            except MaxRetryError:
                raise exc from None
            wait = retry.get_backoff_time()
            if time.monotonic() + wait > deadline:
                raise
            time.sleep(wait)
            continue
        status = status_of(answer)
        if status not in RETRY_STATUSES or not replayable:
            return answer
        if status not in policy.post_statuses and not policy.repeatable(method, url):
            return answer
        shim = _Answer(status, headers_of(answer))
        try:
            retry = retry.increment(method, url, response=shim)  # type: ignore[arg-type]
        except MaxRetryError:
            return answer
        after = retry.get_retry_after(shim) if status in (429, 503) else None  # type: ignore[arg-type]
        wait = retry.get_backoff_time() if after is None else after
        if time.monotonic() + wait > deadline:
            return answer
        discard(answer)
        time.sleep(wait)


def _as_urllib3_error(exc: BaseException, kind: str | None) -> Exception:
    from urllib3.exceptions import NewConnectionError, ProtocolError

    if kind == "connect":
        return NewConnectionError(None, str(exc))  # type: ignore[arg-type]
    return ProtocolError(str(exc))


# ------------------------------------------------------------------------------------------------ requests


def _requests_failure(exc: BaseException) -> str | None:
    if isinstance(exc, requests.exceptions.SSLError):  # a TLS refusal (wrong scheme, untrusted certificate) repeats
        return None
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connect"
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)
        from urllib3.exceptions import NewConnectionError

        if isinstance(reason, NewConnectionError) or "NewConnectionError" in repr(reason) \
                or "Connection refused" in str(reason):
            return "connect"
        return "read"
    if isinstance(exc, requests.exceptions.Timeout):
        return "read"
    return None


class RetryingAdapter(HTTPAdapter):
    """A ``requests`` adapter that retries by ``policy`` and traces every attempt as ``client``."""

    def __init__(self, policy: RetryPolicy = DEFAULT_POLICY, client: str = "dmm", **kwargs: Any) -> None:
        self.policy, self.client = policy, client
        super().__init__(max_retries=0, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        method, url = (request.method or "GET").upper(), request.url or ""
        replayable = request.body is None or isinstance(request.body, (bytes, str))

        def attempt(number: int) -> requests.Response:
            started = time.perf_counter()
            try:
                response = HTTPAdapter.send(self, request, **kwargs)
            except Exception as exc:
                trace.record(client=self.client, method=method, url=url, attempt=number, error=repr(exc),
                             elapsed=time.perf_counter() - started, request_headers=request.headers,
                             request_body=request.body, request_type=request.headers.get("Content-Type", ""))
                raise
            if trace.active():
                body = None if kwargs.get("stream") else response.content
                trace.record(client=self.client, method=method, url=url, status=response.status_code,
                             attempt=number, elapsed=time.perf_counter() - started, request_headers=request.headers,
                             request_body=request.body, request_type=request.headers.get("Content-Type", ""),
                             response_headers=response.headers, response_body=body,
                             response_type=response.headers.get("Content-Type", ""))
            return response

        return run_with_retry(self.policy, method, url, attempt, lambda r: r.status_code, lambda r: r.headers,
                              _requests_failure, lambda r: r.close(), replayable)


def mount(session: requests.Session, policy: RetryPolicy = DEFAULT_POLICY, client: str = "dmm",
          pool_size: int = 10) -> requests.Session:
    adapter = RetryingAdapter(policy, client, pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# ------------------------------------------------------------------------------------------------ Domino's clients


def _httpx_failure(exc: BaseException) -> str | None:
    import httpx

    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return "connect"
    if isinstance(exc, (httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.WriteError)):
        return "read"
    return None


def _client_name(url: str) -> str:
    if "/trainingset" in url:
        return "domino_data.training_sets"
    if "/access-token" in url:
        return "domino_data.access_token"
    return "domino_data"


_installed = False


def install_domino_client_hooks(policy: RetryPolicy = DEFAULT_POLICY) -> None:
    """Give Domino's client libraries our retry policy and trace (once per process; idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    _hook_httpx(policy)
    _hook_python_domino(policy)


MLFLOW_POLICY = RetryPolicy(retry_posts=True)  # step 2 only reads; MLflow's own retry repeats every method too


def install_mlflow_hook(policy: RetryPolicy = MLFLOW_POLICY) -> None:
    """MLflow's REST calls (Domino's experiment manager) get our retry policy and trace: the sessions MLflow builds in
    ``mlflow.utils.request_utils._get_request_session`` (MLflow 2.12 to 3.x) get our adapter (idempotent)."""
    from mlflow.utils import request_utils

    original = request_utils._get_request_session
    if getattr(original, "dmm_hooked", False):
        return

    def get_request_session(*args: Any, **kwargs: Any) -> requests.Session:
        session = original(*args, **kwargs)
        if not getattr(session, "dmm_mounted", False):
            mount(session, policy, "mlflow")
            session.dmm_mounted = True
        return session

    get_request_session.dmm_hooked = True  # type: ignore[attr-defined]
    request_utils._get_request_session = get_request_session


def _hook_httpx(policy: RetryPolicy) -> None:
    import httpx

    original = httpx.HTTPTransport.handle_request

    def handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        method, url = request.method.upper(), str(request.url)
        replayable = isinstance(request.stream, httpx.ByteStream)
        body = request.content if replayable else None
        client = _client_name(url)

        def attempt(number: int) -> httpx.Response:
            started = time.perf_counter()
            try:
                response = original(self, request)
            except Exception as exc:
                trace.record(client=client, method=method, url=url, attempt=number, error=repr(exc),
                             elapsed=time.perf_counter() - started, request_headers=request.headers.multi_items(),
                             request_body=body, request_type=request.headers.get("Content-Type", ""))
                raise
            if trace.active():
                response.read()
                trace.record(client=client, method=method, url=url, status=response.status_code, attempt=number,
                             elapsed=time.perf_counter() - started, request_headers=request.headers.multi_items(),
                             request_body=body, request_type=request.headers.get("Content-Type", ""),
                             response_headers=response.headers.multi_items(), response_body=response.content,
                             response_type=response.headers.get("Content-Type", ""))
            return response

        return run_with_retry(policy, method, url, attempt, lambda r: r.status_code, lambda r: r.headers,
                              _httpx_failure, lambda r: r.close(), replayable)

    httpx.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign]


def _hook_python_domino(policy: RetryPolicy) -> None:
    try:
        from domino import http_request_manager
    except ImportError:  # pragma: no cover - python-domino is a runtime dependency
        return
    manager = getattr(http_request_manager, "_HttpRequestManager", None)
    original = getattr(manager, "_set_session", None)
    if manager is None or original is None:  # pragma: no cover - another python-domino layout: its own retries stay
        return

    def _set_session(self: Any) -> requests.Session:
        return mount(original(self), policy, "python-domino")

    manager._set_session = _set_session
