"""Where the sandbox's monitor and model records live, and how they find the files other services keep.

Record collections in the state document (``SandboxState.transaction()``):
- ``dmm_models``      DMM model id -> model record (keys starting with ``_`` are internal, never served);
- ``dmm_datasources`` DMM data source id -> ``{id, name, type, config, ...}``;
- ``dmm_jobs``        DMM model id -> list of dataset jobs (registrations and ingestions);
- ``model_apis``      Model API id -> deployed model record (``versions`` by number);
- ``ingestion``       ``{"offsets": {capture log name: byte offset}}``.
Domino's own data sources are the core's ``datasources`` collection (name -> record with ``id``) and training sets
its ``training_sets`` collection (name -> record with ``versions`` by number).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from sandbox.state import SandboxState

DMM_MODELS = "dmm_models"
DMM_DATASOURCES = "dmm_datasources"
DMM_JOBS = "dmm_jobs"
MODEL_APIS = "model_apis"
INGESTION = "ingestion"


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A record as served: internal keys (``_…``) dropped."""
    return {key: value for key, value in record.items() if not key.startswith("_")}


def domino_datasource(data: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The Domino data source (object store) of that name, as the core's data-source routes keep it."""
    records = data.get("datasources", {})
    if name in records:
        return records[name]
    return next((record for record in records.values() if record.get("name") == name), None)


def object_file(state: SandboxState, datasource_id: str, key: str) -> Path | None:
    """The file behind an object key, or None when the object does not exist (or the key escapes the store)."""
    root = (state.objects_root / datasource_id).resolve()
    path = (root / key.lstrip("/")).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def training_set_version(data: dict[str, Any], name: str, number: int) -> dict[str, Any] | None:
    record = data.get("training_sets", {}).get(name)
    if record is None:
        return None
    return record.get("versions", {}).get(str(number))


def training_set_files(state: SandboxState, version: dict[str, Any]) -> list[Path]:
    folder = state.training_set_root / version["containerPath"]
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


def monitor_dir(state: SandboxState, model_id: str) -> Path:
    """The monitor's own store for one DMM model: registered datasets copied as parquet."""
    return state.root / "monitor" / model_id


def file_columns(path: Path, file_format: str) -> list[str]:
    if file_format == "parquet":
        return [name for name in pq.read_schema(path).names if name != "__index_level_0__"]
    return list(pd.read_csv(path, nrows=0).columns)


def read_table(path: Path, file_format: str, columns: list[str] | None = None) -> pd.DataFrame:
    if file_format == "parquet":
        return pd.read_parquet(path, columns=columns)
    return pd.read_csv(path, usecols=columns)


def row_count(path: Path, file_format: str) -> int:
    """Rows in a table file; a parquet footer says so without reading the data."""
    if file_format == "parquet":
        return pq.read_metadata(path).num_rows
    return len(pd.read_csv(path, usecols=[0]))
