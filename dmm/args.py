"""argparse types for the numeric flags: a number within a stated range, or one plain ``UsageError``.

argparse catches ``ValueError`` from a type and prints its own usage block; a ``UsageError`` raised here passes
through ``parse_args`` to ``dmm.cli.run`` instead, which prints the one ``Error:`` sentence (exit 2) every other
bad input gets. The limits are the toolkit's, stated in the message: far beyond any sensible run, small enough
that nothing is allocated or a date computed that overflows (``--days 1e12`` used to raise ``OverflowError``).
``nan`` and ``inf`` are refused: they pass every ``<=`` comparison a later check would make.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from dmm.errors import UsageError

# The limits, in one place so help texts, checks and tests agree.
MAX_COUNT = 1_000_000          # step 4 requests per run
MAX_CONCURRENCY = 256          # step 4 requests in flight
MAX_RATE = 10_000.0            # step 4 requests per second
MAX_TIMEOUT = 3_600.0          # seconds to wait for one response (also model_api.timeout)
MAX_SEED = 2**32 - 1           # numpy's RandomState accepts 0 .. 2**32 - 1
MAX_DAYS = 3_660.0             # step 6 window: ten years
MAX_HOURS = MAX_DAYS * 24      # step 5 window


def _number(flag: str, text: str, kind: type) -> float:
    try:
        value = kind(text)
    except (TypeError, ValueError):
        what = "a whole number" if kind is int else "a number"
        raise UsageError(f"{flag} {text!r} is not {what}", f"Pass {flag} as {what}, e.g. {flag} 10",
                         code="flag-not-a-number") from None
    if kind is float and not math.isfinite(value):
        raise UsageError(f"{flag} must be a finite number (got {text!r})", f"Pass {flag} as a plain number",
                         code="flag-out-of-range")
    return value


def check_range(flag: str, value: float, low: float, high: float, *, low_open: bool = False) -> float:
    """``value`` if ``low <= value <= high`` (``low < value`` when ``low_open``), else a ``UsageError`` naming both."""
    too_low = value <= low if low_open else value < low
    if too_low or value > high or (isinstance(value, float) and not math.isfinite(value)):
        lower = f"more than {low:g}" if low_open else f"at least {low:g}"
        raise UsageError(f"{flag} must be {lower} and at most {high:g} (got {value:g})",
                         f"Pass {flag} within that range", code="flag-out-of-range")
    return value


def int_in_range(flag: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type=`` for a whole number in [low, high]."""
    def parse(text: str) -> int:
        return int(check_range(flag, int(_number(flag, text, int)), low, high))
    parse.__name__ = "int"
    return parse


def float_in_range(flag: str, low: float, high: float, *, low_open: bool = True) -> Callable[[str], float]:
    """An argparse ``type=`` for a finite number in (low, high] (or [low, high] with ``low_open=False``)."""
    def parse(text: str) -> float:
        return float(check_range(flag, _number(flag, text, float), low, high, low_open=low_open))
    parse.__name__ = "float"
    return parse
