"""One exception hierarchy for the toolkit.

Every error a user can cause or fix carries a plain sentence naming the problem (``message``), what to do
about it (``advice``) and a stable ``code`` (``config-placeholder``, ``file-missing``, ...) that tests and callers
match on instead of the wording. Scripts print ``str(error)`` and exit with ``error.exit_code``; no traceback.

Codes are lower-case words joined by ``-``: the thing, then what is wrong with it. A raise site that names no
code gets its class's ``default_code`` (``error``, ``usage``, ``config``, ``api``, ``not-found``, ``auth``,
``conflict``). A code, once published, keeps its meaning; the wording may change.
"""

from __future__ import annotations


class DmmError(Exception):
    """Base class: a problem the user can act on."""

    exit_code = 1
    default_code = "error"

    def __init__(self, message: str, advice: str = "", *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message.rstrip(".")
        self.advice = advice.rstrip(".")
        self.code = code or self.default_code

    def __str__(self) -> str:
        text = f"{self.message}."
        return f"{text} {self.advice}." if self.advice else text


class UsageError(DmmError):
    """Bad input: a flag, a file, a column, a name."""

    exit_code = 2
    default_code = "usage"


class ConfigError(UsageError):
    """The monitoring config is missing, malformed or still holds placeholders."""

    default_code = "config"


class ApiError(DmmError):
    """A Domino service answered with an error, or could not be reached."""

    exit_code = 3
    default_code = "api"

    def __init__(self, message: str, advice: str = "", *, status: int | None = None,
                 server_message: str = "", url: str = "", code: str | None = None) -> None:
        super().__init__(message, advice, code=code)
        self.status = status
        self.server_message = server_message
        self.url = url


class NotFoundError(ApiError):
    """The named thing does not exist on the server (HTTP 404)."""

    default_code = "not-found"


class AuthError(ApiError):
    """The credentials were refused (HTTP 401/403)."""

    default_code = "auth"


class ConflictError(ApiError):
    """The server refused because the thing already exists or is configured (HTTP 409, some 400s)."""

    default_code = "conflict"


class Interrupted(DmmError):
    """Ctrl-C or SIGTERM stopped a step part-way; the message says what was kept and how to finish (exit 130)."""

    exit_code = 130
    default_code = "interrupted"
