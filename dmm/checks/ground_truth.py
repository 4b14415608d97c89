"""The labels step 6 joins to the captured predictions, and how well they join.

Labels come from ``--ground-truth FILE``, else from the files the ledger says step 5 uploaded, downloaded from the
data source. The join streams only the predictions' ``event_id`` column, so memory follows the labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dmm import dataio
from dmm.errors import DmmError, UsageError
from dmm.prediction_files import PredictionFile

if TYPE_CHECKING:
    import pandas as pd

    from dmm.checks.context import CheckContext

ID_COLUMN = "event_id"
LISTED_IDS = 10
ID_SCAN_BATCH_ROWS = 200_000


@dataclass
class GroundTruth:
    frame: pd.DataFrame  # every label row, in arrival order (the last row of an id wins)
    id_column: str
    label_column: str
    sources: tuple[str, ...]

    def joined_label(self, prediction: str) -> str:
        """The label's column in the rows joined to predictions: its own name, unless the prediction has it."""
        return self.label_column if self.label_column != prediction else f"{self.label_column}_label"


def load_ground_truth(ctx: CheckContext) -> GroundTruth | None:
    """Labels from --ground-truth FILE, else the files the ledger lists, downloaded from the data source."""
    import pandas as pd

    frames, sources = [], []
    if ctx.inputs.ground_truth_file:
        path = Path(ctx.inputs.ground_truth_file)
        frames.append(dataio.read_table(path))
        sources.append(str(path))
    else:
        datasources = ctx.services.datasources
        for key, record in ctx.ledger.uploads_oldest_first().items():
            name = record.get("datasource") or ctx.config.ground_truth_datasource
            frames.append(dataio.read_table_bytes(key, datasources.download_bytes(name, key)))
            sources.append(key)
    if not frames:
        return None
    frame = pd.concat(frames, ignore_index=True)
    id_column = _first_present(frame.columns, [v["name"] for v in _safe_variables(ctx, "row_identifier")] + [ID_COLUMN])
    label_candidates = [v["name"] for v in _safe_variables(ctx, "ground_truth")]
    label_candidates += [ctx.schema.ground_truth_column, ctx.config.test_label_column or "", ctx.schema.target,
                         "actual_target", "ground_truth", "label"]
    label_column = _first_present(frame.columns, label_candidates)
    if id_column is None or label_column is None:
        raise UsageError(f"The ground truth ({', '.join(sources)}) needs an event_id column and a label column; "
                         f"it has {', '.join(map(str, frame.columns))}",
                         f"Write event_id and {ctx.schema.ground_truth_column} columns "
                         "(4_generate_predictions.py does)")
    frame[id_column] = frame[id_column].astype("string")
    return GroundTruth(frame, id_column, label_column, tuple(sources))


def _safe_variables(ctx: CheckContext, variable_type: str) -> list[dict[str, Any]]:
    try:
        return ctx.variable_named(variable_type)
    except DmmError:
        return []


def _first_present(columns: Iterable[Any], candidates: Iterable[str]) -> str | None:
    present = set(map(str, columns))
    return next((c for c in candidates if c and c in present), None)


@dataclass(frozen=True)
class JoinStatistics:
    labelled: int  # distinct labelled ids
    matched: int
    duplicates: int
    unmatched_sample: tuple[str, ...]

    @property
    def unmatched(self) -> int:
        return self.labelled - self.matched

    @property
    def rate(self) -> float:
        return self.matched / self.labelled if self.labelled else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"labelled_ids": self.labelled, "matched_ids": self.matched, "unmatched_ids": self.unmatched,
                "duplicate_ids": self.duplicates, "join_rate": round(self.rate, 6),
                "unmatched_sample": list(self.unmatched_sample)}


def join_statistics(truth: GroundTruth, files: Sequence[PredictionFile]) -> JoinStatistics:
    """Match labelled ids against the predictions' event_ids, streaming only that column; memory ~ the labels."""
    import pyarrow.parquet as pq

    from dmm.analysis.join import normalise_ids
    from dmm.analysis.readers import iter_parquet_batches

    ids = normalise_ids(truth.frame[truth.id_column]).dropna()
    counts = ids.value_counts()
    wanted = set(counts.index)
    seen: set[str] = set()
    for item in files:
        if ID_COLUMN not in pq.ParquetFile(item.path).schema_arrow.names:
            continue
        for chunk in iter_parquet_batches(item.path, [ID_COLUMN], ID_SCAN_BATCH_ROWS):
            seen.update(wanted.intersection(normalise_ids(chunk[ID_COLUMN]).dropna()))
    unmatched = [i for i in ids.drop_duplicates() if i not in seen]
    return JoinStatistics(len(wanted), len(seen), int((counts > 1).sum()), tuple(unmatched[:LISTED_IDS]))
