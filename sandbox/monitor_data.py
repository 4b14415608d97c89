"""The monitor's store read back: training data, predictions in a time window, ground truth (latest label wins).

Files a DMM model reads are listed on its record, relative to the state folder: ``_trainingData`` (one file or a
training-set folder), ``_predictionFiles`` (ingested capture parquet and registered prediction datasets) and
``_groundTruthFiles`` (registered labels, copied as parquet with ``__row_id`` and ``__ingested_at``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from dmm.analysis.join import normalise_ids
from sandbox.monitor_options import OPTIONS
from sandbox.monitor_rules import refuse
from sandbox.state import SandboxState
from sandbox.store import read_table

# Domino declares the row identifier as a string and reads it as the text in the file; pandas turns an integer id
# column with one gap into floats ("1.0"), so ids are normalised back to the text Domino would have read.
ROW_ID = "__row_id"
LABEL = "__label"
INGESTED_AT = "__ingested_at"
TIME = "__time"


def parse_time(value: Any, name: str) -> pd.Timestamp | None:
    """An epoch number (in the configured unit) or an ISO-8601 string, as UTC; None when absent."""
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    try:
        if number is not None:
            return pd.Timestamp(number, unit=OPTIONS["time_unit"], tz="UTC")
        stamp = pd.Timestamp(value)
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    except (ValueError, TypeError, OverflowError):
        raise refuse(f"{name} must be epoch {'seconds' if OPTIONS['time_unit'] == 's' else 'milliseconds'} "
                     f"or an ISO-8601 date, not {value!r}") from None


def epoch(stamp: pd.Timestamp) -> int:
    return int(stamp.timestamp() * (1000 if OPTIONS["time_unit"] == "ms" else 1))


def variables_of(model: dict[str, Any], *types: str) -> list[dict[str, Any]]:
    return [v for v in model["variables"] if v["variableType"] in types]


def prediction_variable(model: dict[str, Any]) -> dict[str, Any] | None:
    return next(iter(variables_of(model, "prediction")), None)


def row_identifier(model: dict[str, Any]) -> str | None:
    found = variables_of(model, "row_identifier")
    return found[0]["name"] if found else None


def training_frame(state: SandboxState, model: dict[str, Any]) -> pd.DataFrame:
    source = model["_trainingData"]
    path = state.root / source["path"]
    if path.is_dir():
        # a training-set version folder: the client wrote data.parquet (index included) there
        frames = [pd.read_parquet(file) for file in sorted(path.glob("*.parquet"))]
        if not frames:
            raise refuse(f"The training data of model {model['id']} has no parquet file in {source['path']}", 409)
        return pd.concat(frames, ignore_index=True)
    return read_table(path, source["format"])


def _timed(frame: pd.DataFrame, model: dict[str, Any]) -> pd.DataFrame:
    """Adds ``__time``: the declared timestamp column, else the capture's ``timestamp``, else ingestion time."""
    declared = variables_of(model, "timestamp")
    column = next((c for c in ([declared[0]["name"]] if declared else []) + ["timestamp", INGESTED_AT]
                   if c in frame.columns), None)
    times = pd.to_datetime(frame[column], utc=True, errors="coerce", format="mixed") if column else pd.NaT
    return frame.assign(**{TIME: times})


def prediction_frames(state: SandboxState, model: dict[str, Any], start: pd.Timestamp | None = None,
                      end: pd.Timestamp | None = None) -> Iterator[pd.DataFrame]:
    """Prediction rows file by file (so analyses stream), restricted to ``start <= time < end``."""
    for relative in model.get("_predictionFiles", []):
        frame = _timed(pd.read_parquet(state.root / relative), model)
        if start is not None:
            frame = frame[frame[TIME] >= start]
        if end is not None:
            frame = frame[frame[TIME] < end]
        if len(frame):
            yield frame


def ground_truth_frame(state: SandboxState, model: dict[str, Any]) -> pd.DataFrame:
    """One row per row id, the latest registered label winning, within the ground-truth window."""
    files = [pd.read_parquet(state.root / relative) for relative in model.get("_groundTruthFiles", [])]
    if not files:
        return pd.DataFrame(columns=[ROW_ID, INGESTED_AT])
    labels = pd.concat(files, ignore_index=True)
    oldest = datetime.now(timezone.utc) - pd.Timedelta(days=OPTIONS["ground_truth_window_days"])
    labels = labels[pd.to_datetime(labels[INGESTED_AT], utc=True) >= oldest]
    return labels.drop_duplicates(ROW_ID, keep="last")


def matched_rows(state: SandboxState, model: dict[str, Any], start: pd.Timestamp | None,
                 end: pd.Timestamp | None, labels: pd.DataFrame | None = None) -> pd.DataFrame:
    """Predictions joined to their labels on the row identifier (latest prediction and latest label per id);
    ``labels`` is ``ground_truth_frame``'s answer when the caller has it already."""
    row_id = row_identifier(model)
    labels = ground_truth_frame(state, model) if labels is None else labels
    frames = list(prediction_frames(state, model, start, end))
    if row_id is None or not frames or labels.empty:
        return pd.DataFrame()
    predictions = pd.concat(frames, ignore_index=True)
    predictions = predictions.assign(**{ROW_ID: normalise_ids(predictions[row_id])})
    predictions = predictions.drop_duplicates(ROW_ID, keep="last")
    return predictions.merge(labels[[ROW_ID, LABEL]], on=ROW_ID, how="inner")


def store_ground_truth(state: SandboxState, folder: Path, sequence: int, frame: pd.DataFrame, row_id: str,
                       truth: str) -> Path:
    """Copies registered labels into the monitor's store; returns the file, relative to the state folder."""
    stored = pd.DataFrame({ROW_ID: normalise_ids(frame[row_id]), LABEL: frame[truth].to_numpy()})
    stored[INGESTED_AT] = datetime.now(timezone.utc).isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ground_truth_{sequence:05d}.parquet"
    stored.to_parquet(path, index=False)
    return path.relative_to(state.root)
