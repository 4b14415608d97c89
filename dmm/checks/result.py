"""The one result type of every check, step 3's live checks and step 6's chain alike.

A check reports, it does not raise: PASS, WARN, FAIL or SKIP, what it found (``detail``), what to do about a FAIL
or WARN (``fix``), what it learnt (``facts``), and for an unattended run the exit code a FAIL ends it with
(2 a wrong answer, 3 a service that could not be reached or failed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from dmm.errors import ApiError, AuthError, DmmError, NotFoundError
from dmm.redact import redact

Status = Literal["PASS", "WARN", "FAIL", "SKIP"]
PASS: Status = "PASS"
WARN: Status = "WARN"
FAIL: Status = "FAIL"
SKIP: Status = "SKIP"

EXIT_BAD_ANSWER = 2
EXIT_SERVICE = 3


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    fix: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)
    exit_code: int = 0  # how an unattended run ends when this check failed; 0 when it did not

    @property
    def ok(self) -> bool:
        return self.status in (PASS, WARN)

    def sentence(self) -> str:
        """The detail and the fix as one line, for an error message or a prompt's "Problem:"."""
        text = self.detail.rstrip(".") + "."
        return f"{text} {self.fix.rstrip('.')}." if self.fix else text

    def to_dict(self) -> dict[str, Any]:
        """The report's shape (``exit_code`` is for the run, not the report)."""
        return {"name": str(self.name), "status": self.status, "detail": self.detail, "fix": self.fix,
                "facts": dict(self.facts)}


def passed(name: str, detail: str, **facts: Any) -> CheckResult:
    return CheckResult(name, PASS, detail, facts=facts)


def failed(name: str, detail: str, fix: str, exit_code: int = EXIT_BAD_ANSWER, **facts: Any) -> CheckResult:
    return CheckResult(name, FAIL, redact(detail), redact(fix), facts, exit_code)


def from_error(name: str, error: DmmError, fix: str = "") -> CheckResult:
    """A FAIL from a library error: a service's failure exits 3, a refusal or a wrong answer exits 2."""
    is_service = isinstance(error, ApiError) and not isinstance(error, (NotFoundError, AuthError))
    return failed(name, error.message, fix or error.advice, EXIT_SERVICE if is_service else EXIT_BAD_ANSWER)
