"""A chain of checks: each registered under a ``CheckName`` with the checks it needs, run in registration order.

A check whose prerequisite did not pass is SKIP and says which; a check that raises is a FAIL with the error's
message and advice (or, for a bug, what to report). ``Chain.run`` never raises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dmm import trace
from dmm.checks.names import CheckName
from dmm.checks.result import FAIL, SKIP, CheckResult
from dmm.errors import ApiError, AuthError, DmmError
from dmm.redact import redact

if TYPE_CHECKING:
    from dmm.checks.context import CheckContext

CheckFunction = Callable[["CheckContext"], CheckResult]


@dataclass(frozen=True)
class Check:
    name: CheckName
    run: CheckFunction
    needs: tuple[CheckName, ...] = ()


class Chain:
    def __init__(self) -> None:
        self.checks: list[Check] = []

    def register(self, name: CheckName, *, needs: Iterable[CheckName] = ()) -> Callable[[CheckFunction], CheckFunction]:
        """Decorator: add a check at the end of the chain; its prerequisites must already be registered."""
        def add(function: CheckFunction) -> CheckFunction:
            known = {check.name for check in self.checks}
            if name in known:
                raise ValueError(f"check {name!r} is registered twice")
            unknown = [need for need in needs if need not in known]
            if unknown:
                raise ValueError(f"check {name!r} needs {unknown}, which run after it or not at all")
            self.checks.append(Check(name, function, tuple(needs)))
            return function
        return add

    @property
    def names(self) -> list[CheckName]:
        return [check.name for check in self.checks]

    def run(self, ctx: CheckContext) -> list[CheckResult]:
        """Every check in order; errors become FAIL results, never exceptions."""
        results = []
        for check in self.checks:
            blocked = [need for need in check.needs if not ctx.results[need].ok]
            if blocked:
                result = CheckResult(check.name, SKIP, f"skipped because {', '.join(blocked)} did not pass")
            else:
                result = _run_one(check, ctx)
            ctx.results[check.name] = result
            results.append(result)
        return results


def _run_one(check: Check, ctx: CheckContext) -> CheckResult:
    try:
        return check.run(ctx)
    except DmmError as error:
        advice = error.advice
        identity = _identity(ctx) if isinstance(error, AuthError) else ""
        if identity:  # say which identity was refused, and its fix
            advice = f"{advice}. {identity}" if advice else identity
        if isinstance(error, ApiError):  # a Domino call failed: point at the exchange itself
            advice = f"{advice}. {trace.hint()}" if advice else trace.hint()
        return CheckResult(check.name, FAIL, redact(error.message), redact(advice))
    except Exception as error:  # a check reports, it never crashes the step
        return CheckResult(check.name, FAIL, f"unexpected {type(error).__name__}: {redact(str(error))}",
                           "This looks like a bug in the toolkit or an unexpected server answer; rerun with the "
                           "same inputs and report it with this message")


def _identity(ctx: CheckContext) -> str:
    """``Domino was reached with <method>; <its fix>``, or ``""`` when no credentials could be resolved."""
    try:
        credentials = getattr(ctx.services, "credentials", None) or ctx.config.credentials()
        return f"Domino was reached with {credentials.describe()}: {credentials.fix()}"
    except Exception:  # the identity is a hint; the check's own message matters more
        return ""


def any_failed(results: Iterable[CheckResult]) -> bool:
    return any(result.status == FAIL for result in results)
