"""Step 1's logic: plan what a training set registers, validate it, register it, and derive the monitoring schema.

Nothing is guessed from column names and no column is invented. What is inferred (the model type from the
target, categorical columns from their dtypes) is marked as inferred in the plan, so the user sees it before
anything is sent. ``validate_plan`` (``dmm.training_set_checks``) runs before any request.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dmm.errors import ConfigError, DmmError, UsageError
from dmm.files import json_safe as plain
from dmm.schema import Feature, MonitoringSchema
from dmm.training_set_checks import MODEL_TYPES, require_columns, validate_plan
from dmm.training_set_client import delete_pending_versions as _delete_pending_versions
from dmm.training_set_client import service_errors as _service_errors
from dmm.training_set_rerun import FINGERPRINT_META, data_fingerprint, reusable_version

MAX_INFERRED_INTEGER_CLASSES = 20


@dataclass(frozen=True)
class TrainingSetPlan:
    """Everything that will be registered; ``*_inferred`` say what came from the data rather than a flag."""

    name: str
    target: str
    model_type: str
    model_type_inferred: bool
    features: tuple[str, ...]
    categorical: tuple[str, ...]
    inferred_categorical: tuple[str, ...] = ()
    timestamp: str | None = None
    key_columns: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    description: str | None = None
    row_count: int = 0
    class_labels: tuple[Any, ...] = ()
    feature_dtypes: dict[str, str] = field(default_factory=dict, repr=False)
    feature_examples: dict[str, Any] = field(default_factory=dict, repr=False)
    all_columns_in_order: tuple[str, ...] = field(default=(), repr=False)
    identifier_like: tuple[str, ...] = ()  # features with a different value in every row (``looks_like_identifier``)

    @property
    def columns(self) -> list[str]:
        """The columns sent to Domino, in the file's order: the features and the target only.

        ``--key`` and ``--timestamp`` columns stay out (``NOT_CAPTURED_NOTE``): an endpoint's monitor checks every
        training-set column against the captured predictions, and the capture records only the features, the
        prediction (under the target's name) and its own ``event_id`` and ``timestamp``."""
        used = set(self.features) | {self.target}
        return [c for c in self.all_columns_in_order if c in used]

    @property
    def left_out(self) -> tuple[str, ...]:
        """The ``--key`` and ``--timestamp`` columns, which are validated but not registered."""
        return (*self.key_columns, *((self.timestamp,) if self.timestamp else ()))


# Why --key/--timestamp columns are not registered (issue 10 §3). Evidence: Domino's field notes
# (dominodatalab/Fraud-Detection-Workshop, monitoring_blueprints/DOMINO_PLATFORM_NOTES.md §5a): an endpoint monitor
# analyses every baseline column against the captured data, and "any extra column ... uncaptured field" fails
# ingestion with UNRESOLVED_COLUMN; DataCaptureClient.capturePrediction (domino_data_capture 0.1.2) records
# features, predictions, metadata and its own event_id and timestamp fields, nothing else.
NOT_CAPTURED_NOTE = ("{columns}: checked, but left out of the training set: the endpoint's prediction capture does not "
                     "record them, and Model Monitor fails ingestion (UNRESOLVED_COLUMN) on a training-set column the "
                     "capture lacks. The capture's own event_id and timestamp identify and time each prediction.")


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    number: int
    path: str
    reused: bool = False  # the same data was registered before as this version: nothing new was created


# ------------------------------------------------------------------------------------------------ plan


def plan_training_set(df: pd.DataFrame, name: str, target: str, model_type: str | None = None,
                      categorical: Iterable[str] | None = None, timestamp: str | None = None,
                      key: Iterable[str] | None = None, exclude: Iterable[str] | None = None,
                      description: str | None = None) -> TrainingSetPlan:
    """Work out what to register; raises ``UsageError`` when a named column is missing (nothing to infer from)."""
    categorical = _unique(categorical)
    key_columns = _unique(key)
    excluded = _unique(exclude)
    require_columns(df, [target], "--target")
    require_columns(df, categorical, "--categorical")
    require_columns(df, key_columns, "--key")
    require_columns(df, excluded, "--exclude")
    if timestamp:
        require_columns(df, [timestamp], "--timestamp")
    if model_type is not None and model_type not in MODEL_TYPES:
        raise UsageError(f"Unknown model type '{model_type}'", "Use --model-type classification or regression",
                         code="model-type-unknown")

    not_features = {target, *key_columns, *excluded} | ({timestamp} if timestamp else set())
    features = tuple(c for c in df.columns if c not in not_features)
    inferred_type = model_type is None
    model_type = model_type or infer_model_type(df[target])

    inferred = tuple(c for c in features if is_categorical_dtype(df[c]) and c not in categorical)
    chosen = set(categorical) | set(inferred)
    ordered = [c for c in features if c in chosen]
    labels: tuple[Any, ...] = ()
    if model_type == "classification":
        ordered.append(target)
        labels = tuple(_sorted_plain(df[target].dropna().unique()))
    return TrainingSetPlan(
        name=name, target=target, model_type=model_type, model_type_inferred=inferred_type, features=features,
        categorical=tuple(ordered), inferred_categorical=inferred, timestamp=timestamp or None,
        key_columns=key_columns, excluded=excluded, description=description, row_count=len(df),
        class_labels=labels, feature_dtypes={c: str(df[c].dtype) for c in features},
        feature_examples={c: _example(df[c], c in chosen) for c in features},
        all_columns_in_order=tuple(df.columns),
        identifier_like=tuple(c for c in features if looks_like_identifier(df[c])))


MIN_ROWS_FOR_IDENTIFIER = 10


def looks_like_identifier(series: pd.Series) -> bool:
    """A different value in every row, of a kind ids take: text, or whole numbers that count up (a range or an
    ascending sequence). Real-valued measurements are often unique per row too, so floats are never flagged, and
    nothing is guessed from the column's name."""
    values = series.dropna()
    if len(values) < MIN_ROWS_FOR_IDENTIFIER or len(values) != len(series) or values.nunique() != len(values):
        return False
    if pd.api.types.is_bool_dtype(series.dtype):
        return False
    if is_categorical_dtype(series):
        return True
    if pd.api.types.is_integer_dtype(series.dtype):
        return bool(values.is_monotonic_increasing or int(values.max()) - int(values.min()) + 1 == len(values))
    return False


def is_categorical_dtype(series: pd.Series) -> bool:
    dtype = series.dtype
    return (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype))


def infer_model_type(target: pd.Series) -> str:
    """Strings, booleans and integers with few distinct values are classes; other numbers are regression."""
    if is_categorical_dtype(target):
        return "classification"
    if pd.api.types.is_integer_dtype(target.dtype) and target.nunique() <= MAX_INFERRED_INTEGER_CLASSES:
        return "classification"
    return "regression"


def plan_lines(plan: TrainingSetPlan) -> list[str]:
    """The plan as lines of text for a script to print; inferred items are labelled "(inferred)"."""
    def tag(inferred: bool) -> str:
        return " (inferred)" if inferred else ""

    def categories(column: str) -> str:
        if column in plan.inferred_categorical:
            return "categorical (inferred)"
        return "categorical" if column in plan.categorical else "numerical"

    lines = [
        f"Training set:  {plan.name}",
        f"Rows:          {plan.row_count}",
        f"Target:        {plan.target}",
        f"Model type:    {plan.model_type}{tag(plan.model_type_inferred)}",
        f"Features ({len(plan.features)}):",
        *[f"  - {c}: {categories(c)}" for c in plan.features],
        f"Key columns:   {', '.join(plan.key_columns) or '(none)'}{' (not registered)' if plan.key_columns else ''}",
        f"Timestamp:     {plan.timestamp or '(none)'}{' (not registered)' if plan.timestamp else ''}",
        f"Excluded:      {', '.join(plan.excluded) or '(none)'} (not registered)",
    ]
    if plan.left_out:
        lines.append(NOT_CAPTURED_NOTE.format(columns=", ".join(plan.left_out)))
    if plan.model_type == "classification":
        lines.append(f"The target '{plan.target}' is also registered as categorical, as Model Monitor requires.")
    if plan.description:
        lines.append(f"Description:   {plan.description}")
    for column in plan.identifier_like:
        lines.append(f"Warning: feature '{column}' has a different value in every row, like an identifier; its drift "
                     f"would mean nothing. Pass --key {column} (kept with the data, not monitored) or --exclude "
                     f"{column} (left out).")
    return lines


def split_columns(values: Iterable[str]) -> list[str]:
    """Repeatable, comma-separated column flags (``--key a,b --key c``) as one list of names."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def _unique(columns: Iterable[str] | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(columns or ()))


# ------------------------------------------------------------------------------------------------ register


def check_environment(env: Mapping[str, str] | None = None) -> Any:
    """The credentials (``dmm.auth``) for the training-set client; ``ConfigError`` unless it has a host and
    credentials (before any request)."""
    env = os.environ if env is None else env
    host = env.get("DOMINO_API_HOST") or env.get("DOMINO_USER_HOST")
    if not host:
        raise ConfigError("DOMINO_API_HOST is not set, so the training-set service cannot be found",
                          "Run this in a Domino workspace or job, or export DOMINO_API_HOST=https://<your Domino>",
                          code="domino-host-missing")
    if not host.startswith(("http://", "https://")):
        raise ConfigError(f"DOMINO_API_HOST '{host}' has no http:// or https:// scheme",
                          "Set it to the full URL, for example https://domino.example.com", code="domino-host-invalid")
    from dmm import auth

    return auth.from_environment(env)  # ConfigError naming the fix when no method of the chain is available


def register_training_set(plan: TrainingSetPlan, df: pd.DataFrame) -> RegisteredVersion:
    """Create a new version of the training set (the set itself on first use) and return its number.

    If the client fails after the server created the pending version, that version is deleted again.
    """
    validate_plan(plan, df)
    credentials = check_environment()
    from dmm import domino_clients

    with domino_clients.training_sets_as(credentials):
        return _register(plan, df)


def _register(plan: TrainingSetPlan, df: pd.DataFrame) -> RegisteredVersion:
    import httpx
    from domino_data.training_sets import client, model

    frame = df[plan.columns].reset_index(drop=True)
    monitoring_meta = model.MonitoringMeta(timestamp_columns=[], categorical_columns=list(plan.categorical),
                                           ordinal_columns=[])  # --key/--timestamp are not sent: plan.columns
    meta = {"model_type": plan.model_type, "registered_by": "dmm-toolkit",
            FINGERPRINT_META: data_fingerprint(plan, frame)}
    with _service_errors(client, httpx, "Listing the versions of training set " + plan.name):
        versions = client.list_training_set_versions(training_set_name=plan.name)
    if (reused := reusable_version(versions, meta[FINGERPRINT_META])) is not None:  # same data and plan: nothing new
        return RegisteredVersion(plan.name, reused.number, reused.absolute_container_path, reused=True)
    try:
        with _service_errors(client, httpx, f"Registering training set {plan.name}", name=plan.name):
            version = client.create_training_set_version(
                training_set_name=plan.name, df=frame, description=plan.description,
                key_columns=[], target_columns=[plan.target], exclude_columns=[],
                monitoring_meta=monitoring_meta, meta=meta)
    except DmmError as error:
        _delete_pending_versions(client, plan.name, {v.number for v in versions})
        raise error from None
    return RegisteredVersion(name=version.training_set_name, number=version.number,
                             path=version.absolute_container_path)


# ------------------------------------------------------------------------------------------------ schema


def schema_from_plan(plan: TrainingSetPlan, version: RegisteredVersion | int | None) -> MonitoringSchema:
    """The monitoring schema of a registered (or, with ``None``, planned) version."""
    number = version.number if isinstance(version, RegisteredVersion) else version
    features = tuple(
        Feature(name=name, value_type="categorical" if name in plan.categorical else "numerical",
                dtype=plan.feature_dtypes.get(name, ""), example=plan.feature_examples.get(name))
        for name in plan.features)
    return MonitoringSchema(
        training_set_name=plan.name, training_set_version=number, model_type=plan.model_type,  # type: ignore[arg-type]
        target=plan.target, features=features, class_labels=plan.class_labels, key_columns=plan.key_columns,
        timestamp_column=plan.timestamp, excluded_columns=plan.excluded)


def _example(series: pd.Series, categorical: bool) -> Any:
    """A typical value: the median of a number (as a plain int or float), the most frequent category."""
    values = series.dropna()
    if values.empty:
        return None
    if categorical or not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return plain(values.mode().iloc[0])
    median = values.median()
    if pd.api.types.is_integer_dtype(values.dtype):
        return int(round(float(median)))
    return float(median)


def _sorted_plain(values: Iterable[Any]) -> list[Any]:
    items = [plain(v) for v in values]
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=str)
