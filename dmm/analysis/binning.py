"""Bins fitted on training data only, as DMM does, and reused to count production values.

Numerical columns get Freedman-Diaconis bins over the training min..max (capped at 20); categorical columns get
one bin per training class. Both end with two guard bins: "Untrained Classes" (numbers outside the training range,
classes never seen in training) and "Invalid" (missing values, unparseable numbers, empty strings).
Counting is vectorised and works chunk by chunk, so counts from many chunks add up to the counts of one pass.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

UNTRAINED = "Untrained Classes"
INVALID = "Invalid"
GUARD_BINS = (UNTRAINED, INVALID)
MAX_NUMERIC_BINS = 20


def as_numbers(values) -> np.ndarray:
    """Float array; anything missing or unparseable becomes NaN."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("float64").to_numpy(dtype="float64", na_value=np.nan)
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype="float64", na_value=np.nan)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _text_of_distinct(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("string")
    if pd.api.types.is_float_dtype(series.dtype):
        numbers = series.to_numpy(dtype="float64", na_value=np.nan)
        finite = np.isfinite(numbers)
        if np.all(np.mod(numbers[finite], 1) == 0):
            return series.astype("Int64").astype("string")
    text = series.astype("string").str.strip()
    return text.mask(text == "")


def as_class_text(values) -> pd.Series:
    """Class values as text, so 1, 1.0 and "1" name the same class; missing and blank values become NA.
    Only the distinct values are converted, then spread back, which keeps large columns fast."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    codes, distinct = pd.factorize(series, use_na_sentinel=True)
    text = _text_of_distinct(pd.Series(distinct)).array
    return pd.Series(text.take(codes, allow_fill=True), dtype="string")


def _fd_bin_count(values: np.ndarray) -> tuple[int, str]:
    """Freedman-Diaconis bin count as numpy computes it, capped; Sturges' rule when the IQR is 0."""
    span = float(values.max() - values.min())
    if span == 0:
        return 1, f"constant training column (every value is {values[0]:g}): one bin"
    q25, q75 = np.percentile(values, [25, 75])
    width = 2.0 * (q75 - q25) * values.size ** (-1.0 / 3.0)
    if width > 0:
        count, note = int(np.ceil(span / width)), ""
    else:
        count = int(np.ceil(np.log2(values.size))) + 1
        note = "interquartile range is 0, so Freedman-Diaconis is undefined: used Sturges' rule instead"
    if count > MAX_NUMERIC_BINS:
        note = (note + "; " if note else "") + f"Freedman-Diaconis gave {count} bins, capped at {MAX_NUMERIC_BINS}"
        count = MAX_NUMERIC_BINS
    return max(count, 1), note


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
        return (self.edges[:-1] + self.edges[1:]) / 2.0

    def counts(self, values) -> np.ndarray:
        numbers = as_numbers(values)
        n = self.trained_bin_count
        result = np.zeros(n + 2, dtype=np.int64)
        invalid = np.isnan(numbers)
        result[n + 1] = int(invalid.sum())
        if n == 0:
            result[n] = numbers.size - result[n + 1]
            return result
        low, high = self.edges[0], self.edges[-1]
        if low == high:
            result[0] = int(np.count_nonzero(numbers == low))
        else:
            # the edges are np.linspace(low, high, n + 1), exactly the ones np.histogram's fast path uses
            result[:n] = np.histogram(numbers, bins=n, range=(low, high))[0]
        result[n] = numbers.size - result[n + 1] - int(result[:n].sum())
        return result

    def to_dict(self) -> dict:
        return {
            "value_type": self.value_type,
            "method": "Freedman-Diaconis over the training min..max, capped at 20 bins",
            "labels": self.labels,
            "edges": [float(edge) for edge in self.edges],
            "guard_bins": list(GUARD_BINS),
            "guard_bins_meaning": {UNTRAINED: "values outside the training range",
                                   INVALID: "missing values and unparseable numbers"},
            "note": self.note,
        }


@dataclass(frozen=True)
class CategoricalBins:
    """One bin per training class (as text), then the guard bins."""

    classes: tuple[str, ...]
    note: str = ""
    value_type = "categorical"
    _index: pd.Index = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", pd.Index(list(self.classes), dtype="string"))

    @property
    def trained_bin_count(self) -> int:
        return len(self.classes)

    @property
    def labels(self) -> list[str]:
        return list(self.classes) + list(GUARD_BINS)

    def counts(self, values) -> np.ndarray:
        return self.counts_and_unseen(values)[0]

    def counts_and_unseen(self, values) -> tuple[np.ndarray, Counter]:
        """Bin counts, and how often each class unseen in training occurred."""
        series = values if isinstance(values, pd.Series) else pd.Series(values)
        distinct = series.value_counts(dropna=False)
        if distinct.empty:
            return np.zeros(len(self.classes) + 2, dtype=np.int64), Counter()
        text = _text_of_distinct(pd.Series(distinct.index, dtype=distinct.index.dtype))
        tallies = distinct.to_numpy(dtype=np.int64)
        missing = text.isna().to_numpy()
        codes = self._index.get_indexer(text.fillna("").to_numpy(dtype=object))
        codes[missing] = -2
        n = len(self.classes)
        result = np.zeros(n + 2, dtype=np.int64)
        trained = codes >= 0
        result[:n] = np.bincount(codes[trained], weights=tallies[trained], minlength=n).astype(np.int64)
        unseen = codes == -1
        result[n] = int(tallies[unseen].sum())
        result[n + 1] = int(tallies[missing].sum())
        unseen_counts = Counter()
        for name, tally in zip(text[unseen].tolist(), tallies[unseen].tolist()):
            unseen_counts[name] += tally
        return result, unseen_counts

    def to_dict(self) -> dict:
        return {
            "value_type": self.value_type,
            "method": "one bin per training class",
            "labels": self.labels,
            "classes": list(self.classes),
            "guard_bins": list(GUARD_BINS),
            "guard_bins_meaning": {UNTRAINED: "classes not seen in training",
                                   INVALID: "missing values and empty strings"},
            "note": self.note,
        }


def fit_numeric_bins(values) -> NumericBins:
    numbers = as_numbers(values)
    finite = numbers[np.isfinite(numbers)]
    if finite.size == 0:
        return NumericBins(edges=np.array([], dtype="float64"),
                           note="training column has no valid numbers: only the guard bins")
    count, note = _fd_bin_count(finite)
    low, high = float(finite.min()), float(finite.max())
    edges = np.array([low, high]) if count == 1 else np.linspace(low, high, count + 1)
    return NumericBins(edges=edges, training_std=float(finite.std()), note=note)


def fit_categorical_bins(values) -> CategoricalBins:
    text = as_class_text(values).dropna()
    classes = tuple(sorted(text.unique().tolist()))
    note = "" if classes else "training column has no valid values: only the guard bins"
    if len(classes) == 1:
        note = f"constant training column (every value is {classes[0]!r}): one bin"
    return CategoricalBins(classes=classes, note=note)


def fit_bins(values, value_type: str) -> NumericBins | CategoricalBins:
    if value_type == "numerical":
        return fit_numeric_bins(values)
    if value_type == "categorical":
        return fit_categorical_bins(values)
    raise ValueError(f"value_type must be 'numerical' or 'categorical', not {value_type!r}")
