"""Model Monitor's read-side and scheduling routes: dataset jobs, traffic, drift and quality analyses, saved drift
configs and the scheduler. Their routes extend ``sandbox.routes.monitor``'s blueprint, so they form one route group
(the same auth and faults) as on Domino, where they live under the same ``/model-monitor`` service.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from sandbox import monitor_analysis as analysis
from sandbox.errors import RouteError
from sandbox.monitor_data import parse_time
from sandbox.monitor_options import OPTIONS
from sandbox.monitor_rules import passes, refuse
from sandbox.routes.common import current_state, json_body
from sandbox.routes.monitor import API, SCHEDULER, _model, _required_args, _snapshot, blueprint
from sandbox.store import DMM_JOBS, DMM_MODELS

blueprints: list[Any] = []  # nothing of its own to register: see the docstring


# ----------------------------------------------------------------------------------------------- jobs, traffic

@blueprint.post(f"{API}/<model_id>/dataset-jobs")
def dataset_jobs(model_id: str):
    body = json_body()
    with current_state().reading() as data:
        _model(data, model_id)
        jobs = list(data.get(DMM_JOBS, {}).get(model_id, []))
    wanted_type = body.get("datasetType") if isinstance(body, dict) else None
    return jsonify([job for job in jobs if not wanted_type or job["datasetType"] == wanted_type][::-1])


@blueprint.get(f"{API}/model/<model_id>/dataset-timeline")
def dataset_timeline(model_id: str):
    start = parse_time(request.args.get("start_date"), "start_date")
    end = parse_time(request.args.get("end_date"), "end_date")
    with current_state().reading() as data:
        _model(data, model_id)
        jobs = list(data.get(DMM_JOBS, {}).get(model_id, []))
    in_window = [job for job in jobs
                 if (start is None or job["createdAt"] >= start.timestamp())
                 and (end is None or job["createdAt"] < end.timestamp())]
    return jsonify({"modelId": model_id, "timeline": in_window})


@blueprint.get(f"{API}/model/get-prediction-traffic")
def prediction_traffic():
    args = _required_args("model_ids", "start_date", "end_date")
    start, end = parse_time(args["start_date"], "start_date"), parse_time(args["end_date"], "end_date")
    models = [_snapshot(model_id.strip()) for model_id in args["model_ids"].split(",") if model_id.strip()]
    answers = [analysis.prediction_traffic(current_state(), model, start, end) for model in models]
    if OPTIONS["prediction_traffic_shape"] == "opaque":  # an undocumented shape: nothing names a count
        answers = [{"id": answer["modelId"], "series": [{"t": point["timestamp"], "v": point["queries"]}
                                                        for point in answer["traffic"]]} for answer in answers]
    return jsonify(answers)


@blueprint.get(f"{API}/model/<model_id>/traffic/ground-truth")
def ground_truth_traffic(model_id: str):
    start_name, end_name = OPTIONS["ground_truth_traffic_params"]
    start = parse_time(request.args.get(start_name), start_name)
    end = parse_time(request.args.get(end_name), end_name)
    return jsonify(analysis.ground_truth_traffic(current_state(), _snapshot(model_id), start, end))


# ----------------------------------------------------------------------------------------------------- analyses

@blueprint.post(f"{API}/model/<model_id>/analyse-drift")
def analyse_drift(model_id: str):
    body = json_body()
    if not isinstance(body, dict):
        raise refuse("The drift query must be a JSON object")
    return jsonify(analysis.analyse_drift(current_state(), _snapshot(model_id), body))


@blueprint.post(f"{API}/model/<model_id>/analyze-model-quality")
def analyze_model_quality(model_id: str):
    body = json_body()
    if not isinstance(body, dict):
        raise refuse("The model quality query must be a JSON object")
    result = analysis.analyze_model_quality(current_state(), _snapshot(model_id), body)
    if result is None:
        return "", OPTIONS["quality_empty_status"]
    return jsonify(result)


@blueprint.get(f"{API}/model/<model_id>/drift-scheduler-query")
def drift_scheduler_query(model_id: str):
    with current_state().reading() as data:
        record = _model(data, model_id)
        return jsonify({"features": record["_driftQuery"] or analysis.default_drift_features(record)})


@blueprint.post(f"{API}/model/<model_id>/save-scheduler-query")
def save_scheduler_query(model_id: str):
    body = json_body()
    config = body.get("config") if isinstance(body, dict) else None
    if not isinstance(config, list) or not all(isinstance(item, dict) for item in config):
        raise refuse("config must be a list of feature objects {name, algorithm, condition, alertable}")
    with current_state().transaction() as data:
        record = _model(data, model_id)
        known = {v["name"] for v in record["variables"]}
        unknown = [item.get("name") for item in config if item.get("name") not in known]
        if unknown:
            raise refuse(f"Unknown variable(s) {unknown} in the scheduler query")
        for item in config:
            passes(0.0, item.get("condition"))  # refuses an unknown operator
        record["_driftQuery"] = config
        return jsonify(True)


# ---------------------------------------------------------------------------------------------------- scheduler

SCHEDULED_FLAGS = {"drift": "isDataDriftCheckScheduled", "quality": "isModelQualityCheckScheduled"}


def _schedule_body() -> dict[str, Any]:
    body = json_body()
    if not isinstance(body, dict):
        raise refuse("The schedule must be a JSON object")
    missing = [key for key in ("modelId", "name", "cronExpression", "calendarType") if body.get(key) in (None, "")]
    if missing:
        raise refuse(f"{missing} required")
    if body["calendarType"] not in ("D", "W", "M"):
        raise refuse("calendarType must be D, W or M")
    if "data_since" in body and (not isinstance(body["data_since"], int) or isinstance(body["data_since"], bool)):
        raise refuse("data_since must be an integer count of calendar periods")
    return body


def _create_schedule(kind: str, body: dict[str, Any]):
    state = current_state()
    with state.transaction() as data:
        record = _model(data, body["modelId"])
        if kind == "drift" and record["ingestionStatus"] != "prediction":
            raise refuse("No prediction data registered")
        if kind == "quality" and not record["_groundTruthFiles"]:
            raise refuse("No ground truth data registered")
        # A second create adds a second schedule: nothing public says Domino refuses one, and Domino's own scripts
        # check isDataDriftCheckScheduled before creating (Fraud-Detection-Workshop monitoring_blueprints/scripts/
        # ensure_drift_scheduled.py, DOMINO_PLATFORM_NOTES.md §5b), so the sandbox keeps both and the toolkit must not
        # ask twice.
        job_id = state.next_id(data, "schedulerjob")
        record["_schedules"][job_id] = {"schedulerJobId": job_id, "kind": kind, **body}
        record[SCHEDULED_FLAGS[kind]] = True
        return jsonify({"schedulerJobId": job_id, "modelId": record["id"], "name": body["name"]})


@blueprint.post(f"{SCHEDULER}/create_drift_schedule_check")
def create_drift_schedule_check():
    return _create_schedule("drift", _schedule_body())


@blueprint.post(f"{SCHEDULER}/<action>")
def create_quality_schedule_check(action: str):
    """The model-quality schedule, at the [uncertain] action name ``OPTIONS["quality_schedule_action"]``."""
    if action != OPTIONS["quality_schedule_action"]:
        raise RouteError(404, f"Unknown scheduler action {action}")
    return _create_schedule("quality", _schedule_body())


@blueprint.post(f"{SCHEDULER}/update_scheduler_config")
def update_scheduler_config():
    body = json_body()
    job_id = body.get("scheduler_job_id") if isinstance(body, dict) else None
    if not job_id:
        raise refuse("scheduler_job_id is required")
    with current_state().transaction() as data:
        for record in data.get(DMM_MODELS, {}).values():
            if job_id in record["_schedules"]:
                record["_schedules"][job_id].update({k: v for k, v in body.items() if k != "scheduler_job_id"})
                return jsonify(record["_schedules"][job_id])
    raise RouteError(404, f"Scheduler job {job_id} not found")


@blueprint.post(f"{SCHEDULER}/<job_id>/unschedule_scheduler_job")
def unschedule(job_id: str):
    with current_state().transaction() as data:
        for record in data.get(DMM_MODELS, {}).values():
            if record["_schedules"].pop(job_id, None) is not None:
                for kind, flag in SCHEDULED_FLAGS.items():
                    record[flag] = any(s["kind"] == kind for s in record["_schedules"].values())
                return jsonify(True)
    raise RouteError(404, f"Scheduler job {job_id} not found")
