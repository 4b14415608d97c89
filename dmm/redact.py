"""Keep secrets out of everything we print, log or write."""

from __future__ import annotations

import os
import re

SECRET_ENV_NAMES = ("DOMINO_USER_API_KEY", "DOMINO_MODEL_API_TOKEN")
_MIN_SECRET_LENGTH = 4
_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret value so that ``redact`` masks it wherever it appears."""
    if value and len(value) >= _MIN_SECRET_LENGTH:
        _registered.add(value)


def _known_secrets() -> set[str]:
    values = set(_registered)
    for name in SECRET_ENV_NAMES:
        value = os.environ.get(name)
        if value and len(value) >= _MIN_SECRET_LENGTH:
            values.add(value)
    return values


_HEADER_PATTERN = re.compile(r"(?i)(x-domino-api-key|authorization)(['\"]?\s*[:=]\s*['\"]?)"
                             r"((?:basic|bearer|token) +[^'\"\s,}&]+|[^'\"\s,}&]+)")


# Query parameters that carry a credential in a signed or authenticated URL: S3 presigned URLs (X-Amz-Signature,
# X-Amz-Credential, X-Amz-Security-Token; Signature/AWSAccessKeyId in the v2 form), GCS (X-Goog-Signature,
# X-Goog-Credential; GoogleAccessId in the v2 form), Azure SAS (sig, plus se/sp/sv/skoid/sktid/sks/skv... which bound
# what the signature grants), the sandbox's object store (signature), and any token/key/secret/password a service
# accepts in a URL. Not ``key``: URLs use it for object keys and paths, which are data worth reading in a message (no
# Domino client sends a credential as ``key=``; they send headers). The one list: ``redact``, the trace
# (``dmm.trace``) and the soak's leak check all use it.
SIGNED_URL_PARAMS = ("signature", "x-amz-signature", "x-amz-credential", "x-amz-security-token", "awsaccesskeyid",
                     "x-goog-signature", "x-goog-credential", "googleaccessid", "sig", "se", "sp", "sv", "st",
                     "skoid", "sktid", "skt", "ske", "sks", "skv", "token", "access_token", "id_token",
                     "refresh_token", "api_key", "apikey", "x-domino-api-key", "secret", "client_secret",
                     "password", "passwd", "credential", "auth", "code")
_NAMES = "|".join(re.escape(n) for n in sorted(SIGNED_URL_PARAMS, key=len, reverse=True))
_VALUE = r"[^&#\s'\"<>]*"
_QUERY_PATTERN = re.compile(r"(?i)([?&;](?:" + _NAMES + r")=)" + _VALUE)
# a credential parameter whose value is not masked: what a leak check looks for in output and files
UNMASKED_SIGNED_URL_PARAM = re.compile(r"(?i)[?&](?:" + _NAMES + r")=(?!\*\*\*\*)[^&#\s'\"<>]+")
# credentials written into a URL's authority: scheme://user:password@host
_USERINFO_PATTERN = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@'\"<>]+:)[^/\s@'\"<>]+@")


def mask(value: str) -> str:
    """A recognisable but useless form of a secret: ``****abcd``."""
    return "****" + value[-4:] if len(value) > 8 else "****"


def redact(text: str) -> str:
    """Mask every known secret, every auth header value and every credential in a URL (a signed URL's signature and
    the parameters that bound it, ``user:password@``) in ``text``."""
    if not text:
        return text
    for secret in sorted(_known_secrets(), key=len, reverse=True):
        text = text.replace(secret, "****")
    text = _QUERY_PATTERN.sub(lambda m: f"{m.group(1)}****", text)
    text = _USERINFO_PATTERN.sub(lambda m: f"{m.group(1)}****@", text)
    return _HEADER_PATTERN.sub(lambda m: f"{m.group(1)}{m.group(2)}****", text)


def redact_value(value: object) -> object:
    """``redact`` applied to every string inside a JSON-like value (dicts, lists), keys left as they are."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(item) for item in value]
    return value
