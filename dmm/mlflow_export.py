"""Step 2's logic: pick an MLflow model (by run id, best run of an experiment, or registry version/alias) and export it.

The model is found, never assumed at a fixed artifact path: MLflow 3 logged models (the run's outputs, or
``search_logged_models``) first, then MLflow 2 style run artifacts (any folder holding an ``MLmodel`` file).
sklearn-flavoured models become ``model.pkl`` (joblib); any other flavour is copied as the MLflow model folder.
``model_manifest.json`` records where it came from. mlflow is imported lazily: it takes seconds to import.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dmm.errors import ApiError, DmmError, UsageError
from dmm.files import atomic_path, write_json
from dmm.mlflow_models import best_run_without_model as _best_run_without_model
from dmm.mlflow_models import find_model_uri
from dmm.mlflow_models import listing as _listing
from dmm.mlflow_quirks import no_stray_artifact_root as _no_stray_artifact_root
from dmm.redact import redact

MANIFEST_NAME = "model_manifest.json"
PICKLE_NAME = "model.pkl"
MODEL_DIR_NAME = "model"
MAX_RUNS_SCANNED = 1000


@dataclass(frozen=True)
class ModelChoice:
    """The model to export and how it was chosen."""

    selected_by: str  # "run-id" | "best-metric" | "registry"
    run_id: str
    experiment_id: str
    experiment_name: str
    model_uri: str
    flavours: tuple[str, ...]
    metric_name: str | None = None
    metric_value: float | None = None
    mode: str | None = None
    registered_model: dict[str, Any] | None = None
    run_metrics: dict[str, float] = field(default_factory=dict)

    @property
    def flavour(self) -> str:
        if "sklearn" in self.flavours:
            return "sklearn"
        others = [f for f in self.flavours if f != "python_function"]
        return others[0] if others else (self.flavours[0] if self.flavours else "unknown")

    @property
    def artifact_name(self) -> str:
        return PICKLE_NAME if self.flavour == "sklearn" else f"{MODEL_DIR_NAME}/"


@dataclass(frozen=True)
class ExportResult:
    choice: ModelChoice
    model_path: Path
    manifest_path: Path


# ------------------------------------------------------------------------------------------------ choose


def choose_model(run_id: str | None = None, experiment: str | None = None, metric: str | None = None,
                 mode: str = "max", model_name: str | None = None, version: str | None = None,
                 alias: str | None = None) -> ModelChoice:
    """Resolve exactly one way of naming a model into a ``ModelChoice``; raises ``UsageError`` with what exists."""
    check_selection(run_id=run_id, experiment=experiment, metric=metric, mode=mode, model_name=model_name,
                    version=version, alias=alias)
    with _mlflow_errors(), _no_stray_artifact_root():
        client = _client()  # MLflow 2.x opens the store here
        if run_id:
            run = _get_run(client, run_id)
            return _choice_for_run(client, run, "run-id")
        if model_name:
            return _choice_for_registry(client, model_name, version, alias)
        assert experiment and metric  # check_selection made sure
        return _best_run(client, experiment, metric, mode)


def check_selection(run_id: str | None = None, experiment: str | None = None, metric: str | None = None,
                    mode: str = "max", model_name: str | None = None, version: str | None = None,
                    alias: str | None = None) -> None:
    """Raise ``UsageError`` for a selection that names the model zero or several ways (before mlflow loads)."""
    ways = [bool(run_id), bool(experiment or metric), bool(model_name)]
    if sum(ways) != 1:
        raise UsageError("Name the model one way: --run-id, or --experiment with --metric, or --model-name",
                         "Pass exactly one of these", code="model-selection")
    if mode not in ("max", "min"):
        raise UsageError(f"Unknown --mode '{mode}'", "Use --mode max or --mode min", code="model-selection")
    if model_name and bool(version) == bool(alias):
        raise UsageError("--model-name needs either --version or --alias", "Pass one of them, e.g. --alias champion",
                         code="model-selection")
    if (experiment or metric) and not (experiment and metric):
        raise UsageError("--experiment and --metric go together",
                         "Pass both, e.g. --experiment churn --metric roc_auc", code="model-selection")


# MLflow retries an unreachable tracking server for minutes by default; a few seconds is enough to say so.
QUICK_HTTP_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                      "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


def _client():
    from mlflow import MlflowClient

    from dmm.transport import install_mlflow_hook

    install_mlflow_hook()  # our retries and --trace for a tracking server reached over HTTP
    for name, value in QUICK_HTTP_RETRIES.items():
        os.environ.setdefault(name, value)  # the user's own settings win
    try:  # builds the tracking and registry stores from the URI; nothing is contacted yet
        return MlflowClient()
    except Exception as exc:  # MLflow raises MlflowException, KeyError or its own URI exceptions for a URI it refuses
        text = str(exc).strip().strip("'")
        reason = redact(re.split(r"(?<=\.) ", text.splitlines()[0])[0].rstrip(".")) if text else type(exc).__name__
        raise UsageError(f"MLflow refuses the tracking URI {_raw_tracking_uri()} ({reason[:300]})",
                         "Set MLFLOW_TRACKING_URI to the tracking server (Domino sets it in workspaces and jobs) or a "
                         "database store such as sqlite:///mlflow.db", code="mlflow-tracking-uri") from None


def _raw_tracking_uri() -> str:
    """The URI from the environment, without any user:password part (``tracking_uri()`` may fail on a bad one)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    return redact(re.sub(r"//[^/@]*@", "//", uri)) or "(default)"


def _get_run(client: Any, run_id: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id)
    except MlflowException as exc:
        if _not_found(exc):
            raise UsageError(f"No MLflow run with id '{run_id}' at {tracking_uri()}",
                             "Copy the run id from the experiment's run page, or check MLFLOW_TRACKING_URI",
                             code="mlflow-run-missing") from None
        raise


def _best_run(client: Any, experiment: str, metric: str, mode: str) -> ModelChoice:
    found = client.get_experiment_by_name(experiment)
    if found is None:
        names = sorted(e.name for e in client.search_experiments(max_results=200))
        raise UsageError(f"No MLflow experiment named '{experiment}' (experiments: {_listing(names)})",
                         "Pass one of these with --experiment, or check MLFLOW_TRACKING_URI",
                         code="mlflow-experiment-missing")
    direction = "DESC" if mode == "max" else "ASC"
    runs = client.search_runs([found.experiment_id], order_by=[f"metrics.`{metric}` {direction}"],
                              max_results=MAX_RUNS_SCANNED)
    scored = [r for r in runs if metric in r.data.metrics and r.data.metrics[metric] == r.data.metrics[metric]]
    if not scored:
        if not runs:
            raise UsageError(f"Experiment '{experiment}' has no runs", "Train and log a model first",
                             code="mlflow-no-runs")
        logged = sorted({name for r in runs for name in r.data.metrics})
        raise UsageError(f"No run in experiment '{experiment}' logged the metric '{metric}' "
                         f"(metrics logged: {_listing(logged)})", "Pass one of these with --metric",
                         code="mlflow-metric-missing")
    ranked = sorted(scored, key=lambda r: r.data.metrics[metric], reverse=mode == "max")
    try:
        return _choice_for_run(client, ranked[0], "best-metric", metric=metric, mode=mode)
    except UsageError as error:
        if error.code != "mlflow-no-model":
            raise
        raise _best_run_without_model(client, experiment, metric, ranked) from None


def _choice_for_run(client: Any, run: Any, selected_by: str, metric: str | None = None,
                    mode: str | None = None) -> ModelChoice:
    model_uri = find_model_uri(client, run)
    experiment = client.get_experiment(run.info.experiment_id)
    return ModelChoice(
        selected_by=selected_by, run_id=run.info.run_id, experiment_id=run.info.experiment_id,
        experiment_name=experiment.name if experiment else "", model_uri=model_uri,
        flavours=_flavours(model_uri), metric_name=metric,
        metric_value=run.data.metrics.get(metric) if metric else None, mode=mode,
        run_metrics=dict(run.data.metrics))


def _choice_for_registry(client: Any, name: str, version: str | None, alias: str | None) -> ModelChoice:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        if not _not_found(exc):
            raise
        names = sorted(m.name for m in client.search_registered_models(max_results=200))
        raise UsageError(f"No registered model named '{name}' (registered models: {_listing(names)})",
                         "Pass one of these with --model-name", code="mlflow-model-missing") from None
    try:
        found = (client.get_model_version(name, str(version)) if version
                 else client.get_model_version_by_alias(name, alias))
    except MlflowException as exc:
        if not _not_found(exc) and "alias" not in str(exc).lower():
            raise
        versions = sorted(int(v.version) for v in client.search_model_versions(f"name = '{name}'"))
        aliases = sorted(client.get_registered_model(name).aliases or {})
        what = f"version {version}" if version else f"alias '{alias}'"
        raise UsageError(f"Registered model '{name}' has no {what} (versions: {_listing(versions)}; "
                         f"aliases: {_listing(aliases)})", "Pass one of these with --version or --alias",
                         code="mlflow-version-missing") from None
    model_uri = f"models:/{name}/{found.version}"
    run = client.get_run(found.run_id) if found.run_id else None
    experiment = client.get_experiment(run.info.experiment_id) if run else None
    return ModelChoice(
        selected_by="registry", run_id=found.run_id or "", experiment_id=run.info.experiment_id if run else "",
        experiment_name=experiment.name if experiment else "", model_uri=model_uri, flavours=_flavours(model_uri),
        registered_model={"name": name, "version": str(found.version), "alias": alias, "source": found.source},
        run_metrics=dict(run.data.metrics) if run else {})


def _flavours(model_uri: str) -> tuple[str, ...]:
    from mlflow.models import get_model_info

    return tuple(get_model_info(model_uri).flavors)


# ------------------------------------------------------------------------------------------------ export


def export_model(choice: ModelChoice, output_dir: str | os.PathLike[str]) -> ExportResult:
    """Write ``model.pkl`` (sklearn) or ``model/`` (other flavours) and ``model_manifest.json`` to ``output_dir``."""
    from dmm.dataio import check_output_dir
    from dmm.paths import check_output_file

    output_dir = check_output_dir(output_dir)
    check_output_file(output_dir / MANIFEST_NAME, "--output-dir")  # both names before either is written
    if choice.flavour == "sklearn":
        check_output_file(output_dir / PICKLE_NAME, "--output-dir")
    elif (output_dir / MODEL_DIR_NAME).exists() and not (output_dir / MODEL_DIR_NAME).is_dir():
        raise UsageError(f"{output_dir / MODEL_DIR_NAME} is a file, so the model folder cannot be written there",
                         "Pass another folder with --output-dir, or move the file away", code="output-dir-not-a-folder")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"Could not create the output folder {output_dir} ({error.strerror or error})",
                         "Pass a writable folder with --output-dir", code="output-dir-not-writable") from None
    with _mlflow_errors():
        if choice.flavour == "sklearn":
            model_path = _write_pickle(choice.model_uri, output_dir / PICKLE_NAME)
        else:
            model_path = _copy_model_dir(choice.model_uri, output_dir / MODEL_DIR_NAME)
    manifest_path = write_json(output_dir / MANIFEST_NAME, manifest(choice, model_path))
    return ExportResult(choice=choice, model_path=model_path, manifest_path=manifest_path)


def _write_pickle(model_uri: str, target: Path) -> Path:
    import joblib
    import mlflow.sklearn

    model = mlflow.sklearn.load_model(model_uri)
    with atomic_path(target) as partial:
        joblib.dump(model, partial)
    return target


def _copy_model_dir(model_uri: str, target: Path) -> Path:
    import mlflow.artifacts

    with tempfile.TemporaryDirectory(dir=target.parent) as staging:
        downloaded = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=staging))
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(downloaded, target)
    return target


def manifest(choice: ModelChoice, model_path: Path) -> dict[str, Any]:
    return {
        "run_id": choice.run_id,
        "experiment": {"id": choice.experiment_id, "name": choice.experiment_name},
        "selected_by": choice.selected_by,
        "metric": ({"name": choice.metric_name, "value": choice.metric_value, "mode": choice.mode}
                   if choice.metric_name else None),
        "run_metrics": choice.run_metrics,
        "registered_model": choice.registered_model,
        "model_uri": choice.model_uri,
        "flavour": choice.flavour,
        "flavours": list(choice.flavours),
        "artifact": model_path.name + ("/" if model_path.is_dir() else ""),
        "tracking_uri": tracking_uri(),
        "libraries": library_versions(),
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("mlflow", "scikit-learn", "joblib", "pandas", "numpy"):
        try:
            versions[name] = package_version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def tracking_uri() -> str:
    """The tracking URI in use, without any user:password part."""
    import mlflow

    uri = mlflow.get_tracking_uri()
    parts = urlsplit(uri)
    if parts.username or parts.password:
        parts = parts._replace(netloc=(parts.hostname or "") + (f":{parts.port}" if parts.port else ""))
        uri = urlunsplit(parts)
    return redact(uri)


# ------------------------------------------------------------------------------------------------ errors


def _not_found(exc: Exception) -> bool:
    return getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST" or "not found" in str(exc).lower()


@contextmanager
def _mlflow_errors() -> Iterator[None]:
    """An MLflow or connection failure becomes one ``ApiError`` sentence naming the tracking server."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except DmmError:
        raise
    except Exception as exc:
        if not (isinstance(exc, (MlflowException, OSError))
                or type(exc).__module__.startswith(("requests", "urllib3"))):
            raise
        if isinstance(exc, ConnectionError) or "Max retries exceeded" in str(exc):
            raise ApiError(f"Could not reach the MLflow tracking server at {tracking_uri()}",
                           "Check MLFLOW_TRACKING_URI (Domino sets it in workspaces and jobs) and that the server "
                           "is up", code="unreachable") from None
        first_line = redact(str(exc).strip().splitlines()[0]) if str(exc).strip() else type(exc).__name__
        raise ApiError(f"MLflow at {tracking_uri()} failed: {first_line[:300]}",
                       "Check MLFLOW_TRACKING_URI and that the tracking server is reachable",
                       code="mlflow-failed") from None
