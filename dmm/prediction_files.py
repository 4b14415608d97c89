"""Where captured predictions live on disk: the ``prediction_data`` dataset's parquet partitions.

Domino writes ``prediction_data/<model version id>/$$date$$=YYYY-MM-DDZ/$$hour$$=HHZ/predictions_<uuid>.parquet``
(mounted at ``$DOMINO_DATASETS_DIR/local/prediction_data``, ``/domino/datasets/local/prediction_data`` or
``/mnt/data/prediction_data``); the sandbox mounts it the same way. This module finds the folder, lists the files
of a time window and reads their metadata (columns, row counts) without loading the rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow.parquet as pq

from dmm.errors import UsageError

DEFAULT_ROOTS = ("/domino/datasets/local/prediction_data", "/mnt/data/prediction_data")
_DATE = re.compile(r"^\$\$date\$\$=(\d{4}-\d{2}-\d{2})Z?$")
_HOUR = re.compile(r"^\$\$hour\$\$=(\d{1,2})Z?$")
# Columns the capture and ingestion add next to the features and the prediction.
CAPTURE_COLUMNS = frozenset({"event_id", "timestamp", "__domino_timestamp", "instance_id", "prediction_probability",
                             "sample_weight", "metadata", "$$date$$", "$$hour$$"})


@dataclass(frozen=True)
class PredictionFile:
    path: Path
    hour: datetime | None  # start of the UTC hour of its partition, when the path says so


@dataclass(frozen=True)
class PredictionDataSummary:
    files: int
    rows: int
    first_hour: datetime | None
    last_hour: datetime | None
    columns: tuple[str, ...]


def partition_hour(path: Path) -> datetime | None:
    """The UTC hour a file's ``$$date$$=…/$$hour$$=…`` folders name, or None outside that layout."""
    day = hour = None
    for part in path.parts:
        if match := _DATE.match(part):
            day = match.group(1)
        elif match := _HOUR.match(part):
            hour = int(match.group(1))
    if day is None:
        return None
    start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    return start + timedelta(hours=hour or 0)


def default_roots(env: Mapping[str, str]) -> list[Path]:
    """Where a workspace mounts the prediction_data dataset, ``$DOMINO_DATASETS_DIR/local`` first."""
    roots = [Path(env["DOMINO_DATASETS_DIR"]) / "local" / "prediction_data"] if env.get("DOMINO_DATASETS_DIR") else []
    return roots + [Path(root) for root in DEFAULT_ROOTS]


def resolve_prediction_dir(explicit: str | Path | None, model_version_id: str | None = None,
                           roots: Sequence[str | Path] = DEFAULT_ROOTS) -> Path | None:
    """The folder holding one model version's prediction files: ``explicit`` or a mounted default; None if absent.

    A root that holds a sub-folder named after the model version is narrowed to it.
    """
    if explicit:
        root = Path(explicit).expanduser()
        if not root.is_dir():
            raise UsageError(f"The prediction data folder {root} does not exist",
                             "Pass --prediction-data the mounted prediction_data dataset, e.g. "
                             "/mnt/data/prediction_data/<model version id>")
        candidates = [root]
    else:
        candidates = [Path(r) for r in roots if Path(r).is_dir()]
    for root in candidates:
        if model_version_id and (root / model_version_id).is_dir():
            return root / model_version_id
        return root
    return None


def check_prediction_dir(explicit: str | Path, flag: str = "--prediction-data") -> Path:
    """``explicit`` if it is a folder holding at least one Parquet file (each checked by its magic bytes), else a
    ``UsageError`` naming what is there instead: nothing, a file, other files, or a file that is not Parquet."""
    from dmm.paths import check_readable_file

    root = Path(explicit).expanduser()
    if root.is_symlink() and not root.exists():
        check_readable_file(root, "The prediction data folder", flag=flag)  # a link loop says so
    if not root.exists():
        raise UsageError(f"The prediction data folder {root} does not exist", f"Pass {flag} the mounted "
                         "prediction_data dataset, e.g. /mnt/data/prediction_data/<model version id>",
                         code="prediction-data-missing")
    if not root.is_dir():
        raise UsageError(f"{flag} {root} is a file, not a folder", f"Pass {flag} the folder that holds the "
                         "prediction files (the mounted prediction_data dataset)", code="prediction-data-not-a-folder")
    parquet = sorted(path for path in root.rglob("*.parquet") if path.is_file())
    if not parquet:
        others = sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())
        holds = f"holds no .parquet files (it has {', '.join(others[:3])}{', ...' if len(others) > 3 else ''})" \
            if others else "is empty"
        raise UsageError(f"The prediction data folder {root} {holds}", f"Pass {flag} the prediction_data dataset "
                         "that Domino fills with the endpoint's captured predictions (.parquet files)",
                         code="prediction-data-empty")
    for path in parquet:  # a Parquet file starts and ends with b"PAR1"; 8 bytes each, not the rows
        try:
            size = path.stat().st_size
            with path.open("rb") as handle:
                head = handle.read(4)
                handle.seek(max(size - 4, 0))
                tail = handle.read(4)
        except OSError as exc:
            raise UsageError(f"Cannot read the prediction file {path} ({exc.strerror or exc})",
                             "Check the file's permissions", code="file-unreadable") from None
        if size < 12 or head != b"PAR1" or tail != b"PAR1":
            raise UsageError(f"The prediction file {path} is not a Parquet file", "Remove it from the prediction "
                             f"data folder, or pass {flag} the folder Domino writes", code="file-unreadable")
    return root


def list_prediction_files(folder: Path, start: datetime | None = None,
                          end: datetime | None = None) -> list[PredictionFile]:
    """Parquet files under ``folder`` whose partition hour overlaps [start, end); files outside the layout are kept."""
    files = []
    for path in sorted(folder.rglob("*.parquet")):
        hour = partition_hour(path.relative_to(folder))
        if hour is not None:
            if start is not None and hour + timedelta(hours=1) <= start:
                continue
            if end is not None and hour >= end:
                continue
        files.append(PredictionFile(path, hour))
    return files


def read_footers(files: Iterable[PredictionFile]) -> dict[Path, pq.FileMetaData]:
    """Each file's parquet footer, read once: the summary uses it, and step 6's pass opens the file with it."""
    return {item.path: pq.read_metadata(item.path) for item in files}


def summarize(files: Iterable[PredictionFile],
              footers: Mapping[Path, pq.FileMetaData] | None = None) -> PredictionDataSummary:
    """Row count, hour range and column union from parquet footers only (``footers``: read already)."""
    count = rows = 0
    hours: list[datetime] = []
    columns: dict[str, None] = {}
    for item in files:
        metadata = footers[item.path] if footers is not None and item.path in footers else pq.read_metadata(item.path)
        count += 1
        rows += metadata.num_rows
        columns.update(dict.fromkeys(metadata.schema.to_arrow_schema().names))
        if item.hour is not None:
            hours.append(item.hour)
    return PredictionDataSummary(count, rows, min(hours, default=None), max(hours, default=None), tuple(columns))
