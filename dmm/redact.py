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
                             r"((?:basic|bearer|token) +[^'\"\s,}]+|[^'\"\s,}]+)")


def mask(value: str) -> str:
    """A recognisable but useless form of a secret: ``****abcd``."""
    return "****" + value[-4:] if len(value) > 8 else "****"


def redact(text: str) -> str:
    """Mask every known secret and every auth header value in ``text``."""
    if not text:
        return text
    for secret in sorted(_known_secrets(), key=len, reverse=True):
        text = text.replace(secret, "****")
    return _HEADER_PATTERN.sub(lambda m: f"{m.group(1)}{m.group(2)}****", text)
