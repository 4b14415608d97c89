"""What is inside a ground-truth file, against what the ledger says is registered: idempotency by content.

Step 5 reads every file before it registers it: the same checks as ``--file`` (ids present and not repeated, labels
present and of the training set's classes or numbers), the bytes against the digest recorded at upload (a file
edited afterwards is refused), and its ``(event_id, label)`` pairs against the ledger's registered labels: pairs
already registered are not registered again, and an id registered with a different label is refused unless the
user asks for a relabel. What Model Monitor does with a second label for the same id is not documented (Domino's
docs describe registering ground truth, never correcting it; see docs/internals.md), so the toolkit never sends one
unasked.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dmm.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from dmm.config import MonitoringConfig
    from dmm.ground_truth import GroundTruthResult
    from dmm.ledger import Ledger
    from dmm.schema import MonitoringSchema

RELABEL_NOTE = ("what Model Monitor does with a second label for an event id is not documented; pass --relabel to "
                "register the new labels anyway")


@dataclass
class ContentCheck:
    """A file's rows against the ledger: ``new`` row positions, ``same`` count, ``conflicts`` (id, old, new)."""

    labels: dict[str, str]
    new: list[int] = field(default_factory=list)
    same: int = 0
    conflicts: list[tuple[str, Any, str]] = field(default_factory=list)
    conflict_positions: list[int] = field(default_factory=list)


def checked_frame(frame: pd.DataFrame, where: str, schema: MonitoringSchema, id_column: str,
                  label_column: str) -> pd.DataFrame:
    """Raise ``UsageError`` (the same codes as ``--file``) unless ``frame`` is a sound ground-truth table."""
    for column, flag in ((id_column, "--id-column"), (label_column, "--label-column")):
        if column not in frame.columns:
            raise UsageError(f"{where} has no column {column!r}",
                             f"Pass {flag} with one of: {', '.join(map(str, frame.columns))}", code="column-missing")
    ids = frame[id_column]
    if ids.isna().any():
        raise UsageError(f"{int(ids.isna().sum())} row(s) of {where} have no {id_column}",
                         "Every row needs the event_id its prediction returned", code="event-id-missing")
    text_ids = ids.astype(str)
    duplicated = text_ids[text_ids.duplicated()]
    if not duplicated.empty:
        raise UsageError(f"{where} repeats {len(duplicated)} {id_column} value(s), e.g. {duplicated.iloc[0]!r}",
                         "Keep one label per event id", code="event-id-duplicate")
    labels = frame[label_column]
    if labels.isna().any():
        raise UsageError(f"{int(labels.isna().sum())} row(s) of {where} have no label in {label_column!r}",
                         "Remove those rows or fill in their labels", code="label-missing")
    if schema.model_type == "classification" and schema.class_labels:
        from dmm.analysis.keys import class_keys

        known = {key for key in class_keys(list(schema.class_labels)) if key is not None}
        unknown = sorted({key for key in class_keys(labels) if key is not None} - known)
        if unknown:
            raise UsageError(f"{where} has label(s) {', '.join(unknown[:5])} that are not classes of the training set "
                             f"({', '.join(sorted(known))})", "Fix the labels, or check --label-column",
                             code="label-unknown-class")
    elif schema.model_type == "regression":
        import pandas as pd

        if not pd.api.types.is_numeric_dtype(labels):
            raise UsageError(f"The labels in {label_column!r} of {where} are not numbers, but the model is a "
                             "regression", "Check --label-column", code="label-not-numeric")
    return frame


def read_ground_truth(content: bytes, where: str, schema: MonitoringSchema) -> pd.DataFrame:
    """A ground-truth CSV as step 4 or step 5 uploaded it (``event_id``, ``<target>_gt``), checked."""
    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(content))
    except (ValueError, UnicodeDecodeError) as error:  # pandas' EmptyDataError and ParserError are ValueErrors
        raise UsageError(f"{where} is not a readable CSV ({str(error).splitlines()[0][:200]})",
                         "Replace it with the file step 4 wrote, or register a fixed copy with --file",
                         code="file-unreadable") from None
    return checked_frame(frame, where, schema, "event_id", schema.ground_truth_column)


def compare_with_ledger(frame: pd.DataFrame, ledger: Ledger, model_id: str, label_column: str) -> ContentCheck:
    from dmm.analysis.keys import class_keys

    ids = class_keys(frame["event_id"]).tolist()
    labels = class_keys(frame[label_column]).tolist()
    check = ContentCheck(labels=dict(zip(ids, labels, strict=True)))
    for position, (event_id, label) in enumerate(zip(ids, labels, strict=True)):
        known, old = ledger.registered_label(model_id, event_id)
        if not known:
            check.new.append(position)
        elif old == label:
            check.same += 1
        else:
            check.conflicts.append((event_id, old, label))
            check.conflict_positions.append(position)
    return check


def changed_since_upload(ledger: Ledger, key: str, content: bytes) -> str | None:
    """Why a file must not be registered as it is now: its bytes differ from those recorded at upload."""
    from dmm.journal import content_digest

    recorded = ledger.uploads.get(key, {})
    digest = recorded.get("sha256")
    if not digest or digest == content_digest(content):
        return None
    rows = max(content.count(b"\n") - 1, 0)
    return (f"it was changed after it was uploaded ({recorded.get('rows', '?')} rows then, about {rows} now); "
            "register a checked copy with --file if the change was meant")


def subset_csv(frame: pd.DataFrame, positions: list[int]) -> bytes:
    buffer = io.StringIO()
    frame.iloc[positions].to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8")


def result_lines(result: GroundTruthResult, config: MonitoringConfig, file: str | None = None) -> list[str]:
    """What a run did (skipped, uploaded, registered, or would register), as lines for a script to print."""
    import json

    lines = [*result.recovered, *(f"Skipped {key}: {reason}" for key, reason in result.skipped)]
    lines += [f"Not registered {key}: {reason}" for key, reason in result.refused]
    if result.nothing_to_do:
        where = f"dated {result.window}" if result.window else "to register"
        return lines + [f"Nothing to do: no unregistered ground-truth files {where} under data source "
                        f"{config.ground_truth_datasource!r}."]
    if result.subfolder:
        lines.append(f"The data source {config.ground_truth_datasource!r} puts keys under the subfolder "
                     f"{result.subfolder}/ of its bucket: Model Monitor's {config.model_monitor_datasource!r} is given "
                     f"each file's bucket-relative path ({result.subfolder}/<key>)")
    if result.uploaded_key:
        lines.append(f"Uploaded {file} to data source {config.ground_truth_datasource!r} as {result.uploaded_key}")
    for registration in result.registrations:
        if result.dry_run:
            lines += [f"Dry run: would register {registration.key} with:", json.dumps(registration.payload, indent=2)]
        elif registration.already_registered:
            lines.append(f"Already registered in Model Monitor: {registration.key} (dataset "
                         f"{registration.dataset_name!r}); recorded in the ledger")
        else:
            declared = [v["name"] for v in registration.payload.get("variables") or []]
            extra = f" (declaring {', '.join(declared)})" if declared else ""
            lines.append(f"Registered {registration.key} as dataset {registration.dataset_name!r}{extra}")
            lines += [f"  {why}" for why in registration.adjustments]
    if not result.dry_run:
        registered = sum(1 for r in result.registrations if r.registered)
        lines.append(f"{registered} ground-truth file(s) registered with model {config.model_monitor_id}. "
                     "Quality metrics appear after Model Monitor's next ingestion; check them with "
                     "python 6_check_monitoring.py")
    return lines
