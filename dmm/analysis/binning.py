"""Bins fitted on training data only, as DMM does, and reused to count production values.

Numerical columns get Freedman-Diaconis bins over the training min..max (capped at 20); categorical columns get
one bin per training class. Both end with two guard bins: "Untrained Classes" (numbers outside the training range,
classes never seen in training) and "Invalid" (missing values, unparseable numbers, empty strings).
Counting is vectorised and works chunk by chunk, so counts from many chunks add up to the counts of one pass.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dmm.analysis.keys import CLASS_KEY_RULE, _distinct_keys, class_key

UNTRAINED = "Untrained Classes"
INVALID = "Invalid"
GUARD_BINS = (UNTRAINED, INVALID)
MAX_NUMERIC_BINS = 20


def as_numbers(values: Any) -> np.ndarray:
    """Float array; anything missing or unparseable becomes NaN."""
    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        return values  # converted already (fit reuses one conversion for the bins, the counts and the checks)
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("float64").to_numpy(dtype="float64", na_value=np.nan)
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype="float64", na_value=np.nan)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _fd_bin_count(values: np.ndarray) -> tuple[int, str]:
    """Freedman-Diaconis bin count as numpy computes it, capped; Sturges' rule when the IQR is 0."""
    low, high = float(values.min()), float(values.max())
    if low == high:
        return 1, f"constant training column (every value is {values[0]:g}): one bin"
    with np.errstate(over="ignore", invalid="ignore"):
        q25, q75 = np.percentile(values, [25, 75])
        width = 2.0 * (q75 - q25) * values.size ** (-1.0 / 3.0)
        span = high - low if np.isfinite(high - low) else (high / 2 - low / 2) * 2
        ratio = span / width if width > 0 else math.nan
    if width > 0:
        count = MAX_NUMERIC_BINS + 1 if not np.isfinite(ratio) or ratio > 1e9 else max(int(np.ceil(ratio)), 1)
        note = ""
    else:
        count = int(np.ceil(np.log2(values.size))) + 1
        note = "interquartile range is 0, so Freedman-Diaconis is undefined: used Sturges' rule instead"
    if count > MAX_NUMERIC_BINS:
        gave = f"{count}" if np.isfinite(ratio) and ratio <= 1e9 else "more than a billion"
        note = (note + "; " if note else "") + f"Freedman-Diaconis gave {gave} bins, capped at {MAX_NUMERIC_BINS}"
        count = MAX_NUMERIC_BINS
    return max(count, 1), note


def _population_std(values: np.ndarray) -> float:
    """Standard deviation with ddof=0, computed on values scaled into range so that huge numbers do not overflow
    and tiny ones do not underflow (their squares would)."""
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    if scale == 0 or not np.isfinite(scale):
        return 0.0
    return float(np.std(values / scale) * scale) if not 1e-150 < scale < 1e150 else float(np.std(values))


@dataclass(frozen=True)
class NumericBins:
    """Equal-width bins over the training range; ``edges`` has one more entry than there are trained bins."""

    edges: np.ndarray
    training_std: float = 0.0
    note: str = ""
    value_type = "numerical"

    @property
    def trained_bin_count(self) -> int:
        return max(len(self.edges) - 1, 0)

    @property
    def labels(self) -> list[str]:
        n = self.trained_bin_count
        names = []
        for i in range(n):
            closing = "]" if i == n - 1 else ")"
            names.append(f"[{self.edges[i]:.6g}, {self.edges[i + 1]:.6g}{closing}")
        return names + list(GUARD_BINS)

    @property
    def centres(self) -> np.ndarray:
        """Centre of each trained bin (guard bins have no position)."""
        return self.edges[:-1] / 2.0 + self.edges[1:] / 2.0

    def counts(self, values: Any) -> np.ndarray:
        numbers = as_numbers(values)
        n = self.trained_bin_count
        result = np.zeros(n + 2, dtype=np.int64)
        invalid = np.isnan(numbers)
        result[n + 1] = int(invalid.sum())
        if n == 0:
            result[n] = numbers.size - result[n + 1]
            return result
        low, high = float(self.edges[0]), float(self.edges[-1])
        if low == high:
            result[0] = int(np.count_nonzero(numbers == low))
        elif histogram_safe(n, low, high):
            # the edges are np.linspace(low, high, n + 1), exactly the ones np.histogram's fast path uses
            result[:n] = np.histogram(numbers, bins=n, range=(low, high))[0]
        else:  # numpy's fast path would overflow (a range wider than the largest float, or so narrow that
            # bins / width is infinite: numpy < 2 then indexes out of bounds), so place values by edge
            inside = numbers[(numbers >= low) & (numbers <= high)]
            index = np.clip(np.searchsorted(self.edges, inside, side="right") - 1, 0, n - 1)
            result[:n] = np.bincount(index, minlength=n)
        result[n] = numbers.size - result[n + 1] - int(result[:n].sum())
        return result

    def to_dict(self) -> dict[str, Any]:
        return {
            "value_type": self.value_type,
            "method": "Freedman-Diaconis over the training min..max, capped at 20 bins",
            "labels": self.labels,
            "edges": [float(edge) for edge in self.edges],
            "guard_bins": list(GUARD_BINS),
            "guard_bins_meaning": {UNTRAINED: "values outside the training range (infinities included)",
                                   INVALID: "missing values and unparseable numbers"},
            "training_std": self.training_std,
            "training_std_ddof": 0,
            "note": self.note,
        }


def _boolean_aliases(classes: tuple[str, ...]) -> dict[str, str]:
    """Where the training classes are booleans (or 0/1), the other spellings of the same truth value."""
    lowered = {name.lower(): name for name in classes}
    if classes and set(lowered) <= {"true", "false"}:
        spellings: dict[str, tuple[str, ...]] = {"true": ("true", "1"), "false": ("false", "0")}
        return {alias: lowered[word] for word, aliases in spellings.items() if word in lowered
                for alias in aliases if alias != lowered[word]}
    if classes and set(classes) <= {"0", "1"}:
        spellings = {"1": ("true",), "0": ("false",)}
        return {alias: word for word, aliases in spellings.items() if word in classes for alias in aliases}
    return {}


MEMO_LIMIT = 100_000  # distinct raw values a CategoricalBins remembers the bin of (an id-like column stops there)


def _arrow_text(series: pd.Series) -> Any:
    """The Arrow array behind a column of Arrow-backed text (pandas' "str"/"string[pyarrow]"), else None."""
    array = series.array
    if not hasattr(array, "__arrow_array__") or not isinstance(series.dtype, pd.StringDtype):
        return None
    import pyarrow as pa

    chunked = array.__arrow_array__()
    return chunked if pa.types.is_string(chunked.type) or pa.types.is_large_string(chunked.type) else None


@dataclass(frozen=True)
class CategoricalBins:
    """One bin per training class (as its ``class_key``), then the guard bins."""

    classes: tuple[str, ...]
    note: str = ""
    value_type = "categorical"
    _positions: dict[str, int] = field(init=False, repr=False, compare=False)
    _aliases: dict[str, str] = field(init=False, repr=False, compare=False)
    _memo: dict[Any, tuple[int, str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_positions", {name: i for i, name in enumerate(self.classes)})
        object.__setattr__(self, "_aliases", _boolean_aliases(self.classes))
        object.__setattr__(self, "_memo", {})  # raw text -> (bin, key): class_key is a function of the value alone

    @property
    def trained_bin_count(self) -> int:
        return len(self.classes)

    @property
    def labels(self) -> list[str]:
        return list(self.classes) + list(GUARD_BINS)

    def counts(self, values: Any) -> np.ndarray:
        return self.counts_and_unseen(values)[0]

    def _lookup(self, key: str) -> str:
        return self._aliases.get(key.lower(), key) if self._aliases else key

    def _bin_of_key(self, key: str | None) -> tuple[int, str]:
        """(bin position, name): a trained class's position, ``n`` for an unseen class, ``n + 1`` for missing."""
        n = len(self.classes)
        if key is None:
            return n + 1, ""
        name = self._lookup(key)
        return self._positions.get(name, n), name

    def bin_of_text(self, text: str | None) -> tuple[int, str]:
        """``(bin position, class name)`` of one raw value, by ``class_key`` (remembered for ``MEMO_LIMIT`` values)."""
        found = self._memo.get(text)
        if found is None:
            found = self._bin_of_key(class_key(text))
            if len(self._memo) < MEMO_LIMIT:
                self._memo[text] = found
        return found

    def counts_and_unseen(self, values: Any) -> tuple[np.ndarray, Counter]:
        """Bin counts, and how often each class unseen in training occurred. Each distinct value is keyed once
        (Arrow-backed text is tallied by Arrow, and a value seen in an earlier chunk is not keyed again)."""
        series = values if isinstance(values, pd.Series) else pd.Series(values)
        if series.empty:
            return np.zeros(len(self.classes) + 2, dtype=np.int64), Counter()
        arrow = _arrow_text(series)
        if arrow is None:
            codes, keys, tallies = _distinct_keys(series)
            return self._tally(keys, tallies, int(np.count_nonzero(codes < 0)))
        import pyarrow.compute as pc

        distinct = pc.value_counts(arrow)  # nulls are one entry, tallied like the rest
        found = [self.bin_of_text(text) for text in distinct.field("values").to_pylist()]
        return self._tally_bins(found, distinct.field("counts").to_numpy(zero_copy_only=False).astype(np.int64), 0)

    def _tally(self, keys: np.ndarray, tallies: np.ndarray, missing_rows: int) -> tuple[np.ndarray, Counter]:
        """Counts from each distinct key's tally (``_distinct_keys``), rows with a missing value counted apart."""
        return self._tally_bins([self._bin_of_key(key) for key in keys], tallies, missing_rows)

    def _tally_bins(self, found: list[tuple[int, str]], tallies: np.ndarray,
                    missing_rows: int) -> tuple[np.ndarray, Counter]:
        n = len(self.classes)
        result = np.zeros(n + 2, dtype=np.int64)
        result[n + 1] = missing_rows
        unseen_counts: Counter = Counter()
        if found:
            positions = np.fromiter((position for position, _ in found), dtype=np.intp, count=len(found))
            result += np.bincount(positions, weights=tallies, minlength=n + 2).astype(np.int64)
            for (position, name), tally in zip(found, tallies.tolist(), strict=True):
                if position == n:
                    unseen_counts[name] += tally
        return result, unseen_counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "value_type": self.value_type,
            "method": "one bin per training class",
            "labels": self.labels,
            "classes": list(self.classes),
            "class_values": CLASS_KEY_RULE,
            "boolean_spellings": dict(self._aliases),
            "guard_bins": list(GUARD_BINS),
            "guard_bins_meaning": {UNTRAINED: "classes not seen in training",
                                   INVALID: "missing values and empty strings"},
            "note": self.note,
        }


def histogram_safe(n: int, low: float, high: float) -> bool:
    """Whether np.histogram's equal-width fast path can bin [low, high] into n bins: it scales by n / width."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        width = np.float64(high) - np.float64(low)
        return bool(np.isfinite(width) and np.isfinite(np.float64(n) / width))


def fit_numeric_bins(values: Any) -> NumericBins:
    numbers = as_numbers(values)
    finite = numbers[np.isfinite(numbers)]
    if finite.size == 0:
        return NumericBins(edges=np.array([], dtype="float64"),
                           note="training column has no valid numbers: only the guard bins")
    count, note = _fd_bin_count(finite)
    low, high = float(finite.min()), float(finite.max())
    if count == 1:
        edges = np.array([low, high])
    elif np.isfinite(high - low):
        edges = np.linspace(low, high, count + 1)
    else:  # the range overflows a float: space the edges in halves, then scale back
        edges = np.linspace(low / 2, high / 2, count + 1) * 2
        edges[0], edges[-1] = low, high
    return NumericBins(edges=edges, training_std=_population_std(finite), note=note)


def fit_categorical_bins(values: Any) -> CategoricalBins:
    return fit_counted_categorical_bins(values)[0]


def fit_counted_categorical_bins(values: Any) -> tuple[CategoricalBins, np.ndarray]:
    """The bins and the training values' counts in them, from one pass over the values."""
    codes, keys, tallies = _distinct_keys(values if isinstance(values, pd.Series) else pd.Series(values))
    classes = tuple(sorted({key for key in keys if key is not None}))
    note = "" if classes else "training column has no valid values: only the guard bins"
    if len(classes) == 1:
        note = f"constant training column (every value is {classes[0]!r}): one bin"
    bins = CategoricalBins(classes=classes, note=note)
    return bins, bins._tally(keys, tallies, int(np.count_nonzero(codes < 0)))[0]


def fit_bins(values: Any, value_type: str) -> NumericBins | CategoricalBins:
    if value_type == "numerical":
        return fit_numeric_bins(values)
    if value_type == "categorical":
        return fit_categorical_bins(values)
    raise ValueError(f"value_type must be 'numerical' or 'categorical', not {value_type!r}")
