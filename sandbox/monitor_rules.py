"""DMM's rules for the Monitoring Config JSON and register-dataset payloads (domino-api.md §2.3, §2.4, §5).

Pure checks over payloads and model records: each raises ``RouteError(status, message)`` with the sentence DMM
would answer, before anything is changed.
"""

from __future__ import annotations

from typing import Any

from sandbox.errors import RouteError
from sandbox.monitor_options import OPTIONS

VALUE_TYPES = {
    "feature": {"numerical", "categorical"},
    "prediction": {"numerical", "categorical"},
    "timestamp": {"datetime"},
    "row_identifier": {"string"},
    "prediction_probability": {"numerical"},
    "sample_weight": {"numerical"},
    "ground_truth": {"numerical", "categorical"},
}
SINGLE_PER_MODEL = ("prediction", "timestamp", "row_identifier", "prediction_probability", "sample_weight")
AT_MODEL_REGISTRATION = {"feature", "prediction", "timestamp", "row_identifier"}
AT_PREDICTION_REGISTRATION = {"timestamp", "row_identifier", "prediction_probability", "sample_weight"}
AT_GROUND_TRUTH_REGISTRATION = {"ground_truth", "row_identifier"}
VARIABLE_KEYS = {"name", "variableType", "valueType", "featureImportance", "forPredictionOutput", "binsNum",
                 "binEdges", "binCategories"}
MODEL_TYPES = ("classification", "regression")
DATASET_DETAILS_KEYS = ("name", "datasetType", "datasetConfig", "datasourceName", "datasourceType")


def refuse(message: str, status: int = 400) -> RouteError:
    return RouteError(status, message)


def check_variables(variables: Any, allowed_types: set[str], where: str) -> list[dict[str, Any]]:
    """Shape, types and value types of a ``variables`` list; names unique within it."""
    if not isinstance(variables, list) or not all(isinstance(item, dict) for item in variables):
        raise refuse(f"variables must be a list of objects in the {where} payload")
    seen: set[str] = set()
    for item in variables:
        name, variable_type, value_type = item.get("name"), item.get("variableType"), item.get("valueType")
        if not isinstance(name, str) or not name.strip():
            raise refuse(f"Every variable needs a non-empty name in the {where} payload")
        if name in seen:
            raise refuse(f"Variable {name} is declared more than once; a column has exactly one variableType")
        seen.add(name)
        if variable_type not in VALUE_TYPES:
            raise refuse(f"Variable {name} has an unknown variableType {variable_type!r}; "
                         f"use one of {sorted(VALUE_TYPES)}")
        if variable_type not in allowed_types:
            raise refuse(f"Variable {name} of variableType {variable_type} is not allowed in the {where} payload")
        if value_type not in VALUE_TYPES[variable_type]:
            raise refuse(f"Variable {name} of variableType {variable_type} must have valueType one of "
                         f"{sorted(VALUE_TYPES[variable_type])}, not {value_type!r}")
        unknown = sorted(set(item) - VARIABLE_KEYS)
        if unknown and OPTIONS["reject_unknown_variable_keys"]:
            raise refuse(f"Variable {name} has unknown key(s) {unknown}")
        if "featureImportance" in item and not _is_number(item["featureImportance"]):
            raise refuse(f"Variable {name}: featureImportance must be a number")
        if "forPredictionOutput" in item and variable_type != "ground_truth":
            raise refuse(f"Variable {name}: forPredictionOutput is only allowed on ground_truth variables")
        _check_binning(item)
    return variables


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_binning(item: dict[str, Any]) -> None:
    name = item["name"]
    if "binsNum" in item and (not isinstance(item["binsNum"], int) or isinstance(item["binsNum"], bool)
                              or not 2 <= item["binsNum"] <= 20):
        raise refuse(f"Variable {name}: binsNum must be an integer from 2 to 20")
    if "binEdges" in item:
        edges = item["binEdges"]
        if (not isinstance(edges, list) or len(edges) < 2
                or not all(_is_number(e) for e in edges)
                or sorted(edges) != edges):
            raise refuse(f"Variable {name}: binEdges must be an increasing list of at least two numbers")
    if "binCategories" in item and not isinstance(item["binCategories"], list):
        raise refuse(f"Variable {name}: binCategories must be a list")


def check_counts(variables: list[dict[str, Any]]) -> None:
    for variable_type in SINGLE_PER_MODEL:
        names = [v["name"] for v in variables if v["variableType"] == variable_type]
        if len(names) > 1:
            raise refuse(f"There can be only 1 {variable_type} variable per model, got {names}")


def check_dataset_details(details: Any) -> dict[str, Any]:
    if not isinstance(details, dict):
        raise refuse("datasetDetails is required: {name, datasetType, datasetConfig{path, fileFormat}, "
                     "datasourceName, datasourceType}")
    missing = [key for key in DATASET_DETAILS_KEYS if details.get(key) in (None, "", {})]
    if missing:
        raise refuse(f"datasetDetails is missing {missing}")
    if details["datasetType"] not in OPTIONS["dataset_types"]:
        raise refuse(f"datasetDetails.datasetType must be one of {OPTIONS['dataset_types']}, "
                     f"not {details['datasetType']!r}")
    config = details["datasetConfig"]
    if not isinstance(config, dict) or not isinstance(config.get("path"), str) or not config.get("path"):
        raise refuse("datasetDetails.datasetConfig.path is required")
    if config.get("fileFormat") not in OPTIONS["file_formats"]:
        raise refuse(f"datasetDetails.datasetConfig.fileFormat must be one of {OPTIONS['file_formats']}, "
                     f"not {config.get('fileFormat')!r}")
    if not isinstance(details["name"], str):
        raise refuse("datasetDetails.name must be a string")
    return details


def check_model_config(body: Any) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """The Monitoring Config JSON of PUT /model -> (variables, datasetDetails, modelMetadata)."""
    if not isinstance(body, dict):
        raise refuse("The Monitoring Config must be a JSON object with variables, datasetDetails and modelMetadata")
    for key in ("variables", "datasetDetails", "modelMetadata"):
        if key not in body:
            raise refuse(f"{key} is required in the Monitoring Config")
    metadata = body["modelMetadata"]
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str) or not metadata["name"].strip():
        raise refuse("modelMetadata.name is required")
    if metadata.get("modelType") not in MODEL_TYPES:
        raise refuse(f"modelMetadata.modelType must be one of {list(MODEL_TYPES)}, not {metadata.get('modelType')!r}")
    if "version" in metadata and not isinstance(metadata["version"], str):
        raise refuse("modelMetadata.version must be a string")
    if not isinstance(body.get("run_cohort_analysis", False), bool):
        raise refuse("run_cohort_analysis must be true or false")
    variables = check_variables(body["variables"], AT_MODEL_REGISTRATION, "model registration")
    check_counts(variables)
    if not any(v["variableType"] == "feature" for v in variables):
        raise refuse("At least one feature variable must be declared at model registration")
    if metadata.get("sourceType") == "domino_workbench":
        for variable in variables:
            if variable["variableType"] == "prediction":
                raise refuse(f"Variable {variable['name']} not allowed for registration")
    details = check_dataset_details(body["datasetDetails"])
    return variables, details, metadata


def _already_configured(names: list[str]) -> RouteError:
    return refuse(f"Variable(s) with name {names} is/are already configured")


def prediction_row_identifiers(model: dict[str, Any]) -> list[dict[str, Any]]:
    """The row identifier declared on the prediction side (an endpoint monitor's ``event_id``)."""
    return [v for v in model["variables"] if v["variableType"] == "row_identifier"]


def _check_beside_prediction_row_identifier(model: dict[str, Any], new_row_ids: list[dict[str, Any]]) -> None:
    """A ground-truth row_identifier on a model whose predictions already declare one.

    Evidence: Domino's tutorial (dominodatalab/model-monitoring-setup, 5_upload_ground_truth.py, ``upload_config``)
    expects "can be only 1 row_identifier" ("Row identifier already exists globally - retrying without row
    identifier") and "Variable(s) with name ['target', 'event_id'] is/are already configured" for the endpoint's
    own ``event_id``; domino-api.md §2.3: at most 1 row_identifier per model, declarable at prediction
    registration. Which answer a given Domino gives is [uncertain]: ``gt_row_identifier_beside_prediction_one``.
    """
    mode = OPTIONS["gt_row_identifier_beside_prediction_one"]
    declared = prediction_row_identifiers(model)
    if not declared or not new_row_ids or mode == "allowed":
        return
    same = [v["name"] for v in new_row_ids if v["name"] in {d["name"] for d in declared}]
    if same and mode == "already-configured":
        raise _already_configured(same)
    raise refuse(f"There can be only 1 row_identifier per model: {declared[0]['name']} is already configured, "
                 f"got {[v['name'] for v in new_row_ids]}")


def check_ground_truth(model: dict[str, Any], body: Any) -> list[dict[str, Any]]:
    """The new ground-truth variables of a register-dataset/ground_truth payload (empty: datasetDetails only)."""
    if not isinstance(body, dict):
        raise refuse("The register-dataset payload must be a JSON object with datasetDetails")
    check_dataset_details(body.get("datasetDetails"))
    configured = model["_groundTruthVariables"]
    if "variables" not in body or body["variables"] in (None, []):
        if not configured:
            raise refuse("No ground truth variables are configured for this model yet; the first ground truth "
                         "registration must declare a ground_truth and a row_identifier variable")
        return []
    variables = check_variables(body["variables"], AT_GROUND_TRUTH_REGISTRATION, "ground truth registration")
    configured_names = {v["name"] for v in configured
                        if v["variableType"] == "ground_truth" or OPTIONS["gt_row_identifier_counts_as_configured"]}
    again = [v["name"] for v in variables if v["name"] in configured_names]
    if again:
        raise _already_configured(again)
    model_names = {v["name"] for v in model["variables"]}
    clashing = [v["name"] for v in variables if v["variableType"] == "ground_truth" and v["name"] in model_names]
    if clashing and OPTIONS["gt_name_may_not_reuse_model_variable"]:
        raise _already_configured(clashing)
    configured_all = {v["name"] for v in configured}
    new_row_ids = [v for v in variables if v["variableType"] == "row_identifier" and v["name"] not in configured_all]
    _check_beside_prediction_row_identifier(model, new_row_ids)
    row_ids = [v for v in configured if v["variableType"] == "row_identifier"] + new_row_ids
    if len(row_ids) > 1:
        raise refuse(f"There can be only 1 row_identifier, got {[v['name'] for v in row_ids]}")
    if not row_ids and not prediction_row_identifiers(model):
        raise refuse("Ground truth needs exactly 1 row_identifier variable (valueType string) to join predictions")
    prediction = next((v for v in model["variables"] if v["variableType"] == "prediction"), None)
    labelled = {v.get("forPredictionOutput") for v in configured if v["variableType"] == "ground_truth"}
    new_truths = [v for v in variables if v["variableType"] == "ground_truth"]
    if not new_truths and not labelled:
        raise refuse("Ground truth registration needs a ground_truth variable with forPredictionOutput")
    for truth in new_truths:
        target = truth.get("forPredictionOutput")
        if prediction is None:
            raise refuse(f"Variable {truth['name']}: the model has no prediction variable to label")
        if target != prediction["name"]:
            raise refuse(f"Variable {truth['name']}: forPredictionOutput must name the prediction variable "
                         f"{prediction['name']!r}, not {target!r}")
        if target in labelled:
            raise refuse(f"A ground truth variable for prediction {target!r} is already configured")
        if truth["valueType"] != prediction["valueType"]:
            raise refuse(f"Variable {truth['name']}: valueType {truth['valueType']} does not match the prediction "
                         f"{prediction['name']!r} valueType {prediction['valueType']}")
    return [v for v in variables if v["name"] not in configured_all]


def check_prediction(model: dict[str, Any], body: Any) -> list[dict[str, Any]]:
    """The new variables of a register-dataset/prediction payload (may be none)."""
    if not isinstance(body, dict):
        raise refuse("The register-dataset payload must be a JSON object with datasetDetails")
    if model.get("sourceType") == "domino_workbench" and OPTIONS["reject_prediction_dataset_for_endpoint_monitors"]:
        raise refuse("Prediction data of a Domino endpoint monitor is ingested from prediction capture only; "
                     "register prediction datasets on a model registered with a data source")
    check_dataset_details(body.get("datasetDetails"))
    variables = body.get("variables") or []
    if not variables:
        return []
    check_variables(variables, AT_PREDICTION_REGISTRATION, "prediction registration")
    configured = {v["name"] for v in model["variables"]}
    again = [v["name"] for v in variables if v["name"] in configured]
    if again:
        raise _already_configured(again)
    check_counts(model["variables"] + variables)
    return variables


def passes(value: float | None, condition: dict[str, Any] | None) -> bool:
    """DMM's passing condition ``{operator, lower, upper}``; no condition or no value passes."""
    if not condition or value is None:
        return True
    operator, lower, upper = condition.get("operator"), condition.get("lower"), condition.get("upper")
    checks = {"<": lambda: value < lower, "<=": lambda: value <= lower, ">": lambda: value > lower,
              ">=": lambda: value >= lower, "between": lambda: lower <= value <= upper}
    if operator not in checks:
        raise refuse(f"condition.operator must be one of {sorted(checks)}, not {operator!r}")
    return bool(checks[operator]())
