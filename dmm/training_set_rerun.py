"""Step 1 run again: what to say, and which training-set version the monitor keeps using.

Model Monitor keeps the training data a monitor was created with; no documented field of its model record names the
training-set version (shared/domino-api.md §2), so the schema remembers it (``MonitoringSchema.monitor_pin``) when step
1 registers a newer version, and step 6 compares the two.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from dmm.schema import MonitoringSchema
    from dmm.training_set import RegisteredVersion, TrainingSetPlan


def rerun_notes(previous: MonitoringSchema | None, version: RegisteredVersion, monitor_id: str | None,
                plan: TrainingSetPlan) -> tuple[dict[str, Any] | None, list[str]]:
    """What a rerun of step 1 must say, and the monitor pin the new schema keeps (see ``MonitoringSchema``)."""
    if version.reused:
        pin = previous.monitor_pin if previous and previous.training_set_name == plan.name else None
        return pin, [f"Training set '{version.name}' version {version.number} already holds this data with the same "
                     "columns and roles: nothing new was registered."]
    if previous is None or previous.training_set_name != plan.name or previous.training_set_version in (
            None, version.number):
        return None, [f"Registered training set '{version.name}' version {version.number}."]
    pin = previous.monitor_pin or {"model_id": monitor_id, "version": previous.training_set_version}
    used = pin["version"]
    return pin, [f"Registered training set '{version.name}' version {version.number}, because the data or its roles "
                 "changed.",
                 f"The monitor{' ' + str(pin['model_id']) if pin.get('model_id') else ''} still uses version {used}: "
                 "Model Monitor keeps the training data it was created with. To switch, open the endpoint in Domino "
                 f"(Endpoints > your endpoint > Settings > Monitoring), choose training set '{version.name}' version "
                 f"{version.number}, then put the new monitor's id in the config (python 3_setup_monitoring.py "
                 "--model-id ID). Until then, 6_check_monitoring.py reports the mismatch."]


def monitor_id_near(schema_path: Path) -> str | None:
    """The monitor's id from the config beside the schema, if there is one (no error if not)."""
    import json

    config = schema_path.parent / "monitoring_config.json"
    try:
        value = json.loads(config.read_text()).get("model_monitor", {}).get("model_id")
    except (OSError, ValueError, AttributeError):
        return None
    return str(value) if value and "<" not in str(value) else None


def write_schema(schema_path: Path, plan: TrainingSetPlan, version: RegisteredVersion) -> list[str]:
    """Write the schema of ``version`` (keeping the monitor pin a rerun needs); the lines step 1 prints."""
    from dataclasses import replace

    from dmm.errors import DmmError
    from dmm.schema import MonitoringSchema
    from dmm.training_set import schema_from_plan

    try:  # an unreadable old schema is simply replaced: the new version is registered already
        previous = MonitoringSchema.load(schema_path) if schema_path.is_file() else None
    except DmmError:
        previous = None
    pin, lines = rerun_notes(previous, version, monitor_id_near(schema_path), plan)
    replace(schema_from_plan(plan, version), monitor_pin=pin).save(schema_path)
    return lines


def monitor_training_version(model: dict[str, Any], schema: MonitoringSchema, model_id: str | None) -> int | None:
    """The training-set version the monitor uses, where it can be known: the model record's ``trainingSet.version``
    (the sandbox reports it; Domino documents no such field, so it may be absent) or the schema's pin for this
    monitor. ``None``: unknown."""
    reported = (model.get("trainingSet") or {}).get("version") if isinstance(model.get("trainingSet"), dict) else None
    if isinstance(reported, int):
        return reported
    pin = schema.monitor_pin or {}
    if pin.get("version") is not None and pin.get("model_id") in (None, model_id):
        return int(pin["version"])
    return None


FINGERPRINT_META = "dmm_data_sha256"  # in the version's user meta (Mapping[str, str], domino_data.training_sets.model)


def data_fingerprint(plan: TrainingSetPlan, frame: pd.DataFrame) -> str:
    """The data and the plan's roles, hashed: the same file and flags give the same value on any machine."""
    import hashlib
    import json

    import pandas as pd

    digest = hashlib.sha256()
    roles = {"columns": list(plan.columns), "target": plan.target, "model_type": plan.model_type,
             "categorical": list(plan.categorical), "keys": list(plan.key_columns), "timestamp": plan.timestamp}
    digest.update(json.dumps(roles, sort_keys=True, default=str).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def reusable_version(versions: list[Any], fingerprint: str) -> Any:
    """The newest finished version whose meta holds ``fingerprint``, else None."""
    same = [v for v in versions if not v.pending and (v.meta or {}).get(FINGERPRINT_META) == fingerprint]
    return max(same, key=lambda v: v.number) if same else None
