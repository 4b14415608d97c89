"""Behaviours that ../shared/domino-api.md marks [uncertain]: switchable, never guessed silently.

``OPTIONS`` is read on every request, so ``POST /sandbox/monitor-options {key: value}`` (or a start flag that calls
``update``) changes the sandbox's answer without a restart. Each key names the contract line it stands for.
"""

from __future__ import annotations

import copy
from typing import Any

DEFAULTS: dict[str, Any] = {
    # §2.2 PUT /model: the id key of the answer ("id or modelId"): both by default
    "register_model_id_keys": ["id", "modelId"],
    # §2.2 GET /model?modelId=… (camelCase) was observed to answer 500
    "get_model_camel_case_status": 500,
    # §2.2 DELETE /model: 409 while the source endpoint version is running
    "delete_conflict_while_running": True,
    # §2.3 unknown keys in a variable object are refused (strict, like Domino's schema validation)
    "reject_unknown_variable_keys": True,
    # §2.3 fileFormat values accepted ("csv" documented, "parquet" plausible)
    "file_formats": ["csv", "parquet"],
    # §2.5 DMM data source types accepted by PUT /datasource
    "datasource_types": ["s3", "generic_s3", "azure_blob", "azure_data_lake", "gcs", "hdfs", "snowflake"],
    # §2.5 datasetDetails.datasourceType must equal the DMM data source's type
    "check_datasource_type": True,
    # §2.2 GET /models pageNumber of the first page: 0, as Domino's tutorial client sends it ("Page number
    # (0-indexed)", page_number=0: dominodatalab/model-monitoring-setup app-model-monitor-extension/api_client.py)
    "page_number_base": 0,
    # §2.3 datasetType values accepted
    "dataset_types": ["file"],
    # §2 the model record of an endpoint monitor naming its training-set version ({"trainingSet": {name, version}}):
    # no Domino document shows such a field, so by default it is not answered (the toolkit then relies on the pin
    # step 1 keeps in monitoring_schema.json)
    "model_reports_training_set": False,
    # §2.1 endpoint monitors ingest predictions only through capture: register-dataset/prediction refused
    "reject_prediction_dataset_for_endpoint_monitors": True,
    # §2.4 re-sending the ground-truth row_identifier counts as "already configured" (the original toolkit's retry
    # logic removes event_id first, so Domino seems to report it)
    "gt_row_identifier_counts_as_configured": True,
    # §2.4 a ground-truth row_identifier on a model whose prediction side already declares one (an endpoint
    # monitor's event_id): "already-configured" (same name: "Variable(s) with name [...] is/are already configured",
    # another name: "There can be only 1 row_identifier"), "only-one" (always the latter), "allowed" (accepted).
    # Domino's tutorial expects both refusals (model-monitoring-setup 5_upload_ground_truth.py); strict default.
    "gt_row_identifier_beside_prediction_one": "already-configured",
    # A ground-truth column named like a model variable (e.g. the prediction itself) is "already configured":
    # Domino's documented sample labels prediction `y` with a distinct `y_gt`, and the original toolkit's
    # "already configured" failures began when its label column took the prediction's name.
    "gt_name_may_not_reuse_model_variable": True,
    # §4.5 an endpoint monitor's ingestion needs every column of its training set (not excluded) in the captured
    # data, key and timestamp columns included ("any extra column ... uncaptured field -> UNRESOLVED_COLUMN":
    # Fraud-Detection-Workshop monitoring_blueprints/DOMINO_PLATFORM_NOTES.md §5a); False: only the monitor's
    # variables must be captured. Whether Domino exempts declared key/timestamp columns is [uncertain].
    "ingestion_needs_every_training_column": True,
    # §2.2 traffic and timeline query times: "s" (epoch seconds) or "ms"
    "time_unit": "s",
    # §2.2 ground-truth traffic parameter names (the tutorial client guesses these)
    "ground_truth_traffic_params": ["startTimestamp", "endTimestamp"],
    # §2.2 "MQ scheduler config get/save: path not captured"; §2.4 MQ scheduling is a 400 until ground truth is
    # registered. The action name under /model-monitor/api/scheduler/ is a guess mirroring the drift one.
    "quality_schedule_action": "create_model_quality_schedule_check",
    # §2.2 analyse-drift requires pagination{sortOrder, sortOn}
    "drift_requires_pagination": True,
    # §6.2 default drift test and passing condition of a new model
    "default_drift_algorithm": "POPULATION STABILITY INDEX",
    "default_drift_condition": {"operator": "<", "lower": 0.2, "upper": 0.2},
    # §7 model-quality passing conditions by metric key, {"accuracy": {"operator": ">=", "threshold": 0.7}};
    # merged over dmm.analysis DEFAULT_QUALITY_THRESHOLDS (Domino's defaults are undocumented)
    "default_quality_conditions": {},
    # §2.2 analyze-model-quality with no matched rows: 204 (documented "204 empty")
    "quality_empty_status": 204,
    # §11 the data-source proxy's POST /objectstore/list: at most this many keys a page, the first in ascending key
    # order, whatever page_size asks (S3: "Returns some or all (up to 1,000) of the objects in a bucket with each
    # request", "sorted in an ascending order of the respective key names", docs.aws.amazon.com/AmazonS3/latest/API/
    # API_ListObjectsV2.html); tests set a smaller cap
    "list_page_cap": 1000,
    # Training-set names are unique per Domino instance; adding a version from another project "can result in an
    # error" (docs: user_guide create-trainingsets). The sandbox serves one project, so the names other projects own
    # are listed here; creating a version of one is refused with this status (the real status is undocumented)
    "training_set_names_of_other_projects": [],
    "training_set_name_taken_status": 409,
    # Fields no public source documents (domino-api.md "Still open": ingestionErrors[] and traffic-answer shapes):
    # whether the model record carries ingestionErrors, and the prediction-traffic answer's shape ("counts":
    # {modelId, totalQueries, traffic[{timestamp, queries}]}; "opaque": a series whose keys name no count)
    "model_reports_ingestion_errors": True,
    "prediction_traffic_shape": "counts",
    # §2.2 GT labels are matched only when ingested within this many days
    "ground_truth_window_days": 90,
    # Domino's scheduled Jobs (sandbox/routes/jobs.py): listing a project's scheduled jobs with GET
    # /v4/projects/{id}/scheduledjobs is undocumented in our evidence; off by default (405), the stricter reading
    "scheduled_jobs_listable": False,
    # Issue 10 §4: a model deployed from the Model Registry answers "a list-of-rows ([[...]]), not a dict" (field
    # notes §2c); whether a DataFrame's rows keep their column names is not documented. False: bare values (the
    # stricter reading, the field notes' [[...]]); True: records. Read when a registered model is deployed.
    "registry_rows_as_records": False,
}

OPTIONS: dict[str, Any] = copy.deepcopy(DEFAULTS)


def update(changes: dict[str, Any]) -> dict[str, Any]:
    """Apply ``changes`` (unknown keys refused with ValueError); returns the options now in force."""
    unknown = sorted(set(changes) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown monitor option(s) {unknown}; known: {sorted(DEFAULTS)}")
    OPTIONS.update(changes)
    return dict(OPTIONS)


def reset() -> None:
    OPTIONS.clear()
    OPTIONS.update(copy.deepcopy(DEFAULTS))
