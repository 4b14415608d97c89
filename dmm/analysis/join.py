"""Predictions matched to ground-truth labels by id, as DMM matches them: the latest label wins on a duplicate id,
and so does the latest prediction, across every chunk and file of the window.

    joiner = GroundTruthJoiner(labels_df, id_column="event_id", label_column="ground_truth")
    for chunk in prediction_chunks:          # any number, in time order (pandas frames or Arrow tables)
        joiner.add(chunk, id_column="event_id")
    result = joiner.result()                 # JoinResult: matched columns, .frame, counts, .to_dict()

The labels are normalised, de-duplicated and indexed once (``LabelIndex``, which step 6's join-rate count shares);
each chunk is a lookup. The latest prediction of each labelled id is kept in one slot per label: numpy arrays of
the labels' length (probability lists of one length as a float matrix), overwritten as later predictions arrive,
so memory follows the labels and not the predictions; each distinct prediction id is a 64-bit hash, kept on disk by
bucket (``DistinctHashes``) to count duplicate and unmatched predictions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from dmm.analysis.join_slots import MOMENTS, DistinctHashes, Slots, column_values
from dmm.analysis.keys import class_keys
from dmm.analysis.moments import NAT, moments  # NAT: a missing timestamp sorts first, any dated row is later
from dmm.errors import UsageError

ID_RULE = ("ids are compared as text after normalisation, as one id column that is integer in one file and float "
           "in another still matches: surrounding whitespace removed; whole numbers written without a fractional "
           "part (1, 1.0 and '1' match); other numbers in shortest round-trip form; other text kept as written; "
           "missing or blank ids never match")
LATEST_RULE = ("the latest label wins on duplicate ids (by timestamp when given, else by row order), and the latest "
               "prediction wins on duplicate prediction ids, across all chunks and files (by timestamp when given, "
               "else by the order the predictions were read)")


def _hash(keys: np.ndarray) -> np.ndarray:
    """64-bit hashes of text keys: pandas' ``hash_array`` without its first factorisation (``categorize``), which
    gives the same hashes and, on ids that are nearly all distinct, costs 5x the time and a transient copy of every
    key (issue 14: 3.2 s and +350 MB for a million labels)."""
    return pd.util.hash_array(keys, categorize=False)


def normalise_ids(values: Any) -> pd.Series:
    """Ids as the text they are matched by (``ID_RULE``); NA where missing."""
    return class_keys(values)


class IdLookup:
    """Exact positions of normalised ids in a fixed set of distinct ids, found by their 64-bit hash.

    Hash lookups run on an integer table, several times faster than pandas' lookup of Python strings; a hash
    match is confirmed by comparing the text, and a set whose hashes collide is looked up by text instead. The
    ids are kept as Arrow text (a few bytes each), not as Python strings."""

    def __init__(self, ids: Any) -> None:
        values = np.asarray(ids, dtype=object)
        self._hashes = pd.Index(_hash(values)) if len(values) else pd.Index([], dtype="uint64")
        self._text = None if self._hashes.is_unique else pd.Index(values)
        self.ids = pa.array(values, type=pa.large_string())

    def __len__(self) -> int:
        return len(self.ids)

    def arrow_text(self, positions: np.ndarray) -> pa.Array:
        """The ids at ``positions``, as Arrow text."""
        return self.ids.take(pa.array(np.asarray(positions, dtype=np.int64)))

    def text(self, positions: np.ndarray) -> np.ndarray:
        """The ids at ``positions``, as an object array of str."""
        return self.arrow_text(positions).to_numpy(zero_copy_only=False)

    def positions(self, keys: np.ndarray, hashes: np.ndarray | None = None) -> np.ndarray:
        """Position of each key (no missing keys) in ``ids``, -1 where absent; ``hashes``: ``hash_array(keys)``."""
        keys = np.asarray(keys, dtype=object)
        if self._text is not None:
            return np.asarray(self._text.get_indexer(keys))
        if not len(keys):
            return np.zeros(0, dtype=np.intp)
        found = np.asarray(self._hashes.get_indexer(_hash(keys) if hashes is None else hashes))
        hit = np.flatnonzero(found >= 0)
        if hit.size:
            differ = self.text(found[hit]) != keys[hit]
            found[hit[differ]] = -1
        return found


class LabelIndex:
    """Label ids normalised once: ``codes`` (per label row, the position of its distinct id, -1 when the row has
    no id; positions in first-seen order) and ``lookup`` (``IdLookup``) of normalised prediction ids."""

    def __init__(self, ids: Any) -> None:
        keys = normalise_ids(ids).to_numpy(dtype=object, na_value=None)
        codes, distinct = pd.factorize(keys, use_na_sentinel=True)
        self.codes = np.asarray(codes, dtype=np.intp)
        self.lookup = IdLookup(distinct)

    def __len__(self) -> int:
        return len(self.lookup)

    def text(self, positions: np.ndarray) -> list[str]:
        """The distinct ids at ``positions`` (first-seen order is position order)."""
        return [str(key) for key in self.lookup.text(positions)]

    @property
    def rows_without_id(self) -> int:
        return int(np.count_nonzero(self.codes < 0))

    def duplicated_ids(self) -> int:
        """Distinct ids labelled more than once."""
        tally = np.bincount(self.codes[self.codes >= 0], minlength=len(self))
        return int(np.count_nonzero(tally > 1))

    def look_up(self, keys: Any) -> BatchIds:
        """A chunk's normalised ids (None where missing) looked up once, for every consumer of the chunk."""
        keys = np.asarray(keys, dtype=object)
        has_id = pd.notna(keys)
        present = keys[has_id]
        hashes = _hash(present) if len(present) else np.zeros(0, dtype=np.uint64)
        positions = np.full(len(keys), -1, dtype=np.intp)
        if len(present):
            positions[has_id] = self.lookup.positions(present, hashes)
        return BatchIds(keys, has_id, hashes, positions)


@dataclass(frozen=True)
class BatchIds:
    """One chunk's ids: normalised keys, which rows have one, the 64-bit hashes of those ids, each row's label
    slot (-1: none)."""

    keys: np.ndarray
    has_id: np.ndarray
    hashes: np.ndarray
    positions: np.ndarray


def _moments(values: Any) -> np.ndarray:
    """int64 nanoseconds since the epoch, ``NAT`` where missing or unparseable."""
    when = pd.to_datetime(pd.Series(values).reset_index(drop=True), errors="coerce", utc=True)
    return when.to_numpy(dtype="datetime64[ns]", na_value=np.datetime64("NaT")).view(np.int64)


def _column_moments(chunk: Any, name: str, rows: np.ndarray) -> np.ndarray:
    """int64 nanoseconds of ``rows`` of a chunk's timestamp column (``dmm.analysis.moments.moments``)."""
    if isinstance(chunk, pd.DataFrame):
        return moments(chunk[name].iloc[rows])
    return moments(chunk.column(name).take(pa.array(rows)))


def _last_per(slots: np.ndarray) -> np.ndarray:
    """Index of the last occurrence of each distinct value of ``slots`` (in the order of the values)."""
    _, first_from_end = np.unique(slots[::-1], return_index=True)
    return len(slots) - 1 - first_from_end


@dataclass
class JoinResult:
    """Predictions joined to their latest label; counts that explain what did not match.

    ``columns``: the matched rows' columns (the predictions' columns and the label) in the order the predictions
    were read; a probability column of one length per row is a float matrix. ``frame`` builds a DataFrame."""

    columns: dict[str, Any]
    prediction_rows: int
    ground_truth_rows: int
    matched_rows: int
    duplicate_label_rows: int
    duplicate_prediction_rows: int
    unmatched_label_ids: list[str]
    unmatched_label_count: int
    unmatched_prediction_count: int
    prediction_rows_without_id: int = 0
    label_rows_without_id: int = 0
    names: list[str] = field(default_factory=list)

    def column(self, name: str) -> Any:
        """One matched column (a Series, or a float matrix for probability lists); KeyError when absent."""
        return self.columns[name]

    def select(self, names: Sequence[str]) -> pd.DataFrame:
        """The matched rows' columns among ``names`` that the join has (no copy of the others, such as the
        probability lists that ``frame`` turns into one Python list per row)."""
        if not self.matched_rows:
            return pd.DataFrame()
        return pd.DataFrame({name: self.columns[name] for name in dict.fromkeys(names) if name in self.columns})

    @cached_property
    def frame(self) -> pd.DataFrame:
        if not self.matched_rows:
            return pd.DataFrame()
        data = {name: list(values) if isinstance(values, np.ndarray) and values.ndim == 2 else values
                for name, values in self.columns.items()}
        return pd.DataFrame(data)

    @property
    def join_rate(self) -> float | None:
        """Share of distinct labelled ids that match a prediction."""
        labelled = self.ground_truth_rows - self.duplicate_label_rows - self.label_rows_without_id
        return None if labelled <= 0 else self.matched_rows / labelled

    @property
    def prediction_coverage(self) -> float | None:
        """Share of distinct predictions that have a label."""
        predicted = self.prediction_rows - self.duplicate_prediction_rows - self.prediction_rows_without_id
        return None if predicted <= 0 else self.matched_rows / predicted

    def to_dict(self) -> dict[str, Any]:
        return {"prediction_rows": self.prediction_rows, "ground_truth_rows": self.ground_truth_rows,
                "matched_rows": self.matched_rows, "join_rate": self.join_rate,
                "prediction_coverage": self.prediction_coverage,
                "duplicate_label_rows": self.duplicate_label_rows,
                "duplicate_prediction_rows": self.duplicate_prediction_rows,
                "unmatched_label_ids": self.unmatched_label_ids,
                "unmatched_label_count": self.unmatched_label_count,
                "unmatched_prediction_count": self.unmatched_prediction_count,
                "prediction_rows_without_id": self.prediction_rows_without_id,
                "label_rows_without_id": self.label_rows_without_id,
                "rule": f"{ID_RULE}; {LATEST_RULE}"}


def _require(columns: Sequence[Any], wanted: Sequence[str], what: str) -> None:
    for column in wanted:
        if column not in columns:
            raise UsageError(f"Column {column!r} is not in the {what} (columns: {', '.join(map(str, columns))})",
                             "Name the id and label columns that the files hold")


def _names(chunk: Any) -> list[str]:
    return list(chunk.columns) if isinstance(chunk, pd.DataFrame) else list(chunk.column_names)


class GroundTruthJoiner:
    """Labels indexed once; prediction chunks looked up as they stream in; ``result()`` gives the ``JoinResult``.

    ``index``: the ``LabelIndex`` of ``labels[id_column]`` when the caller built it already. ``moment_columns``:
    timestamp columns kept as UTC moments (``datetime64[ns, UTC]`` in the result, NaT where missing or unparseable,
    parsed as ``moments.parse_timestamps`` does) rather than as the text read, which at a million matched rows
    is ~90 MB of Python strings per column."""

    def __init__(self, labels: pd.DataFrame, id_column: str = "event_id", label_column: str = "ground_truth",
                 timestamp_column: str | None = None, *, prediction_timestamp_column: str | None = None,
                 label_name: str | None = None, max_listed: int = 20, index: LabelIndex | None = None,
                 moment_columns: Sequence[str] = ()) -> None:
        _require(list(labels.columns), [id_column, label_column] + ([timestamp_column] if timestamp_column else []),
                 "ground truth")
        self.label_column = label_column
        self.label_name = label_name
        self.prediction_timestamp_column = prediction_timestamp_column
        self.max_listed = max_listed
        self.moment_columns = frozenset(moment_columns)
        self.index = index if index is not None else LabelIndex(labels[id_column])
        codes = self.index.codes
        with_id = np.flatnonzero(codes >= 0)
        if timestamp_column:  # the latest timestamp wins, then the latest row; a missing timestamp loses
            ranked = with_id[np.lexsort((with_id, _moments(labels[timestamp_column].to_numpy()[with_id])))]
        else:
            ranked = with_id
        last = _last_per(codes[ranked])  # per distinct id (in ``distinct`` order), its winning place in ``ranked``
        values = labels[label_column]
        # Arrow text stays Arrow (a few bytes a label), not a Python string per label (~60 bytes: issue 13)
        arrow_text = isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"
        self._label_values = values.array.take(ranked[last]) if arrow_text else values.to_numpy()[ranked[last]]
        self._label_listing = np.argsort(last, kind="stable")  # ids in the order of their winning label row
        self.ground_truth_rows = len(labels)
        self.label_rows_without_id = len(codes) - len(with_id)
        self.duplicate_label_rows = len(with_id) - len(self.index)
        size = len(self.index)
        self._order = np.full(size, -1, dtype=np.int64)
        self._when = np.full(size, NAT, dtype=np.int64) if prediction_timestamp_column else None
        self._slots: dict[str, Slots] = {}
        self._id_column: str | None = None
        self._result: JoinResult | None = None
        self._distinct = DistinctHashes()
        self.prediction_rows = 0
        self.prediction_rows_without_id = 0

    def add(self, predictions: Any, id_column: str = "event_id", *, keys: Any = None,
            ids: BatchIds | None = None) -> GroundTruthJoiner:
        """One chunk of predictions (a DataFrame or an Arrow table, in the order they were made); keeps the latest
        row of each labelled id. ``keys``: the chunk's ids already normalised (``normalise_ids``), or ``ids``:
        ``index.look_up(keys)``, by a caller that needed them too."""
        names = _names(predictions)
        _require(names, [id_column], "predictions")
        if ids is None:
            if keys is None:
                column = predictions[id_column] if isinstance(predictions, pd.DataFrame) \
                    else predictions.column(id_column).to_pandas()
                keys = normalise_ids(column).to_numpy(dtype=object, na_value=None)
            ids = self.index.look_up(keys)
        order_start = self.prediction_rows
        self.prediction_rows += len(ids.has_id)
        self.prediction_rows_without_id += int(np.count_nonzero(~ids.has_id))
        if len(ids.hashes):
            self._distinct.add(ids.hashes)
        found = ids.positions
        rows = np.flatnonzero(found >= 0)
        if not rows.size:
            return self
        slots, when = found[rows], None
        if self._when is not None:
            present = self.prediction_timestamp_column in names
            when = _moments(predictions[self.prediction_timestamp_column].to_numpy()[rows]) if present \
                and isinstance(predictions, pd.DataFrame) else np.full(rows.size, NAT, dtype=np.int64)
            if present and not isinstance(predictions, pd.DataFrame):
                when = _moments(predictions.column(self.prediction_timestamp_column).to_pandas().to_numpy()[rows])
            ranked = np.lexsort((rows, when, slots))  # per slot: latest timestamp, then latest row, last
        else:
            ranked = np.argsort(slots, kind="stable")  # per slot: latest row last
        keep = ranked[np.r_[slots[ranked][1:] != slots[ranked][:-1], True]]
        slots, rows = slots[keep], rows[keep]
        if when is not None and self._when is not None:
            newer = when[keep] >= self._when[slots]  # a later row wins a tie
            slots, rows = slots[newer], rows[newer]
            self._when[slots] = when[keep][newer]
        self._order[slots] = order_start + rows
        for name in names:
            if name not in self._slots:
                size = len(self.index)
                self._slots[name] = Slots.of_moments(size) if name in self.moment_columns else Slots(size)
        for name, store in self._slots.items():
            if name in self.moment_columns:  # 8 bytes per label instead of a Python string
                when = _column_moments(predictions, name, rows) if name in names else np.full(rows.size, NAT)
                store.put(slots, when.view("datetime64[ns]"), MOMENTS)
                continue
            if name not in names:
                store.put(slots, None, None)
                continue
            values, dtype = column_values(predictions, name, rows)
            if name == id_column and values.dtype == object and values.ndim == 1:
                values = values.copy()  # an id written as its key is kept as None: no string per slot
                values[values == ids.keys[rows]] = None
                self._id_column = id_column
            store.put(slots, values, dtype)
        return self

    def result(self) -> JoinResult:
        """The join (once: the slots are released as the result's columns are built)."""
        if self._result is None:
            self._result = self._build_result()
        return self._result

    def _build_result(self) -> JoinResult:
        distinct = self._distinct.count()
        self._distinct = DistinctHashes()  # counted: released before the columns are built
        with_id = self.prediction_rows - self.prediction_rows_without_id
        matched = np.flatnonzero(self._order >= 0)
        matched = matched[np.argsort(self._order[matched], kind="stable")]
        listing = self._label_listing[self._order[self._label_listing] < 0]
        unmatched = self.index.text(listing[:self.max_listed])
        columns: dict[str, Any] = {}
        if matched.size:
            for name in list(self._slots):
                store = self._slots.pop(name)
                columns[name] = store.take(matched, self.index.lookup.arrow_text if name == self._id_column else None)
            label_name = self.label_name or (self.label_column if self.label_column not in columns
                                             else f"{self.label_column}_label")
            columns[label_name] = pd.Series(self._label_values[matched])
        return JoinResult(
            columns=columns, prediction_rows=self.prediction_rows, ground_truth_rows=self.ground_truth_rows,
            matched_rows=int(matched.size), duplicate_label_rows=self.duplicate_label_rows,
            duplicate_prediction_rows=with_id - distinct, unmatched_label_ids=unmatched,
            unmatched_label_count=int(listing.size), unmatched_prediction_count=distinct - int(matched.size),
            prediction_rows_without_id=self.prediction_rows_without_id,
            label_rows_without_id=self.label_rows_without_id)


def join_ground_truth(predictions_df: pd.DataFrame, gt_df: pd.DataFrame, id_column: str = "event_id",
                      label_column: str = "ground_truth", gt_id_column: str | None = None,
                      gt_timestamp_column: str | None = None, prediction_timestamp_column: str | None = None,
                      max_listed: int = 20) -> JoinResult:
    """Inner join of one frame of predictions to labels by id; the result has the prediction columns plus
    ``label_column`` (suffixed ``_label`` if the predictions already hold a column of that name)."""
    _require(list(predictions_df.columns), [id_column], "predictions")
    joiner = GroundTruthJoiner(gt_df, gt_id_column or id_column, label_column, gt_timestamp_column,
                               prediction_timestamp_column=prediction_timestamp_column, max_listed=max_listed)
    return joiner.add(predictions_df, id_column).result()
