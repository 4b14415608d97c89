"""The window over time, as Model Monitor leads with it: traffic, drift of the top columns and quality per period.

A ``Timeline`` is a watcher of step 6's one pass over the window's files (``dmm/checks/scan.py``): each batch adds
its rows per period (a day, or an hour when the window is two days or shorter) and, per drift column, its bin
counts per period in the bins fitted on the training set. Memory is periods x columns x bins counts. At the end,
``to_dict`` runs each top column's main drift test on each period's counts against the training counts (the same
test and threshold as the whole window's) and computes one quality metric per period over the matched rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd

TIMESTAMP_COLUMNS = ("timestamp", "__domino_timestamp")
HOURLY_UP_TO = timedelta(days=2)
MAX_PERIODS = 400  # a longer window is shown per day up to this many periods from its start, then per week
TOP_COLUMNS = 3
PERIOD_METRIC = {"classification": ("accuracy", "Accuracy"), "regression": ("mae", "MAE")}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# a frame whose rows lie this many times more in its busiest period than elsewhere has only the others binned again
OTHERS_SHARE = 4
CODES_MEMO = 10_000  # distinct values of a categorical column whose bin a Timeline remembers


def numeric_codes(bins: Any, values: Any) -> np.ndarray:
    """Each value's bin in ``bins`` (a ``NumericBins``), by the rule ``NumericBins.counts`` counts with: NaN in the
    Invalid bin (n + 1), outside the training range in the Untrained bin (n), else ``edges[i] <= x < edges[i + 1]``
    with the last bin closed. Where ``counts`` uses ``np.histogram``'s equal-width fast path, values are placed
    as that path places them (an estimate corrected against ``np.linspace(low, high, n + 1)``); elsewhere by
    searching ``bins.edges``, as ``counts`` does."""
    from dmm.analysis.binning import as_numbers, histogram_safe

    numbers = as_numbers(values)
    n = bins.trained_bin_count
    codes = np.full(numbers.size, n, dtype=np.int64)
    codes[np.isnan(numbers)] = n + 1
    if n == 0:
        return codes
    low, high = float(bins.edges[0]), float(bins.edges[-1])
    if low == high:
        codes[numbers == low] = 0
        return codes
    fast = histogram_safe(n, low, high)
    inside = (numbers >= low) & (numbers <= high)
    kept = numbers[inside]
    if not fast:
        codes[inside] = np.clip(np.searchsorted(bins.edges, kept, side="right") - 1, 0, n - 1)
        return codes
    edges, width = np.linspace(low, high, n + 1), np.float64(high) - np.float64(low)
    # np.histogram's own placement (numpy/lib/_histograms_impl.py): an estimate, corrected against the edges
    index = ((kept - low) / width * n).astype(np.intp)
    index[index == n] -= 1
    index[kept < edges[index]] -= 1
    index[(kept >= edges[index + 1]) & (index != n - 1)] += 1
    codes[inside] = index
    return codes


class _CategoricalCodes:
    """Each value's bin in a ``CategoricalBins``, through its public ``counts`` applied to each distinct text value
    once (a class value's bin is a function of the value alone, keys.CLASS_KEY_RULE), remembered across batches.
    Columns that are not text, or have more than ``CODES_MEMO`` distinct values, give None (counted per period)."""

    def __init__(self, bins: Any) -> None:
        self.bins = bins
        self.memo: dict[str, int] = {}

    def codes(self, values: pd.Series) -> np.ndarray | None:
        if not (isinstance(values.dtype, pd.StringDtype) or values.dtype == object):
            return None
        codes, distinct = pd.factorize(values, use_na_sentinel=True)
        if len(distinct) > CODES_MEMO or (values.dtype == object
                                          and pd.api.types.infer_dtype(distinct, skipna=True) != "string"):
            return None
        missing = len(self.bins.labels) - 1  # the Invalid bin: a missing value
        table = np.empty(len(distinct) + 1, dtype=np.int64)
        table[-1] = missing  # code -1 (missing) takes the last entry
        for position, value in enumerate(distinct):
            found = self.memo.get(value)
            if found is None:
                found = self.bins.bin_of_text(value)[0]
                if len(self.memo) >= CODES_MEMO:
                    return None
                self.memo[value] = found
            table[position] = found
        return table[codes]


@dataclass
class Timeline:
    """Rows and drift bin counts per period of ``[start, end)``."""

    start: datetime
    end: datetime
    name: str = "timeline"
    columns: tuple[str, ...] = TIMESTAMP_COLUMNS
    rows_without_time: int = 0
    counts: dict[str, np.ndarray] = field(default_factory=dict)  # column -> periods x bins
    _coders: dict[str, _CategoricalCodes] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.start, self.end = _aware(self.start), _aware(self.end)
        span = self.end - self.start
        self.period = "hour" if span <= HOURLY_UP_TO else "day"
        step = timedelta(hours=1) if self.period == "hour" else timedelta(days=1)
        if span / step > MAX_PERIODS:
            self.period, step = "week", timedelta(days=7)
        self.step = step
        first = self.start.replace(minute=0, second=0, microsecond=0)
        if self.period != "hour":
            first = first.replace(hour=0)
        self.first = first
        self.n = max(int(np.ceil((self.end - first) / step)), 1)
        self.traffic = np.zeros(self.n, dtype=np.int64)

    def starts(self) -> list[str]:
        return [(self.first + i * self.step).isoformat(timespec="minutes") for i in range(self.n)]

    def part_of(self, hour: datetime | None) -> int | None:
        """The period a file of partition ``hour`` belongs to (None: a file outside the hourly layout), which step
        6's pass feeds apart from other periods' files (dmm/checks/scan.py): rows are still placed by their own
        timestamps, so this only decides which rows arrive together."""
        if hour is None:
            return None
        return int((_aware(hour) - self.first) // self.step)

    def period_index(self, moments: pd.Series) -> np.ndarray:
        """The period of each moment, -1 where it is missing, unparseable or outside the window. Text is parsed
        once, as ``dmm.analysis.moments.moments`` reads it (Arrow's ISO 8601 cast, pandas for anything else)."""
        from dmm.analysis.moments import NAT
        from dmm.analysis.moments import moments as parse

        values = moments.reset_index(drop=True)
        if isinstance(values.dtype, pd.StringDtype) or values.dtype == object:
            import pyarrow as pa

            try:
                nanoseconds = parse(pa.array(values, from_pandas=True))
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                nanoseconds = parse(values)
        else:
            nanoseconds = parse(values)
        first = pd.Timestamp(self.first).value
        step = int(self.step.total_seconds()) * 1_000_000_000
        valid = nanoseconds != NAT
        index = np.full(len(nanoseconds), -1, dtype=np.int64)
        offset = nanoseconds[valid] - first  # no overflow: both within pandas' timestamp range
        index[valid] = np.where(offset >= 0, offset // step, -1)
        index[index >= self.n] = -1
        return index

    def add(self, frame: pd.DataFrame, scan: Any = None) -> None:
        column = next((c for c in self.columns if c in frame.columns), None)
        if column is None:
            self.rows_without_time += len(frame)
            return
        index = self.period_index(frame[column])
        known = index >= 0
        self.rows_without_time += int((~known).sum())
        rows, periods = np.flatnonzero(known), index[known]
        per_period = np.bincount(periods, minlength=self.n)
        self.traffic += per_period
        drift = getattr(scan, "drift", None)
        if drift is None:
            return
        distinct = np.flatnonzero(per_period)
        fed = getattr(scan, "batch_counts", None) or {}
        for name, bins in drift.bins.items():
            if name not in frame.columns:
                continue
            width = len(bins.labels)
            table = self.counts.setdefault(name, np.zeros((self.n, width), dtype=np.int64))
            values = frame[name].reset_index(drop=True)
            counted = fed.get(name)
            if counted is not None and len(counted) == width and len(distinct):
                # the drift pass counted this frame already: its busiest period gets those counts less the counts
                # of every other row (counts add up), so only the rows of the other periods are binned again
                major = int(np.argmax(per_period))
                rest = np.flatnonzero(index != major)
                if not rest.size:
                    table[major] += counted
                    continue
                if rest.size * OTHERS_SHARE <= len(values):  # else binning every row once costs less (below)
                    self._add_others(table, name, bins, values, index, rest, major, counted)
                    continue
            # no copy of a frame whose rows are all in the window
            self._count(table, name, bins, values, periods, None if rows.size == len(values) else rows)

    def _add_others(self, table: np.ndarray, name: str, bins: Any, values: pd.Series, index: np.ndarray,
                    rest: np.ndarray, major: int, counted: np.ndarray) -> None:
        """``counted`` (the drift counts of every row of ``values``) less the rows ``rest`` (not of period
        ``major``) to ``major``; the rows ``rest`` in their own periods, or in none (index -1)."""
        width = table.shape[1]
        others, periods_of = values.iloc[rest].reset_index(drop=True), index[rest]
        keep = periods_of >= 0
        codes = self._codes(name, bins, others)
        if codes is None:
            table[major] += counted - bins.counts(others)
            self._count(table, name, bins, others[keep].reset_index(drop=True), periods_of[keep])
            return
        table[major] += counted - np.bincount(codes, minlength=width)
        table += np.bincount(periods_of[keep] * width + codes[keep], minlength=self.n * width).reshape(self.n, width)

    def _count(self, table: np.ndarray, name: str, bins: Any, values: pd.Series, periods: np.ndarray,
               rows: np.ndarray | None = None) -> None:
        """Add ``values`` (each in its period, all known) to ``table``; with ``rows``, only those positions of
        ``values`` (``periods`` are theirs), coded over the whole of ``values`` and then picked."""
        if not len(periods):
            return
        chosen = values if rows is None else values.iloc[rows].reset_index(drop=True)
        distinct = np.flatnonzero(np.bincount(periods, minlength=self.n))
        if len(distinct) == 1:
            table[distinct[0]] += bins.counts(chosen)
            return
        codes = self._codes(name, bins, values)
        if codes is None:
            self._by_period(table, bins, chosen, periods)
            return
        width = table.shape[1]
        picked = codes if rows is None else codes[rows]
        table += np.bincount(periods * width + picked, minlength=self.n * width).reshape(self.n, width)

    def _by_period(self, table: np.ndarray, bins: Any, values: pd.Series, periods: np.ndarray) -> None:
        """``values`` (each in its period, all known) counted period by period, for bins without codes."""
        for period in np.flatnonzero(np.bincount(periods, minlength=self.n)):
            table[period] += bins.counts(values[periods == period])

    def _codes(self, name: str, bins: Any, values: pd.Series) -> np.ndarray | None:
        if bins.value_type == "numerical":
            return numeric_codes(bins, values)
        coder = self._coders.get(name)
        if coder is None or coder.bins is not bins:
            coder = self._coders[name] = _CategoricalCodes(bins)
        return coder.codes(values)

    def drift_over_time(self, calculator: Any, columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The main test's value per period for each of ``columns`` (drift results as ``ColumnDrift.to_dict``
        gives them, in the order to show; step 6 passes the ``TOP_COLUMNS`` top features and the prediction)."""
        from dmm.analysis.divergence import run_test

        if calculator is None:
            return []
        out = []
        for column in columns:
            name = column["column"]
            if name not in self.counts or name not in calculator.bins:
                continue
            values: list[float | None] = []
            for period in range(self.n):
                production = self.counts[name][period]
                if not production.sum():
                    values.append(None)
                    continue
                result = run_test(column["main_test"], calculator.reference_counts[name], production,
                                  calculator.bins[name], calculator.config, name)
                values.append(result.value)
            tests = column.get("tests") or []
            main: dict[str, Any] = next((t for t in tests if t.get("name") == column["main_test"]), {})
            out.append({"column": name, "test": main.get("api_name") or column["main_test"],
                        "operator": main.get("operator"), "threshold": main.get("threshold"), "values": values})
        return out

    def quality_over_time(self, rows: pd.DataFrame | None, model_type: str, label: str, prediction: str
                          ) -> dict[str, Any] | None:
        """Accuracy (classification) or MAE (regression) per period over the matched rows, by prediction time."""
        column = None if rows is None else next((c for c in self.columns if c in rows.columns), None)
        if rows is None or column is None or rows.empty or model_type not in PERIOD_METRIC:
            return None
        from dmm.analysis.keys import class_keys

        index = self.period_index(rows[column])
        name, api_name = PERIOD_METRIC[model_type]
        values: list[float | None] = []
        counts: list[int] = []
        for period in range(self.n):
            chosen = rows[index == period]
            counts.append(len(chosen))
            if chosen.empty:
                values.append(None)
            elif model_type == "classification":
                truth, guess = class_keys(chosen[label]), class_keys(chosen[prediction])
                values.append(float((truth == guess).mean()))
            else:
                truth = pd.to_numeric(chosen[label], errors="coerce")
                guess = pd.to_numeric(chosen[prediction], errors="coerce")
                error = (truth - guess).abs()
                error = error[np.isfinite(error)]
                values.append(float(error.mean()) if len(error) else None)
        return {"metric": name, "api_name": api_name, "values": values, "rows": counts}

    def to_dict(self, calculator: Any = None, columns: list[dict[str, Any]] | None = None,
                quality: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"period": self.period, "periods": self.starts(), "traffic": [int(v) for v in self.traffic],
                "rows_without_timestamp": self.rows_without_time,
                "drift": self.drift_over_time(calculator, columns or []),
                "quality": quality,
                "rule": (f"one {self.period} per point, in UTC, by the prediction's timestamp; drift per "
                         f"{self.period} is the column's main test on that period's rows against the whole training "
                         "set, with the window's threshold; quality per period is over the labelled predictions made "
                         "then")}
