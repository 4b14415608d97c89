"""A URL whose scheme does not match the server: ``https://`` against a plain-HTTP port, or ``http://`` against a
TLS port. Both otherwise surface as "could not reach", which sends the user looking for a down service.

- ``https://`` to a plain-HTTP server: the TLS handshake reads an HTTP answer, and OpenSSL reports
  ``WRONG_VERSION_NUMBER`` (OpenSSL 1.1/3.0), ``record layer failure`` (3.2+), ``unknown protocol`` or ``packet length
  too long``; ``requests`` raises ``SSLError``. Certificate problems (``CERTIFICATE_VERIFY_FAILED``) are not this.
- ``http://`` to a TLS server: the server drops or resets the connection (Python's ``ssl`` servers, most ingresses)
  or answers 400 ("The plain HTTP request was sent to HTTPS port", nginx). Nothing in the error says TLS, so the port
  is asked directly: a TLS handshake that completes there proves the server wanted ``https://``.
"""

from __future__ import annotations

import socket
import ssl
from urllib.parse import urlsplit, urlunsplit

from dmm.errors import ApiError
from dmm.redact import redact

TLS_ANSWERS_PLAIN = ("WRONG_VERSION_NUMBER", "record layer failure", "unknown protocol", "packet length too long",
                     "http request")
PLAIN_TO_TLS_ANSWER = "plain HTTP request was sent to HTTPS port"
HANDSHAKE_TIMEOUT_S = 3.0


def _with_scheme(url: str, scheme: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((scheme, parts.netloc, parts.path, "", ""))


def _chain_text(exc: BaseException) -> str:
    """Every message down the exception's causes and arguments (requests wraps urllib3 wraps ssl)."""
    texts: list[str] = []
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        item = stack.pop()
        if id(item) in seen or item is None:
            continue
        seen.add(id(item))
        texts.append(repr(item))
        if isinstance(item, BaseException):
            stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])
    return " ".join(texts)


def speaks_tls(host: str, port: int, timeout: float = HANDSHAKE_TIMEOUT_S) -> bool:
    """A TLS handshake completes at host:port (the certificate is not judged: only the protocol is asked)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=host):
            return True
    except (OSError, ssl.SSLError):
        return False


def mismatch(url: str, service: str, exc: BaseException | None = None, body: str = "") -> ApiError | None:
    """An ``ApiError`` (code ``tls-mismatch``) when ``exc`` (or an answer's ``body``) shows the scheme is wrong."""
    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    if parts.scheme == "https" and exc is not None and any(m.lower() in _chain_text(exc).lower()
                                                             for m in TLS_ANSWERS_PLAIN):
        return ApiError(f"{service} at {where} answers plain HTTP, not HTTPS: the URL {redact(url)} says https://",
                        f"Use {_with_scheme(redact(url), 'http')} (http://), or the server's HTTPS address",
                        url=redact(url), code="tls-mismatch")
    if parts.scheme != "http" or not parts.hostname:
        return None
    if PLAIN_TO_TLS_ANSWER.lower() in body.lower() or (
            exc is not None and speaks_tls(parts.hostname, parts.port or 80)):
        return ApiError(f"{service} at {where} expects HTTPS: the URL {redact(url)} says http://",
                        f"Use {_with_scheme(redact(url), 'https')} (https://)", url=redact(url), code="tls-mismatch")
    return None
