"""The quality join's state between chunks (dmm/analysis/join.py): the latest matched prediction of each label in
slots of numpy arrays, and the distinct prediction ids as 64-bit hashes in temporary files by bucket."""

from __future__ import annotations

import tempfile
from typing import Any

import numpy as np
import pandas as pd

MOMENTS = pd.DatetimeTZDtype("ns", "UTC")  # the dtype of a moment column (GroundTruthJoiner(moment_columns=))
BUCKET_BITS = 4
BUCKETS = 2 ** BUCKET_BITS


def distinct_sorted(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted: a sort and a neighbour comparison. numpy 2.4's ``np.unique`` hashes integers
    instead, ~50x slower at these sizes (0.8 s against 0.02 s for 625,000 hashes; 16 of the 10M bench's 40 s)."""
    ordered = np.sort(values)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


class DistinctHashes:
    """How many distinct 64-bit hashes were added, in memory flat in their number: each batch's hashes are appended
    to one of 16 anonymous temporary files by their top 4 bits (a hash lands in the same file every time), and
    ``count`` reads one file at a time and counts its distinct values. Disk: 8 bytes per hash added; memory: one
    file's hashes at the end (a sixteenth of them)."""

    def __init__(self) -> None:
        self.files: list[Any] = []

    def add(self, hashes: np.ndarray) -> None:
        hashes = np.asarray(hashes, dtype=np.uint64)
        if not len(hashes):
            return
        if not self.files:
            self.files = [tempfile.TemporaryFile(prefix="dmm-ids-") for _ in range(BUCKETS)]
        hashes = distinct_sorted(hashes)
        bounds = np.searchsorted(hashes >> np.uint64(64 - BUCKET_BITS), np.arange(BUCKETS + 1, dtype=np.uint64))
        for bucket, handle in enumerate(self.files):
            part = hashes[bounds[bucket]:bounds[bucket + 1]]
            if len(part):
                handle.write(part.tobytes())

    def count(self) -> int:
        size = 0
        for handle in self.files:
            handle.seek(0)
            size += len(distinct_sorted(np.frombuffer(handle.read(), dtype=np.uint64)))
        self.close()
        return size

    def close(self) -> None:
        for handle in self.files:
            handle.close()
        self.files = []


class Slots:
    """One column of the latest matched prediction per label slot: values of one numpy dtype, an object array,
    or (probability lists of one length) a float matrix; ``dtype`` is the column's first pandas dtype."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.values: np.ndarray | None = None
        self.dtype: Any = None
        self.filled = np.zeros(size, dtype=bool)

    @classmethod
    def of_moments(cls, size: int) -> Slots:
        """A column of UTC moments, NaT in every slot until a matched row fills it."""
        store = cls(size)
        store.values = np.full(size, np.datetime64("NaT"), dtype="datetime64[ns]")
        store.dtype = MOMENTS
        store.filled[:] = True
        return store

    def put(self, slots: np.ndarray, values: np.ndarray | None, dtype: Any) -> None:
        """``values`` row-aligned with ``slots``; None: the rows lack the column (missing)."""
        if values is None:
            self.filled[slots] = False
            return
        if self.values is None:
            self.dtype = dtype
            self.values = np.empty((self.size, *values.shape[1:]), dtype=values.dtype)
            if self.values.dtype == object:
                self.values[:] = None
        elif values.dtype != self.values.dtype or values.shape[1:] != self.values.shape[1:]:
            self.values, values = self._as_objects(self.values), self._as_objects(values)
            self.dtype = None
        elif dtype != self.dtype:
            self.dtype = None
        self.values[slots] = values
        self.filled[slots] = True

    @staticmethod
    def _as_objects(values: np.ndarray) -> np.ndarray:
        if values.dtype == object and values.ndim == 1:
            return values
        out = np.empty(len(values), dtype=object)
        out[:] = list(values)
        return out

    def take(self, slots: np.ndarray, fill: Any = None) -> Any:
        """The values of ``slots``, in that order: a float matrix, or an array or Series like the input's.
        ``fill(slots)``: an Arrow array of the values of filled object slots that hold None (ids kept as their
        key's text)."""
        if self.values is None:
            return pd.Series(np.full(len(slots), np.nan))
        values = self.values[slots]
        missing = ~self.filled[slots]
        if fill is not None and values.dtype == object and values.ndim == 1:
            blank = ~missing & pd.isna(values)
            if blank.all() and isinstance(self.dtype, pd.StringDtype) and self.dtype.storage == "pyarrow":
                return pd.Series(pd.array(fill(slots), dtype=self.dtype))  # Arrow text, no Python strings
            if blank.any():
                values[blank] = fill(slots[blank]).to_numpy(zero_copy_only=False)
        if values.ndim == 2:
            if not missing.any():
                return values
            values = self._as_objects(values)
        if missing.any():
            values = values.astype(object) if values.dtype.kind not in "fcO" else values.copy()
            values[missing] = np.nan
            return pd.Series(values)
        if self.dtype is not None and not isinstance(self.dtype, np.dtype):
            try:
                return pd.Series(pd.array(values, dtype=self.dtype))
            except (TypeError, ValueError):
                pass
        return pd.Series(values, dtype=values.dtype)


def column_values(chunk: Any, name: str, rows: np.ndarray) -> tuple[np.ndarray, Any]:
    """(values of ``rows``, the column's pandas dtype): a float matrix for an Arrow list column of one length."""
    if isinstance(chunk, pd.DataFrame):
        column = chunk[name]
        return column.to_numpy()[rows], column.dtype
    import pyarrow as pa
    import pyarrow.compute as pc

    column = chunk.column(name).take(pa.array(rows)).combine_chunks()
    kind = column.type
    if (pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)) \
            and (pa.types.is_floating(kind.value_type) or pa.types.is_integer(kind.value_type)) \
            and column.null_count == 0 and len(column):
        lengths = pc.list_value_length(column).to_numpy()
        flat = pc.list_flatten(column)
        if lengths.min() == lengths.max() and flat.null_count == 0:
            return flat.to_numpy(zero_copy_only=False).astype("float64").reshape(len(column), -1), None
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        # one Python string per distinct value, not per row: a text prediction's slots hold two objects, not one per
        # label (issue 13: ~260 MB of "yes" and "no" at 5M labels); a missing value as ``to_pandas`` gives it
        encoded = column.dictionary_encode()
        missing = pa.array([None], kind).to_pandas()
        words = np.append(encoded.dictionary.to_numpy(zero_copy_only=False), missing.to_numpy()[:1])
        codes = encoded.indices.fill_null(len(words) - 1).to_numpy(zero_copy_only=False)
        return words[codes], missing.dtype
    series = column.to_pandas()
    return series.to_numpy(), series.dtype
