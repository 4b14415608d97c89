"""The time view's per-period counts (dmm/analysis/timeline.py) equal the drift bins' own counts, period by period.

Issue 14: ``Timeline.add`` places each row in its bin once (``numeric_codes``, ``_CategoricalCodes``) and counts
(period, bin) pairs in one ``bincount``; the reference here is the bins' public ``counts`` applied to each period's
rows, which is what it did before."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from dmm.analysis.binning import NumericBins, fit_bins
from dmm.analysis.drift import DriftCalculator
from dmm.analysis.timeline import Timeline, numeric_codes

START = datetime(2026, 1, 5, tzinfo=timezone.utc)


class _Scan:
    def __init__(self, drift, batch_counts=None):
        self.drift = drift
        self.batch_counts = batch_counts


def _fed(calculator: DriftCalculator, frame: pd.DataFrame) -> _Scan:
    """As the scan feeds a watcher: drift.update on the frame first, its counts handed over."""
    before = {name: counts.copy() for name, counts in calculator.production_counts.items()}
    calculator.update(frame)
    return _Scan(calculator, {name: calculator.production_counts[name] - before[name] for name in before})


def _reference(timeline: Timeline, frames: list[pd.DataFrame], calculator: DriftCalculator) -> dict[str, np.ndarray]:
    out = {}
    for name, bins in calculator.bins.items():
        table = np.zeros((timeline.n, len(bins.labels)), dtype=np.int64)
        for frame in frames:
            index = timeline.period_index(frame["timestamp"])
            for period in np.unique(index[index >= 0]):
                table[period] += bins.counts(frame[name].reset_index(drop=True)[index == period])
        out[name] = table
    return out


def _frame(rng: np.random.Generator, rows: int, days: float) -> pd.DataFrame:
    seconds = rng.uniform(-0.2 * 86400, (days + 0.2) * 86400, rows)  # some rows outside the window
    stamps = [(START + timedelta(seconds=float(s))).isoformat() for s in seconds]
    stamps[::17] = [None] * len(stamps[::17])
    numbers = rng.normal(0, 2, rows)
    numbers[::11] = np.nan
    numbers[::13] = 40.0  # outside the training range
    classes = rng.choice(["a", "b", " c ", "", "zz", "1", "1.0", "true"], rows).astype(object)
    classes[::7] = None
    return pd.DataFrame({"timestamp": stamps, "x": numbers, "k": classes,
                         "i": rng.integers(-3, 9, rows), "t": pd.array(classes, dtype="string")})


def test_per_period_counts_equal_the_bins_counts_of_each_period():
    rng = np.random.default_rng(3)
    training = pd.DataFrame({"x": rng.normal(0, 1, 2000), "k": rng.choice(["a", "b", "c", "1"], 2000),
                             "i": rng.integers(0, 5, 2000), "t": rng.choice(["a", "zz", "true"], 2000)})
    calculator = DriftCalculator().fit(training, {"x": "numerical", "k": "categorical", "i": "numerical",
                                                  "t": "categorical"})
    for days, fed in ((1.5, False), (6, False), (1.5, True), (6, True), (0.02, True)):  # hours, days; one period
        timeline = Timeline(START, START + timedelta(days=days))
        frames = [_frame(rng, 3000, days) for _ in range(3)]
        for frame in frames:
            timeline.add(frame, _fed(calculator, frame) if fed else _Scan(calculator))
        expected = _reference(timeline, frames, calculator)
        for name in calculator.bins:
            np.testing.assert_array_equal(timeline.counts[name], expected[name], err_msg=f"{name}, {days} days")
        assert timeline.counts["x"].sum() > 0


def test_a_frame_mostly_in_one_period_bins_only_its_other_rows_and_counts_the_same():
    """Timeline.add's two ways with the drift pass's counts: a frame nearly all in one period (the others binned
    again, the rest from the counts) and a frame spread over periods (every row binned once); same counts."""
    from dmm.analysis.timeline import OTHERS_SHARE

    rng = np.random.default_rng(5)
    training = pd.DataFrame({"x": rng.normal(0, 1, 2000), "k": rng.choice(["a", "b", "c", "1"], 2000),
                             "t": rng.choice(["a", "zz", "true"], 2000)})
    calculator = DriftCalculator().fit(training, {"x": "numerical", "k": "categorical", "t": "categorical"})
    timeline = Timeline(START, START + timedelta(days=6))
    frames = []
    for spread in (0.02, 0.5, 1.0):  # the share of rows outside the busiest day: below and above 1 / OTHERS_SHARE
        frame = _frame(rng, 4000, 6)
        inside = rng.uniform(size=len(frame)) >= spread
        day = [(START + timedelta(days=2, seconds=float(s))).isoformat() for s in rng.uniform(0, 86400, len(frame))]
        frame["timestamp"] = np.where(inside, np.asarray(day, dtype=object), frame["timestamp"].to_numpy())
        assert (spread < 1 / OTHERS_SHARE) == (spread == 0.02)
        frames.append(frame)
        timeline.add(frame, _fed(calculator, frame))
    expected = _reference(timeline, frames, calculator)
    for name in calculator.bins:
        np.testing.assert_array_equal(timeline.counts[name], expected[name], err_msg=name)


def test_a_files_part_is_the_period_its_partition_hour_lies_in():
    for days in (1.5, 6):  # hours, days
        timeline = Timeline(START + timedelta(minutes=30), START + timedelta(days=days))
        for hours in (0, 1, 5, 23, 24, 35):
            hour = START + timedelta(hours=hours)
            moments = pd.Series([(hour + timedelta(minutes=59)).isoformat()])
            assert timeline.part_of(hour) == timeline.period_index(moments)[0], (days, hours)
        assert timeline.part_of(None) is None


def test_the_time_of_a_row_is_its_parsed_timestamp():
    timeline = Timeline(START, START + timedelta(days=1))
    stamps = pd.Series(["2026-01-05T00:59:59.999999+00:00", "2026-01-05T01:00:00Z", "2026-01-05T03:30:00+02:00",
                        "2026-01-05 05:00:00", None, "not a time", "2026-01-06T00:00:00+00:00",
                        "2026-01-04T23:59:59+00:00"], dtype=object)
    assert timeline.period_index(stamps).tolist() == [0, 1, 1, 5, -1, -1, -1, -1]
    assert timeline.period_index(pd.to_datetime(stamps.iloc[:3], utc=True, format="ISO8601")).tolist() == [0, 1, 1]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1, max_size=40),
       st.lists(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e308, max_value=1e308),
                min_size=1, max_size=30))
def test_numeric_codes_place_each_value_where_counts_counts_it(values, training):
    bins = fit_bins(pd.Series(training), "numerical")
    assert isinstance(bins, NumericBins)
    codes = numeric_codes(bins, np.asarray(values, dtype="float64"))
    counted = np.bincount(codes, minlength=len(bins.labels))
    np.testing.assert_array_equal(counted, bins.counts(np.asarray(values, dtype="float64")))
    for value, code in zip(values, codes, strict=True):  # and value by value
        assert bins.counts(np.asarray([value], dtype="float64"))[code] == 1


def test_a_moment_past_pandas_nanosecond_range_is_missing_not_wrapped():
    """pandas 3 keeps a year-2608 timestamp in seconds; converted to nanoseconds it would wrap into the window."""
    import pyarrow as pa

    from dmm.analysis.moments import NAT, moments

    day = pd.Timestamp("2024-01-01T00:00:00Z").value
    for values in (pa.array(["2608-07-22T23:34:33+00:00", "2024-01-01T00:00:00+00:00"]),
                   pd.Series(["2608-07-22T23:34:33+00:00", "2024-01-01T00:00:00"])):
        assert moments(values).tolist() == [NAT, day]


def test_the_year_wrap_check_is_skipped_only_where_it_could_find_nothing(monkeypatch):
    """``moments`` skips Arrow 15's year-wrap check on an Arrow that refuses such years (``arrow_wraps_years``):
    with or without the check, the same moments."""
    import pyarrow as pa

    from dmm.analysis import moments as module

    values = pa.array(["2026-01-05T00:59:59.999999+00:00", None, "2608-07-22T23:34:33+00:00", "2262-04-11T23:47:16Z",
                       "1677-09-21T00:12:44+00:00", "2026-01-05 05:00:00", "not a time", "2024-02-29T12:00:00-05:00"])
    found = []
    for wraps in (False, True):
        monkeypatch.setattr(module, "arrow_wraps_years", lambda wraps=wraps: wraps)
        found.append(module.moments(values).tolist())
        found.append(module.moments(values.slice(0, 2)).tolist())
    assert found[0] == found[2] and found[1] == found[3]
    assert found[0][2] == module.NAT and found[1] == [pd.Timestamp("2026-01-05T00:59:59.999999Z").value, module.NAT]
