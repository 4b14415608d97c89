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


def _parse(values: pd.Series) -> pd.Series:
    from dmm.checks.scan import parse_timestamps

    return parse_timestamps(values.reset_index(drop=True))


def _utc_hours(values: pd.Series) -> tuple[np.ndarray, list[str]] | None:
    """(code per row, -1 where missing; the distinct ``YYYY-MM-DDTHH`` keys) when every value is text ending in a
    UTC offset; None otherwise (the caller parses)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return None
    try:
        text = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if isinstance(text, pa.ChunkedArray):  # a column pandas holds in Arrow memory
        text = text.combine_chunks()
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        return None
    utc = pc.or_(pc.ends_with(text, "+00:00"), pc.ends_with(text, "Z"))
    if not pc.all(pc.fill_null(utc, True)).as_py():
        return None
    encoded = pc.utf8_slice_codeunits(text, 0, 13).dictionary_encode()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    codes = np.where(pd.isna(codes), -1, codes).astype(np.int64) if encoded.null_count else codes.astype(np.int64)
    return codes, encoded.dictionary.to_pylist()


@dataclass
class Timeline:
    """Rows and drift bin counts per period of ``[start, end)``."""

    start: datetime
    end: datetime
    name: str = "timeline"
    columns: tuple[str, ...] = TIMESTAMP_COLUMNS
    rows_without_time: int = 0
    counts: dict[str, np.ndarray] = field(default_factory=dict)  # column -> periods x bins

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

    def period_index(self, moments: pd.Series) -> np.ndarray:
        """The period of each moment, -1 where it is missing or outside the window.

        Text in UTC (``+00:00`` or ``Z``, as domino_data_capture writes ``datetime.now(timezone.utc).isoformat()``)
        is read by its hour (``YYYY-MM-DDTHH``): only the distinct hours are parsed, since every period here is a
        whole number of UTC hours. Other text and other offsets go through ``parse_timestamps``."""
        hours = _utc_hours(moments)
        if hours is not None:
            codes, distinct = hours
            index = np.full(len(codes), -1, dtype=np.int64)
            if len(distinct):
                per_hour = self._index_of(pd.to_datetime(pd.Series(distinct, dtype=object) + ":00:00+00:00",
                                                         errors="coerce", utc=True, format="ISO8601"))
                known = codes >= 0
                index[known] = per_hour[codes[known]]
            unparsed = (index < 0) & (codes >= 0) & ~np.isin(codes, np.flatnonzero(per_hour >= 0)) \
                if len(distinct) else np.zeros(len(codes), dtype=bool)
            if unparsed.any():  # an hour key that did not parse: those rows the slow way
                index[unparsed] = self._index_of(_parse(moments[unparsed]))
            return index
        return self._index_of(_parse(moments))

    def _index_of(self, parsed: pd.Series) -> np.ndarray:
        seconds = (parsed - pd.Timestamp(self.first)).dt.total_seconds().to_numpy(dtype="float64", na_value=np.nan)
        index = np.floor(seconds / self.step.total_seconds())
        bad = ~np.isfinite(index) | (index < 0) | (index >= self.n)
        return np.where(bad, -1, np.nan_to_num(index, nan=-1)).astype(np.int64)

    def add(self, frame: pd.DataFrame, scan: Any = None) -> None:
        column = next((c for c in self.columns if c in frame.columns), None)
        if column is None:
            self.rows_without_time += len(frame)
            return
        index = self.period_index(frame[column])
        known = index >= 0
        self.rows_without_time += int((~known).sum())
        self.traffic += np.bincount(index[known], minlength=self.n)
        drift = getattr(scan, "drift", None)
        if drift is None:
            return
        periods = np.unique(index[known])
        for name, bins in drift.bins.items():
            if name not in frame.columns:
                continue
            table = self.counts.setdefault(name, np.zeros((self.n, len(bins.labels)), dtype=np.int64))
            values = frame[name]
            if len(periods) == 1:
                table[periods[0]] += bins.counts(values[known])
                continue
            for period in periods:
                table[period] += bins.counts(values[index == period])

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
        from dmm.analysis.binning import class_keys

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
