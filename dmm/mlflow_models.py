"""Which model an MLflow run logged (step 2): an MLflow 3 logged model (the run's outputs, or
``search_logged_models``), else MLflow 2 style run artifacts (any folder holding an ``MLmodel`` file); and what to
say when the best run by a metric logged none."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from typing import Any

from dmm.errors import UsageError

MAX_RUNS_CHECKED_FOR_MODEL = 20  # runs looked into for a logged model when the best one has none


def find_model_uri(client: Any, run: Any) -> str:
    """The URI of the one model a run logged: an MLflow 3 logged model, else a run artifact folder with MLmodel."""
    run_id = run.info.run_id
    uris = _logged_model_uris(client, run)
    if not uris:
        uris = [f"runs:/{run_id}/{path}" for path in _artifact_model_paths(client, run_id)]
    if not uris:
        raise UsageError(f"Run {run_id} has no logged model (no MLflow 3 logged model and no MLmodel among its "
                         "artifacts)",
                         "Log the model in that run with mlflow.<flavour>.log_model, or pick another run",
                         code="mlflow-no-model")
    if len(uris) > 1:
        raise UsageError(f"Run {run_id} logged several models ({listing(uris)})",
                         "Register the one you want and export it with --model-name and --version",
                         code="mlflow-several-models")
    return uris[0]


def _logged_model_uris(client: Any, run: Any) -> list[str]:
    """MLflow 3: the run's model outputs, or the logged models whose source run is this run."""
    outputs = getattr(getattr(run, "outputs", None), "model_outputs", None) or []
    ids = list(dict.fromkeys(o.model_id for o in outputs))
    if not ids:
        try:
            import mlflow

            models = mlflow.search_logged_models(
                experiment_ids=[run.info.experiment_id],
                filter_string=f"source_run_id = '{run.info.run_id}'", output_format="list")
            ids = [m.model_id for m in models]
        except Exception:  # an MLflow 2 server has no logged-models API; fall back to run artifacts
            return []
    return [f"models:/{model_id}" for model_id in ids]


def _artifact_model_paths(client: Any, run_id: str, path: str | None = None, depth: int = 0) -> Iterator[str]:
    """MLflow 2: every artifact folder of the run that holds an MLmodel file."""
    entries = client.list_artifacts(run_id, path) if path else client.list_artifacts(run_id)
    if path and any(not e.is_dir and e.path.rsplit("/", 1)[-1] == "MLmodel" for e in entries):
        yield path
        return
    if depth < 4:
        for entry in entries:
            if entry.is_dir:
                yield from _artifact_model_paths(client, run_id, entry.path, depth + 1)


def best_run_without_model(client: Any, experiment: str, metric: str, ranked: list[Any]) -> UsageError:
    """The best run by the metric logged no model (a tuning run, say): say so and name the best run that did."""
    best = ranked[0]
    said = f"The best run of experiment '{experiment}' by '{metric}' ({best.info.run_id}, {metric}=" \
           f"{best.data.metrics[metric]:g}) logged no model"
    for run in ranked[1:MAX_RUNS_CHECKED_FOR_MODEL]:
        with suppress(UsageError):
            find_model_uri(client, run)
            return UsageError(said, f"The best run that logged one is {run.info.run_id} ({metric}="
                                    f"{run.data.metrics[metric]:g}): pass --run-id {run.info.run_id}, or log the "
                                    "model in the run that logs the metric", code="mlflow-no-model")
    return UsageError(f"{said}, nor did any other run that logged '{metric}'", "Pass --run-id with the run that "
                      "holds the model, or log the model in the run that logs the metric", code="mlflow-no-model")


def listing(items: Any, limit: int = 15) -> str:
    items = [str(i) for i in items]
    if not items:
        return "none"
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")
