"""One exception hierarchy for the toolkit.

Every error a user can cause or fix carries a plain sentence naming the problem (``message``) and what to do
about it (``advice``). Scripts print ``str(error)`` and exit with ``error.exit_code``; no traceback.
"""

from __future__ import annotations


class DmmError(Exception):
    """Base class: a problem the user can act on."""

    exit_code = 1

    def __init__(self, message: str, advice: str = "") -> None:
        super().__init__(message)
        self.message = message.rstrip(".")
        self.advice = advice.rstrip(".")

    def __str__(self) -> str:
        text = f"{self.message}."
        return f"{text} {self.advice}." if self.advice else text


class UsageError(DmmError):
    """Bad input: a flag, a file, a column, a name."""

    exit_code = 2


class ConfigError(UsageError):
    """The monitoring config is missing, malformed or still holds placeholders."""


class ApiError(DmmError):
    """A Domino service answered with an error, or could not be reached."""

    exit_code = 3

    def __init__(self, message: str, advice: str = "", *, status: int | None = None,
                 server_message: str = "", url: str = "") -> None:
        super().__init__(message, advice)
        self.status = status
        self.server_message = server_message
        self.url = url


class NotFoundError(ApiError):
    """The named thing does not exist on the server (HTTP 404)."""


class AuthError(ApiError):
    """The credentials were refused (HTTP 401/403)."""


class ConflictError(ApiError):
    """The server refused because the thing already exists or is configured (HTTP 409, some 400s)."""
