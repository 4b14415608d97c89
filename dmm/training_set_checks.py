"""Step 1's checks of a plan: everything Domino or Model Monitor would reject, raised as one ``UsageError``
sentence with its fix before any request is sent (``validate_plan``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from dmm.dataio import check_column_names
from dmm.errors import UsageError

if TYPE_CHECKING:
    from dmm.training_set import TrainingSetPlan

MODEL_TYPES = ("classification", "regression")
NAME_RULE = re.compile(r"^[-A-Za-z0-9_]+$")
# Domino's client checks only NAME_RULE (domino_data/training_sets/client.py); no stated length limit: a cautious one
MAX_NAME_LENGTH = 100
MAX_CLASSES = 100


def suggest_name(name: str) -> str:
    fixed = re.sub(r"[^-A-Za-z0-9_]+", "_", name.strip()).strip("_")[:MAX_NAME_LENGTH].strip("_")
    return fixed or "training-set"


def validate_plan(plan: TrainingSetPlan, df: pd.DataFrame) -> None:
    """Raise ``UsageError`` (one sentence, with the fix) for anything Domino or Model Monitor would reject."""
    if not NAME_RULE.match(plan.name or ""):
        raise UsageError(f"The training set name '{plan.name}' is not allowed: use letters, digits, '-' and '_' only",
                         f"Try --name {suggest_name(plan.name or '')}", code="training-set-name")
    if len(plan.name or "") > MAX_NAME_LENGTH:
        raise UsageError(f"The training set name has {len(plan.name or '')} characters; at most {MAX_NAME_LENGTH} "
                         "are allowed", f"Try --name {suggest_name(plan.name or '')}", code="training-set-name")
    if plan.model_type not in MODEL_TYPES:
        raise UsageError(f"Unknown model type '{plan.model_type}'", "Use --model-type classification or regression",
                         code="model-type-unknown")
    require_columns(df, [plan.target], "--target")
    require_columns(df, plan.features, "the plan's features")
    require_columns(df, plan.categorical, "--categorical")
    require_columns(df, plan.key_columns, "--key")
    require_columns(df, plan.excluded, "--exclude")
    if plan.timestamp:
        require_columns(df, [plan.timestamp], "--timestamp")
    _check_roles(plan)
    check_column_names(plan.columns, "the data")
    if not plan.features:
        raise UsageError("No feature columns are left once the target, key, timestamp and excluded columns are set "
                         "aside",
                         "Keep at least one input column out of --key, --timestamp and --exclude",
                         code="no-features")
    for column in plan.columns:
        if df[column].isna().all():
            raise UsageError(f"Column '{column}' is empty (every value is missing)",
                             f"Fill it in, or leave it out with --exclude {column}", code="column-empty")
    for column in plan.features:
        if pd.api.types.is_datetime64_any_dtype(df[column].dtype):
            raise UsageError(f"Column '{column}' holds dates, which Model Monitor cannot use as a feature",
                             f"Pass it as --timestamp {column} or leave it out with --exclude {column}",
                             code="column-dates")
    if plan.timestamp:
        _check_timestamp(df[plan.timestamp], plan.timestamp)
    _check_target(plan, df[plan.target])


def _check_roles(plan: TrainingSetPlan) -> None:
    roles = {"--key": plan.key_columns, "--exclude": plan.excluded,
             "--timestamp": (plan.timestamp,) if plan.timestamp else ()}
    for flag, columns in roles.items():
        if plan.target in columns:
            raise UsageError(f"The target '{plan.target}' is also given with {flag}",
                             f"Remove it from {flag}; the target is registered as the target only",
                             code="column-roles")
    overlap = set(plan.key_columns) & set(plan.excluded)
    if overlap:
        raise UsageError(f"Column '{sorted(overlap)[0]}' is given both with --key and --exclude", "Choose one",
                         code="column-roles")
    for column in plan.categorical:
        if column not in plan.features and column != plan.target:
            raise UsageError(f"Column '{column}' is marked categorical but is not a feature",
                             "Only feature columns can be categorical; drop it from --categorical",
                             code="column-roles")


def _check_timestamp(series: pd.Series, name: str) -> None:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return
    try:
        pd.to_datetime(series.dropna(), utc=True, format="mixed")
    except (ValueError, TypeError):
        raise UsageError(f"The timestamp column '{name}' holds values that are not dates or times",
                         "Pass a column of ISO-8601 timestamps with --timestamp, or leave the flag out",
                         code="timestamp-invalid") from None


def _check_target(plan: TrainingSetPlan, target: pd.Series) -> None:
    if plan.model_type == "regression":
        if not pd.api.types.is_numeric_dtype(target.dtype) or pd.api.types.is_bool_dtype(target.dtype):
            raise UsageError(f"The target '{plan.target}' holds text or booleans, which a regression model cannot "
                             "predict",
                             "Use --model-type classification, or pick a numeric target", code="target-not-numeric")
        return
    classes = target.dropna().nunique()
    if classes < 2:
        raise UsageError(f"The classification target '{plan.target}' has a single class",
                         "A classifier needs at least two classes in the training data; check the file and the "
                         "--target",
                         code="target-single-class")
    if classes > MAX_CLASSES:
        raise UsageError(f"The classification target '{plan.target}' has {classes} classes, more than the "
                         f"{MAX_CLASSES} that make sense for monitoring",
                         "If it is a continuous value, use --model-type regression; otherwise group the classes",
                         code="target-too-many-classes")


def require_columns(df: pd.DataFrame, columns: Sequence[str], flag: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        listed = ", ".join(map(str, df.columns[:30]))
        more = " …" if len(df.columns) > 30 else ""
        raise UsageError(f"Column '{missing[0]}' given with {flag} is not in the data (columns: {listed}{more})",
                         f"Check the spelling in {flag}", code="column-missing")

