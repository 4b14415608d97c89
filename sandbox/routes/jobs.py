"""Domino's scheduled Jobs, as far as ``python -m dmm.schedule_job`` reaches them (blueprint "jobs").

Evidence: dominodatalab/domino-claude-plugin ``skills/jobs/SKILL.md`` ("Scheduled Jobs > Via REST API"):
- ``GET /v4/users/self`` answers the caller, whose ``id`` is the ``scheduledByUserId``;
- ``POST /v4/projects/{projectId}/scheduledjobs`` takes a ``NewScheduledJobDto`` whose required fields it lists:
  ``title``, ``command``, ``schedule.cronString`` (Domino's six-field cron, e.g. ``0 0 5,10,14,20 * * ?``),
  ``schedule.isCustom``, ``timezoneId``, ``isPaused``, ``allowConcurrentExecution``, ``hardwareTierIdentifier``,
  ``overrideEnvironmentId``, ``environmentRevisionSpec`` (``ActiveRevision`` or ``LatestRevision``),
  ``scheduledByUserId``, ``notifyOnCompleteEmailAddresses``. All are required here, as that page says.
The Scheduled Jobs dialog (https://docs.dominodatalab.com/en/3.6/reference/Scheduled_Jobs.html) has the same pieces:
command, schedule, pause, run sequentially or concurrently, emails, hardware tier, title.
A cron is checked the way Quartz (Domino's ``?`` form) needs it: six or seven fields, ``?`` in the day-of-month or
the day-of-week field.
Listing a project's scheduled jobs (``GET`` on the same path) is not in that evidence [uncertain]: answered only
when the monitor option ``scheduled_jobs_listable`` is on (default off: 405, the stricter reading).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, jsonify

from sandbox import monitor_options
from sandbox.errors import RouteError
from sandbox.routes.common import current_settings, current_state, json_object

blueprint = Blueprint("jobs", __name__)

REQUIRED = {"title": str, "command": str, "schedule": dict, "timezoneId": str, "isPaused": bool,
            "allowConcurrentExecution": bool, "hardwareTierIdentifier": str, "overrideEnvironmentId": str,
            "environmentRevisionSpec": str, "scheduledByUserId": str, "notifyOnCompleteEmailAddresses": list}
REVISION_SPECS = ("ActiveRevision", "LatestRevision")


def user_id() -> str:
    return f"user-{current_settings().project_owner}"


@blueprint.get("/v4/users/self")
def users_self():
    settings = current_settings()
    return jsonify({"id": user_id(), "userName": settings.project_owner, "firstName": "Sandbox", "lastName": "User"})


def _project(project_id: str) -> None:
    if project_id != current_settings().project_id:
        raise RouteError(404, f"Project {project_id} not found")


def _check(body: dict[str, Any]) -> None:
    problems = [f"{name} is required ({kind.__name__})" for name, kind in REQUIRED.items()
                if not isinstance(body.get(name), kind) or (kind is str and not body[name].strip())]
    schedule = body.get("schedule") if isinstance(body.get("schedule"), dict) else {}
    cron = schedule.get("cronString")
    if not isinstance(cron, str) or not isinstance(schedule.get("isCustom"), bool):
        problems.append("schedule needs cronString (text) and isCustom (boolean)")
    elif not _quartz(cron):
        problems.append(f"schedule.cronString {cron!r} is not a valid cron expression (six or seven fields, seconds "
                        "first, '?' in the day-of-month or day-of-week field)")
    if body.get("environmentRevisionSpec") not in REVISION_SPECS:
        problems.append(f"environmentRevisionSpec must be one of {', '.join(REVISION_SPECS)}")
    if body.get("scheduledByUserId") not in (None, user_id()) and isinstance(body.get("scheduledByUserId"), str):
        problems.append("scheduledByUserId must be the caller's own id")
    unknown = sorted(set(body) - set(REQUIRED))
    if unknown:
        problems.append(f"unknown field(s) {', '.join(unknown)}")
    if problems:
        raise RouteError(400, *problems)


def _quartz(cron: str) -> bool:
    fields = cron.split()
    return len(fields) in (6, 7) and "?" in (fields[3], fields[5]) and fields[3] != fields[5]


@blueprint.post("/v4/projects/<project_id>/scheduledjobs")
def create_scheduled_job(project_id: str):
    _project(project_id)
    body = json_object()
    _check(body)
    job = {**body, "id": uuid.uuid4().hex[:24], "projectId": project_id, "isDeleted": False}
    with current_state().transaction() as data:
        data.setdefault("scheduled_jobs", {})[job["id"]] = job
    return jsonify(job)


@blueprint.get("/v4/projects/<project_id>/scheduledjobs")
def list_scheduled_jobs(project_id: str):
    if not monitor_options.OPTIONS["scheduled_jobs_listable"]:
        raise RouteError(405, "Method Not Allowed")
    _project(project_id)
    with current_state().reading() as data:
        return jsonify(list(data.get("scheduled_jobs", {}).values()))
