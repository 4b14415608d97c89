"""ISO 8601 / RFC 3339 dates and times, read the same way on Python 3.10 through 3.13.

Python 3.10's ``datetime.fromisoformat`` reads only what ``isoformat()`` writes: no ``Z`` suffix and fractions of
exactly 3 or 6 digits; 3.11 reads most of ISO 8601 (and ``date.fromisoformat`` then also takes ``20240501``).
Domino's clients and APIs write ``...Z`` (RFC 3339), so every place that reads a time goes through here, and the
toolkit accepts the same spellings whatever Python runs it. Standard library only (scripts import it before pandas).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

# YYYY-MM-DD, then optionally a separator (T, t or a space), hh:mm[:ss[.fraction]] and an offset (Z, z, +hh:mm, +hhmm)
_DATE_TIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[Tt ](?P<time>\d{2}:\d{2}(?::\d{2}(?:[.,](?P<fraction>\d+))?)?)"
    r"(?P<offset>[Zz]|[+-]\d{2}(?::?\d{2})?)?)?"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# RFC 3339's date-time: "T" separator, seconds and an offset required (what Domino's APIs exchange)
RFC_3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def parse_date(text: str) -> date:
    """``YYYY-MM-DD`` only (3.11 would also take ``YYYYMMDD`` and week dates); ``ValueError`` otherwise."""
    if not isinstance(text, str) or not _DATE.fullmatch(text.strip()):
        raise ValueError(f"not a YYYY-MM-DD date: {text!r}")
    return date.fromisoformat(text.strip())


def parse_datetime(text: str) -> datetime:
    """A date or an ISO 8601 date-time (``Z`` or an offset optional, any number of fraction digits).

    Naive when the text names no zone; ``ValueError`` for anything else (including impossible dates).
    """
    match = _DATE_TIME.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not an ISO 8601 date-time: {text!r}")
    value = match["date"]
    if match["time"]:
        clock = match["time"]
        if match["fraction"] is not None:  # 3.10 takes exactly 3 or 6 digits: pad or cut to microseconds
            clock = re.split(r"[.,]", clock)[0] + "." + (match["fraction"] + "000000")[:6]
        value += "T" + clock
        offset = match["offset"]
        if offset:
            if offset in ("Z", "z"):
                offset = "+00:00"
            elif ":" not in offset:
                offset = offset[:3] + ":" + (offset[3:] or "00")
            value += offset
    return datetime.fromisoformat(value)


def parse_rfc3339(text: object) -> datetime | None:
    """An RFC 3339 date-time (seconds and a zone required, as Domino's APIs exchange them), else ``None``."""
    if not isinstance(text, str) or not RFC_3339.fullmatch(text):
        return None
    try:
        return parse_datetime(text)
    except ValueError:
        return None


def as_utc(moment: datetime) -> datetime:
    """A naive time is taken as UTC; an aware one is converted."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
