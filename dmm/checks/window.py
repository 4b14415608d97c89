"""Step 6's window of predictions, from ``--days`` / ``--start`` / ``--end``; standard library only, so a bad date
is reported before anything heavy is imported."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from dmm.dates import parse_datetime
from dmm.errors import UsageError

DEFAULT_DAYS = 7


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime  # exclusive


def parse_moment(value: str, flag: str) -> datetime:
    """A date or ISO date-time; UTC unless it names its zone."""
    try:
        moment = parse_datetime(value)
    except ValueError:
        raise UsageError(f"{flag} {value!r} is not a date", f"Write {flag} as YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def window_from(days: float | None = None, start: str | None = None, end: str | None = None,
                now: datetime | None = None) -> Window:
    """The window the flags describe: the last ``days`` (default 7) up to ``end`` (default now), or [start, end)."""
    if days is not None and start:
        raise UsageError("--days and --start both set the window start", "Use one of them")
    if days is not None:
        from dmm.args import MAX_DAYS, check_range

        check_range("--days", days, 0, MAX_DAYS, low_open=True)
    end_at = parse_moment(end, "--end") if end else (now or datetime.now(timezone.utc))
    try:
        start_at = parse_moment(start, "--start") if start else end_at - timedelta(days=days or DEFAULT_DAYS)
    except OverflowError:
        raise UsageError(f"The window reaches back before the year 1 ({days or DEFAULT_DAYS:g} days before "
                         f"{end_at:%Y-%m-%d})",
                         "Pass a later --end or fewer --days", code="date-invalid") from None
    from dmm.args import MAX_DAYS

    if (end_at - start_at).days > MAX_DAYS:
        raise UsageError(f"The window from --start {start_at:%Y-%m-%d} to {end_at:%Y-%m-%d} spans more than "
                         f"{MAX_DAYS:g} days", "Pass a --start and --end closer together", code="flag-out-of-range")
    if start_at >= end_at:
        raise UsageError(f"The window starts ({start_at:%Y-%m-%d %H:%M}) at or after it ends ({end_at:%Y-%m-%d %H:%M})",
                         "Pass a --start earlier than --end")
    return Window(start_at, end_at)
