"""Step 2's ``--wrap-capture NAME``: log the chosen model wrapped with prediction capture and register it, so that a
Model Registry endpoint (Domino 6) captures its predictions the way a file-based endpoint with the template does.

The wrapper is ``prediction_capture_example.CapturingModel`` (the template's own section, so what a user copies and
what step 2 logs are one code): the chosen model and the monitoring schema are its artifacts, the template is its
code, and its signature (``capture_signature``: the schema's features plus an optional ``event_id``) is what the
endpoint enforces. Evidence that capture must live in the pyfunc and that the endpoint enforces the signature:
Domino's field notes (github.com/dominodatalab/Fraud-Detection-Workshop, monitoring_blueprints/
DOMINO_PLATFORM_NOTES.md §2c, templates/model_pyfunc_with_capture.py, creditfraud_register_capture.py).
MLflow 2.12+ and 3.x: the model's name is ``artifact_path`` in 2.x and ``name`` in 3.x.

A retry registers nothing new: a version of the registered model whose run carries the ``dmm.wrapped_model`` tag of
the same model URI and the ``dmm.schema_sha256`` of the same schema is reused (and said so).
"""

from __future__ import annotations

import hashlib
import inspect
import warnings
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from dmm.errors import UsageError
from dmm.mlflow_export import ModelChoice, _mlflow_errors
from dmm.paths import check_readable_file

WRAPPED_NAME = "model"
RUN_NAME = "dmm-capture-wrapper"
NAME_RULE = "a registered model name: not empty, no '/' or ':'"
REQUIREMENTS = ("mlflow", "scikit-learn", "pandas", "numpy", "skops", "domino-data-capture")


@dataclass(frozen=True)
class WrappedModel:
    registered_name: str
    version: str
    model_uri: str
    run_id: str
    wrapped_uri: str
    reused: bool = False


def check_wrap(name: str | None, schema: str | None) -> Path | None:
    """The flags alone, before MLflow is contacted: the name, and the schema the wrapper captures by."""
    if name is None:
        if schema is not None:
            raise UsageError("--schema is only used with --wrap-capture", "Add --wrap-capture NAME, or leave out "
                             "--schema", code="flag-conflict")
        return None
    if not name.strip() or "/" in name or ":" in name:
        raise UsageError(f"--wrap-capture {name!r} is not {NAME_RULE}", "Pass the name to register the wrapped "
                         "model under, e.g. --wrap-capture churn-model", code="flag-invalid")
    if schema is None:
        from dmm.schema import default_schema_path

        schema = str(default_schema_path())
    path = Path(schema)
    check_readable_file(path, "The monitoring schema", flag="--schema", thing="schema")
    from dmm.schema import MonitoringSchema

    MonitoringSchema.load(path)  # schema-invalid-json / schema-malformed name the file
    return path.resolve()


def pip_requirements() -> list[str]:
    pins = []
    for name in REQUIREMENTS:
        try:
            pins.append(f"{name}=={package_version(name)}")
        except PackageNotFoundError:
            continue
    return pins


def log_model_arguments(log_model: Any, **arguments: Any) -> dict[str, Any]:
    """MLflow 3 names the model ``name``; 2.x calls it ``artifact_path``."""
    if "name" not in inspect.signature(log_model).parameters:
        arguments["artifact_path"] = arguments.pop("name")
    return arguments


def existing_version(registered_name: str, model_uri: str, schema_digest: str) -> tuple[str, str] | None:
    """``(version, run id)`` of the newest version of ``registered_name`` that already wraps ``model_uri`` with the
    same schema, or None (the name is not registered yet, or no version wraps it)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    versions = client.search_model_versions(f"name='{registered_name}'")
    # Newest first, and one run read per version until one matches: a retry finds its version with one call.
    for version in sorted(versions, key=lambda v: int(v.version), reverse=True):
        status = str(getattr(version, "status", "READY") or "READY")
        if not version.run_id or status != "READY":
            continue
        try:
            tags = client.get_run(version.run_id).data.tags
        except MlflowException:  # its run was deleted for good: it wraps nothing we can tell
            continue
        if tags.get("dmm.wrapped_model") == model_uri and tags.get("dmm.schema_sha256") == schema_digest:
            return str(version.version), version.run_id
    return None


def wrap_capture(choice: ModelChoice, schema_path: Path, registered_name: str) -> WrappedModel:
    """Log ``choice``'s model inside ``CapturingModel`` in a new run of its experiment and register it, unless a
    version already wraps it with the same schema (then that version is returned, ``reused``)."""
    import mlflow
    import mlflow.pyfunc

    import prediction_capture_example as template

    schema = template.load_schema(schema_path)
    schema_digest = hashlib.sha256(schema_path.read_bytes()).hexdigest()
    with _mlflow_errors():
        reuse = existing_version(registered_name, choice.model_uri, schema_digest)
    if reuse is not None:
        return WrappedModel(registered_name=registered_name, version=reuse[0],
                            model_uri=f"models:/{registered_name}/{reuse[0]}", run_id=reuse[1],
                            wrapped_uri=choice.model_uri, reused=True)
    with _mlflow_errors(), warnings.catch_warnings():
        # no input example on purpose: MLflow would run the model on it, and the wrapper would capture that row
        warnings.filterwarnings("ignore", message=".*input example.*", category=UserWarning)
        with mlflow.start_run(experiment_id=choice.experiment_id, run_name=RUN_NAME) as run:
            mlflow.set_tags({"dmm.wrapped_model": choice.model_uri, "dmm.wrapped_run": choice.run_id,
                             "dmm.schema_sha256": schema_digest})
            info = mlflow.pyfunc.log_model(**log_model_arguments(
                mlflow.pyfunc.log_model, name=WRAPPED_NAME, python_model=template.CapturingModel(),
                artifacts={"model": choice.model_uri, "schema": str(schema_path)},
                code_paths=[str(Path(template.__file__).resolve())],
                signature=template.capture_signature(schema), pip_requirements=pip_requirements(),
                registered_model_name=registered_name))
        version = getattr(info, "registered_model_version", None)
        if version is None:
            from mlflow import MlflowClient

            found = MlflowClient().search_model_versions(f"name='{registered_name}'")
            version = max(int(v.version) for v in found if v.run_id == run.info.run_id)
    return WrappedModel(registered_name=registered_name, version=str(version),
                        model_uri=f"models:/{registered_name}/{version}", run_id=run.info.run_id,
                        wrapped_uri=choice.model_uri)


def wrap_lines(wrapped: WrappedModel) -> list[str]:
    done = (f"Already wrapped with prediction capture: {wrapped.model_uri} (run {wrapped.run_id}) wraps "
            f"{wrapped.wrapped_uri} with this schema; reused it, nothing new registered." if wrapped.reused else
            f"Wrapped with prediction capture: {wrapped.model_uri} (run {wrapped.run_id}, wrapping "
            f"{wrapped.wrapped_uri}).")
    return [done,
            f"Next: deploy {wrapped.registered_name} version {wrapped.version} from the Model Registry as an endpoint "
            "(Endpoints > Create endpoint > from a registered model); it captures every prediction and answers its "
            "event_id, so steps 3-6 work as with a file-based endpoint."]
