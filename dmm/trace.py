"""A trace of every HTTP exchange with Domino: ``--trace FILE`` on every step, or ``DMM_TRACE=FILE``.

One JSON line per exchange (every attempt of a retried request is its own line; ``pid`` tells the steps apart
when several append to one file), written by the transport layer
(``dmm.transport``) for our own ``requests`` sessions and for the ``httpx``/``requests`` sessions of Domino's own
client libraries. Each line holds the time, the client, method, URL, status (or the error), the attempt number,
the elapsed seconds and the request and response headers and bodies. Before anything is written:

- auth headers (``Authorization``, ``X-Domino-Api-Key``, ``X-Domino-Jwt``, cookies) become ``****``;
- URL query parameters that carry a credential (signatures, tokens, keys, SAS ``sig``/``se``/``sp``, ...) become
  ``****``;
- every known secret (``dmm.redact``) is masked in URLs and bodies;
- bodies are cut at ``BODY_LIMIT`` characters, and binary bodies are only described (``<N bytes>``).

The file is opened for appending with mode 0600 and each line is flushed as it is written, so a trace survives a
crash of the step; no line ever holds a secret, so the file may be attached to a support ticket.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dmm.redact import SIGNED_URL_PARAMS, redact

TRACE_ENV = "DMM_TRACE"
BODY_LIMIT = 4000
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-domino-api-key", "x-domino-jwt", "cookie",
                            "set-cookie", "x-dmm-api-key", "x-amz-security-token"})
# Query parameters that authorise a request by themselves: the one list, ``dmm.redact.SIGNED_URL_PARAMS``.
SECRET_QUERY_KEYS = frozenset(SIGNED_URL_PARAMS)
MASK = "****"

_lock = threading.Lock()
_file: IO[str] | None = None
_path: Path | None = None


def redact_text(text: str) -> str:
    """Known secrets and every credential-carrying URL query parameter in ``text`` masked (``redact`` does both)."""
    return redact(text)


def redact_url(url: str) -> str:
    """``url`` with every credential-carrying query parameter masked and every known secret removed."""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return redact(str(url))
    if parts.query:
        pairs = [(k, MASK if k.lower() in SECRET_QUERY_KEYS else v) for k, v in parse_qsl(parts.query, True)]
        parts = parts._replace(query=urlencode(pairs, safe="*/:"))
    if parts.password:
        parts = parts._replace(netloc=f"{parts.username}:{MASK}@{parts.hostname}"
                                      + (f":{parts.port}" if parts.port else ""))
    return redact(urlunsplit(parts))


def redact_headers(headers: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else (headers or ())
    return {str(k): MASK if str(k).lower() in SECRET_HEADERS else redact_text(str(v)) for k, v in items}


def describe_body(body: Any, content_type: str = "") -> str | None:
    """A printable, redacted, size-limited form of a request or response body."""
    if body is None or body == b"" or body == "":
        return None
    if isinstance(body, (bytes, bytearray, memoryview)):
        raw = bytes(body)
        textual = any(t in content_type.lower() for t in ("json", "text", "xml", "form")) or not content_type
        if not textual:
            return f"<{len(raw)} bytes>"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return f"<{len(raw)} bytes>"
    elif isinstance(body, str):
        text = body
    else:
        return f"<{type(body).__name__}>"
    cut = len(text) > BODY_LIMIT
    text = redact_text(text[:BODY_LIMIT])
    return f"{text}… <{len(text)} chars shown>" if cut else text


def active() -> bool:
    return _file is not None


def path() -> Path | None:
    return _path


def hint() -> str:
    """The sentence a fix text adds when a Domino call failed."""
    if _path is not None:
        return f"Every exchange with Domino is in the trace {_path}"
    return "Rerun with --trace FILE to record every exchange with Domino (secrets masked)"


def start(target: str | os.PathLike[str] | None) -> Path | None:
    """Open ``target`` (or ``$DMM_TRACE``) for appending trace lines; ``None`` when neither names a file."""
    global _file, _path
    target = target or os.environ.get(TRACE_ENV) or None
    if not target:
        return None
    from dmm.errors import UsageError

    resolved = Path(target).expanduser().resolve()
    try:
        resolved.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(resolved, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as error:
        raise UsageError(f"The trace file {resolved} cannot be written ({error.strerror or error})",
                         "Pass --trace a path in a writable folder", code="trace-unwritable") from None
    with _lock:
        stop()
        _file, _path = os.fdopen(fd, "a", encoding="utf-8"), resolved
    from dmm import transport

    transport.install_domino_client_hooks()
    return resolved


def stop() -> None:
    global _file, _path
    if _file is not None:
        try:
            _file.close()
        except OSError:
            pass
    _file, _path = None, None


def record(*, client: str, method: str, url: str, status: int | None = None, error: str | None = None,
           attempt: int = 1, elapsed: float = 0.0, request_headers: Any = None, request_body: Any = None,
           request_type: str = "", response_headers: Any = None, response_body: Any = None,
           response_type: str = "", retry: str | None = None) -> None:
    """Write one exchange (no-op unless a trace was started). Never raises: a trace must not break a step."""
    if _file is None:
        return
    try:
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z", "pid": os.getpid(), "client": client,
                "method": method, "url": redact_url(url), "status": status, "attempt": attempt,
                "elapsed_s": round(elapsed, 4), "request": {"headers": redact_headers(request_headers),
                                                           "body": describe_body(request_body, request_type)}}
        if error:
            line["error"] = redact_text(error)[:500]
        else:
            line["response"] = {"headers": redact_headers(response_headers),
                                "body": describe_body(response_body, response_type)}
        if retry:
            line["retry"] = retry
        text = json.dumps(line, default=str)
        with _lock:
            if _file is not None:
                _file.write(text + "\n")
                _file.flush()
    except Exception:  # pragma: no cover - a broken trace must never break the step that is traced
        pass
