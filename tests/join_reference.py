"""The quality join as it was written before issue 14's slots (pandas frames, sorted and de-duplicated): kept only
as an independent reference that tests/test_analysis_join.py compares dmm.analysis.join with.

Predictions matched to ground-truth labels by id, as DMM matches them: the latest label wins on a duplicate id,
and so does the latest prediction, across every chunk and file of the window.

    joiner = GroundTruthJoiner(labels_df, id_column="event_id", label_column="ground_truth")
    for chunk in prediction_chunks:          # any number, in time order
        joiner.add(chunk, id_column="event_id")
    result = joiner.result()                 # JoinResult: .frame (matched rows), counts, .to_dict()

The labels are normalised and indexed once; each chunk is a lookup. Memory holds the labels and at most about two
matched rows per label, plus 8 bytes per distinct prediction id (a 64-bit hash, to count duplicates and
unmatched predictions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dmm.analysis.keys import class_keys
from dmm.errors import UsageError

ID_RULE = ("ids are compared as text after normalisation, as one id column that is integer in one file and float "
           "in another still matches: surrounding whitespace removed; whole numbers written without a fractional "
           "part (1, 1.0 and '1' match); other numbers in shortest round-trip form; other text kept as written; "
           "missing or blank ids never match")
LATEST_RULE = ("the latest label wins on duplicate ids (by timestamp when given, else by row order), and the latest "
               "prediction wins on duplicate prediction ids, across all chunks and files (by timestamp when given, "
               "else by the order the predictions were read)")
KEY = "_join_id"
ORDER = "_join_order"


def normalise_ids(values: Any) -> pd.Series:
    """Ids as the text they are matched by (``ID_RULE``); NA where missing."""
    return class_keys(values)


class IdLookup:
    """Exact positions of normalised ids in a fixed set of distinct ids, found by their 64-bit hash.

    Hash lookups run on an integer table, several times faster than pandas' lookup of Python strings; a hash
    match is confirmed by comparing the text, and a set whose hashes collide is looked up by text instead."""

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = np.asarray(ids, dtype=object)
        self._hashes = pd.Index(pd.util.hash_array(self.ids)) if len(self.ids) else pd.Index([], dtype="uint64")
        self._text = None if self._hashes.is_unique else pd.Index(self.ids)

    def positions(self, keys: np.ndarray, hashes: np.ndarray | None = None) -> np.ndarray:
        """Position of each key (no missing keys) in ``ids``, -1 where absent; ``hashes``: ``hash_array(keys)``."""
        keys = np.asarray(keys, dtype=object)
        if self._text is not None:
            return np.asarray(self._text.get_indexer(keys))
        if not len(keys):
            return np.zeros(0, dtype=np.intp)
        found = np.asarray(self._hashes.get_indexer(pd.util.hash_array(keys) if hashes is None else hashes))
        hit = np.flatnonzero(found >= 0)
        if hit.size:
            differ = self.ids[found[hit]] != keys[hit]
            found[hit[differ]] = -1
        return found


@dataclass
class JoinResult:
    """Predictions joined to their latest label; counts that explain what did not match."""

    frame: pd.DataFrame
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


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    for column in columns:
        if column not in frame.columns:
            raise UsageError(f"Column {column!r} is not in the {what} (columns: {', '.join(map(str, frame.columns))})",
                             "Name the id and label columns that the files hold")


def _latest(frame: pd.DataFrame, timestamp_column: str | None) -> pd.DataFrame:
    """One row per ``KEY``: the one with the latest timestamp (when given), ties and no timestamp by ``ORDER``."""
    if timestamp_column and timestamp_column in frame.columns:
        order = pd.to_datetime(frame[timestamp_column], errors="coerce", utc=True)
        frame = frame.assign(_when=order).sort_values(["_when", ORDER], kind="stable", na_position="first")
        frame = frame.drop(columns="_when")
    else:
        frame = frame.sort_values(ORDER, kind="stable")
    return frame.drop_duplicates(subset=KEY, keep="last")


class GroundTruthJoiner:
    """Labels indexed once; prediction chunks looked up as they stream in; ``result()`` gives the ``JoinResult``."""

    def __init__(self, labels: pd.DataFrame, id_column: str = "event_id", label_column: str = "ground_truth",
                 timestamp_column: str | None = None, *, prediction_timestamp_column: str | None = None,
                 label_name: str | None = None, max_listed: int = 20) -> None:
        _require(labels, [id_column, label_column] + ([timestamp_column] if timestamp_column else []),
                 "ground truth")
        self.label_column = label_column
        self.label_name = label_name
        self.prediction_timestamp_column = prediction_timestamp_column
        self.max_listed = max_listed
        keys = normalise_ids(labels[id_column]).to_numpy(dtype=object, na_value=None)
        frame = pd.DataFrame({KEY: keys, "_label": labels[label_column].to_numpy(), ORDER: np.arange(len(labels))})
        if timestamp_column:
            frame[timestamp_column] = labels[timestamp_column].to_numpy()
        with_id = frame[frame[KEY].notna()]
        latest = _latest(with_id, timestamp_column)
        self.ground_truth_rows = len(labels)
        self.label_rows_without_id = len(frame) - len(with_id)
        self.duplicate_label_rows = len(with_id) - len(latest)
        self._labels = pd.Series(latest["_label"].to_numpy(), index=pd.Index(latest[KEY].to_numpy(dtype=object)))
        self._lookup = IdLookup(latest[KEY].to_numpy(dtype=object))
        self._pending: list[pd.DataFrame] = []
        self._pending_rows = 0
        self._matched = pd.DataFrame()
        self._hashes: list[np.ndarray] = []
        self.prediction_rows = 0
        self.prediction_rows_without_id = 0

    def add(self, predictions: pd.DataFrame, id_column: str = "event_id", *,
            keys: Any = None) -> GroundTruthJoiner:
        """One chunk of predictions (in the order they were made); keeps the rows whose id has a label.

        ``keys``: the chunk's ids already normalised (``normalise_ids``), by a caller that needed them too."""
        _require(predictions, [id_column], "predictions")
        keys = normalise_ids(predictions[id_column]) if keys is None else pd.Series(keys, dtype=object)
        has_id = keys.notna().to_numpy()
        order_start = self.prediction_rows
        self.prediction_rows += len(predictions)
        self.prediction_rows_without_id += int((~has_id).sum())
        hit = has_id.copy()
        if has_id.any():
            with_id = keys[has_id].to_numpy(dtype=object)
            hashes = pd.util.hash_array(with_id)
            self._hashes.append(pd.unique(hashes))
            hit[has_id] = self._lookup.positions(with_id, hashes) >= 0
        if hit.any():
            rows = predictions.loc[hit].reset_index(drop=True)
            rows[KEY] = keys[hit].to_numpy(dtype=object)
            rows[ORDER] = order_start + np.flatnonzero(hit)
            self._pending.append(rows)
            self._pending_rows += len(rows)
            if self._pending_rows > 2 * max(len(self._labels), 1):
                self._compact()
        return self

    def _compact(self) -> None:
        frames = [frame for frame in [self._matched, *self._pending] if len(frame)]
        self._pending, self._pending_rows = [], 0
        if frames:
            self._matched = _latest(pd.concat(frames, ignore_index=True), self.prediction_timestamp_column)

    def result(self) -> JoinResult:
        self._compact()
        matched = self._matched
        distinct = len(pd.unique(np.concatenate(self._hashes))) if self._hashes else 0
        with_id = self.prediction_rows - self.prediction_rows_without_id
        matched_ids = set(matched[KEY]) if len(matched) else set()
        unmatched = [key for key in self._labels.index if key not in matched_ids]
        if len(matched):
            label_name = self.label_name or (self.label_column if self.label_column not in matched.columns
                                             else f"{self.label_column}_label")
            frame = matched.sort_values(ORDER, kind="stable").reset_index(drop=True)
            frame[label_name] = self._labels.reindex(frame[KEY].to_numpy(dtype=object)).to_numpy()
            frame = frame.drop(columns=[KEY, ORDER])
        else:
            frame = pd.DataFrame()
        return JoinResult(
            frame=frame, prediction_rows=self.prediction_rows, ground_truth_rows=self.ground_truth_rows,
            matched_rows=len(frame), duplicate_label_rows=self.duplicate_label_rows,
            duplicate_prediction_rows=with_id - distinct, unmatched_label_ids=unmatched[:self.max_listed],
            unmatched_label_count=len(unmatched), unmatched_prediction_count=distinct - len(frame),
            prediction_rows_without_id=self.prediction_rows_without_id,
            label_rows_without_id=self.label_rows_without_id)


def join_ground_truth(predictions_df: pd.DataFrame, gt_df: pd.DataFrame, id_column: str = "event_id",
                      label_column: str = "ground_truth", gt_id_column: str | None = None,
                      gt_timestamp_column: str | None = None, prediction_timestamp_column: str | None = None,
                      max_listed: int = 20) -> JoinResult:
    """Inner join of one frame of predictions to labels by id; the result frame has the prediction columns plus
    ``label_column`` (suffixed ``_label`` if the predictions already hold a column of that name)."""
    _require(predictions_df, [id_column], "predictions")
    joiner = GroundTruthJoiner(gt_df, gt_id_column or id_column, label_column, gt_timestamp_column,
                               prediction_timestamp_column=prediction_timestamp_column, max_listed=max_listed)
    return joiner.add(predictions_df, id_column).result()
