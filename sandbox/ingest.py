"""Ingestion on demand: capture logs -> the ``prediction_data`` parquet layout -> the monitor's store.

Domino does this hourly (parquet) and daily (Model Monitor); the sandbox does it when asked (``POST /sandbox/ingest``).
Capture logs are ``<state>/capture/model-<versionId>-<suffix>.log``, one JSON record per line (domino-api.md §4.4).
Rows are partitioned by the record's ``timestamp`` in UTC:
``<state>/datasets/local/prediction_data/<versionId>/$$date$$=YYYY-MM-DDZ/$$hour$$=HHZ/predictions_<uuid>.parquet``.
Byte offsets per log are remembered, so a rerun ingests only lines written since; a line still being written
(no newline yet) waits for the next run. Invalid lines are counted and skipped.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sandbox.monitor_options import OPTIONS
from sandbox.state import SandboxState
from sandbox.store import DMM_JOBS, DMM_MODELS, INGESTION

CAPTURED_VARIABLE_TYPES = ("feature", "prediction", "row_identifier", "timestamp", "prediction_probability",
                           "sample_weight")


def ingest(state: SandboxState) -> dict[str, Any]:
    """Ingests every capture log; returns ``{"versions": {versionId: counts}, "models": {dmmModelId: counts}}``."""
    with state.transaction() as data:
        offsets = data.setdefault(INGESTION, {}).setdefault("offsets", {})
        versions: dict[str, dict[str, Any]] = {}
        for log in sorted(state.capture_dir.glob("model-*.log")):
            version_id = log.name.split("-")[1]
            counts = versions.setdefault(version_id, {"logs": 0, "lines": 0, "rows": 0, "invalidLines": 0,
                                                      "files": []})
            rows, lines, invalid, offsets[log.name] = read_new_records(log, offsets.get(log.name, 0))
            counts["logs"] += 1
            counts["lines"] += lines
            counts["invalidLines"] += invalid
            counts["rows"] += len(rows)
            counts["files"] += [str(path.relative_to(state.root)) for path in write_partitions(state, version_id, rows)]
        models = feed_monitors(state, data)
    return {"versions": versions, "models": models}


def read_new_records(log: Path, offset: int) -> tuple[list[dict[str, Any]], int, int, int]:
    """Complete lines after ``offset`` -> (flattened rows, lines read, invalid lines, new offset)."""
    if log.stat().st_size < offset:
        offset = 0  # the log was truncated or replaced: read it again from the start
    with open(log, "rb") as handle:
        handle.seek(offset)
        chunk = handle.read()
    end = chunk.rfind(b"\n") + 1
    rows, invalid = [], 0
    lines = [line for line in chunk[:end].splitlines() if line.strip()]
    for line in lines:
        row = flatten(line)
        if row is None:
            invalid += 1
        else:
            rows.append(row)
    return rows, len(lines), invalid, offset + end


def _utc(value: Any) -> pd.Timestamp | None:
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            stamp = pd.Timestamp(value, unit="s")
        elif isinstance(value, str) and value:
            stamp = pd.Timestamp(value)
        else:
            return None
    except (ValueError, TypeError, OverflowError):
        return None
    if stamp is pd.NaT:
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _probabilities(value: Any) -> list[float] | None:
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    try:
        return [float(item) for item in values]
    except (TypeError, ValueError):
        return None


def flatten(line: bytes) -> dict[str, Any] | None:
    """One capture record as a prediction_data row, or None when the line is not a valid record.

    ``json.loads`` accepts the bare ``NaN``/``Infinity`` tokens that ``json.dumps`` writes for float NaN."""
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("features"), dict) \
            or not isinstance(record.get("predictions"), dict):
        return None
    when = _utc(record.get("timestamp")) or _utc(record.get("__domino_timestamp"))
    if when is None:
        return None
    return {**record["features"], **record["predictions"],
            "event_id": str(record["event_id"]) if record.get("event_id") is not None else None,
            "timestamp": str(record.get("timestamp") or record.get("__domino_timestamp")),
            "__domino_timestamp": record.get("__domino_timestamp"),
            "prediction_probability": _probabilities(record.get("prediction_probability")),
            "instance_id": record.get("instance_id"), "__partition_time": when}


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as an arrow table; a column whose values disagree on type is written as text."""
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        try:
            pa.array(frame[column].tolist(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            frame[column] = [None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
                             for v in frame[column]]
    return pa.Table.from_pandas(frame, preserve_index=False)


def write_partitions(state: SandboxState, version_id: str, rows: list[dict[str, Any]]) -> list[Path]:
    by_hour: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        when = row.pop("__partition_time")
        by_hour[(when.strftime("%Y-%m-%d"), when.strftime("%H"))].append(row)
    written = []
    for (day, hour), hour_rows in sorted(by_hour.items()):
        folder = state.prediction_data_dir / version_id / f"$$date$$={day}Z" / f"$$hour$$={hour}Z"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"predictions_{uuid.uuid4()}.parquet"
        pq.write_table(_table(hour_rows), path)
        written.append(path)
    return written


def feed_monitors(state: SandboxState, data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """New prediction_data files enter each endpoint monitor of their version; a monitor variable (or, by default, a
    training-set column) missing from the capture fails the file with ``UNRESOLVED_COLUMN``, as Domino's does."""
    results = {}
    for record in data.get(DMM_MODELS, {}).values():
        version_id = record["sourceDetails"].get("workbenchModelVersionId")
        if not version_id:
            continue
        seen = set(record["_predictionFiles"]) | set(record.setdefault("_failedFiles", []))
        folder = state.prediction_data_dir / version_id
        new_files = [path for path in sorted(folder.rglob("*.parquet"))
                     if str(path.relative_to(state.root)) not in seen] if folder.is_dir() else []
        wanted = [v["name"] for v in record["variables"] if v["variableType"] in CAPTURED_VARIABLE_TYPES]
        if OPTIONS["ingestion_needs_every_training_column"]:  # every baseline column (monitor_options cites why)
            wanted += [c for c in record.get("_baselineColumns", []) if c not in wanted]
        counts = {"files": 0, "rows": 0, "failedFiles": 0, "errors": []}
        for path in new_files:
            relative = str(path.relative_to(state.root))
            footer = pq.read_metadata(path)
            rows, columns = footer.num_rows, footer.schema.to_arrow_schema().names
            missing = [name for name in wanted if name not in columns]
            if missing:
                error = {"errorCode": "UNRESOLVED_COLUMN", "columns": missing, "file": relative,
                         "message": f"Column(s) {missing} of the monitor are not in the captured data",
                         "at": int(time.time())}
                record["ingestionErrors"].append(error)
                record["_failedFiles"].append(relative)
                counts["failedFiles"] += 1
                counts["errors"].append(error)
                _job(state, data, record["id"], relative, rows, "FAILED", error)
                continue
            record["_predictionFiles"].append(relative)
            record["predictionRowCount"] += rows
            record["ingestionStatus"] = "prediction"
            counts["files"] += 1
            counts["rows"] += rows
            _job(state, data, record["id"], relative, rows, "SUCCEEDED", None)
        counts["ingestionStatus"] = record["ingestionStatus"]
        results[record["id"]] = counts
    return results


def _job(state: SandboxState, data: dict[str, Any], model_id: str, relative: str, rows: int, status: str,
         error: dict[str, Any] | None) -> None:
    now = int(time.time())
    data.setdefault(DMM_JOBS, {}).setdefault(model_id, []).append({
        "jobId": state.next_id(data, "dmmjob"), "modelId": model_id, "datasetName": relative,
        "datasetType": "prediction", "status": status, "rowCount": rows, "createdAt": now, "completedAt": now,
        "errorCode": error["errorCode"] if error else None, "message": error["message"] if error else ""})
