"""dmm.dates reads times the same way on Python 3.10 (whose fromisoformat refuses "Z") through 3.13."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from dmm.checks.window import parse_moment
from dmm.dates import as_utc, parse_date, parse_datetime, parse_rfc3339
from dmm.errors import UsageError
from sandbox.routes.metrics import parse_timestamp

UTC = timezone.utc


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-05-01T10:20:30Z", datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC)),
    ("2024-05-01t10:20:30z", datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC)),
    ("2024-05-01T10:20:30.5Z", datetime(2024, 5, 1, 10, 20, 30, 500000, tzinfo=UTC)),
    ("2024-05-01T10:20:30.123456789Z", datetime(2024, 5, 1, 10, 20, 30, 123456, tzinfo=UTC)),
    ("2024-05-01T10:20:30.12+02:00", datetime(2024, 5, 1, 10, 20, 30, 120000, tzinfo=timezone(timedelta(hours=2)))),
    ("2024-05-01T10:20:30-0530", datetime(2024, 5, 1, 10, 20, 30, tzinfo=timezone(-timedelta(hours=5, minutes=30)))),
    ("2024-05-01 10:20", datetime(2024, 5, 1, 10, 20)),
    ("2024-05-01", datetime(2024, 5, 1)),
    (" 2024-05-01T00:00:00+00:00 ", datetime(2024, 5, 1, tzinfo=UTC)),
])
def test_parse_datetime_reads_iso_and_rfc3339_spellings(text, expected):
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("text", ["", "yesterday", "2024-13-01", "2024-02-30T00:00:00Z", "20240501",
                                  "2024-05-01T25:00:00Z", "2024-05-01T10:20:30Q", "2024-05-01T10"])
def test_parse_datetime_refuses_what_is_not_a_date(text):
    with pytest.raises(ValueError):
        parse_datetime(text)


def test_parse_date_takes_only_yyyy_mm_dd_on_every_python():
    assert parse_date("2024-05-01") == date(2024, 5, 1)
    for text in ("20240501", "2024-W18-3", "2024-05-01T00:00:00", "2024-02-30"):
        with pytest.raises(ValueError):
            parse_date(text)


def test_rfc3339_needs_seconds_and_a_zone():
    assert parse_rfc3339("2024-05-01T10:20:30Z") == datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC)
    assert parse_rfc3339("2024-05-01T10:20:30.000001+01:00") is not None
    for text in ("2024-05-01T10:20:30", "2024-05-01T10:20Z", "2024-05-01", 1714558830, None, "2024-02-30T00:00:00Z"):
        assert parse_rfc3339(text) is None


def test_the_sandbox_reads_domino_timestamps_ending_in_z():
    """python-domino's custom metrics client sends ``...Z``; Python 3.10's fromisoformat alone refuses it."""
    assert parse_timestamp("2024-05-01T10:20:30Z") == datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC)
    assert parse_timestamp("2024-05-01T10:20:30") is None


def test_step6_window_flags_accept_z_and_short_fractions():
    assert parse_moment("2024-05-01T10:20:30.5Z", "--start") == datetime(2024, 5, 1, 10, 20, 30, 500000, tzinfo=UTC)
    assert parse_moment("2024-05-01", "--end") == datetime(2024, 5, 1, tzinfo=UTC)
    with pytest.raises(UsageError):
        parse_moment("May 1st", "--start")


def test_as_utc():
    assert as_utc(datetime(2024, 5, 1)) == datetime(2024, 5, 1, tzinfo=UTC)
    shifted = as_utc(datetime(2024, 5, 1, 2, tzinfo=timezone(timedelta(hours=2))))
    assert shifted == datetime(2024, 5, 1, tzinfo=UTC) and shifted.tzinfo == UTC
