"""Step 6 as a scheduled Domino Job: the plan, Domino's cron form, creating it once (``python -m dmm.schedule_job``).

Domino's API (evidence: dominodatalab/domino-claude-plugin ``skills/jobs/SKILL.md``, "Scheduled Jobs > Via REST
API"; the fields match the Scheduled Jobs dialog of https://docs.dominodatalab.com/en/3.6/reference/Scheduled_Jobs.html):
- ``GET /v4/users/self`` -> ``{"id": ...}``, the ``scheduledByUserId``;
- ``POST /v4/projects/{projectId}/scheduledjobs`` with a ``NewScheduledJobDto``: ``title``, ``command``,
  ``schedule {cronString, isCustom}``, ``timezoneId``, ``isPaused``, ``allowConcurrentExecution``,
  ``hardwareTierIdentifier``, ``overrideEnvironmentId``, ``environmentRevisionSpec``, ``scheduledByUserId``,
  ``notifyOnCompleteEmailAddresses``. Its cron is Quartz's six fields (seconds first, ``?`` in the day-of-month or
  the day-of-week field), e.g. ``0 0 5,10,14,20 * * ?``.
- Listing a project's scheduled jobs (``GET`` on the same path) is not in that evidence [uncertain]: when Domino
  answers it, an existing schedule of the same command is found there; when it does not (404/405), the record this
  helper keeps next to the config (``scheduled_jobs.json``) is the memory. Either way a second run creates nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dmm.errors import ApiError, UsageError

RECORD_FILE = "scheduled_jobs.json"
DEFAULT_COMMAND = "python 6_check_monitoring.py --days 1 --fail-on drift"
DEFAULT_CRON = "0 6 * * *"
DEFAULT_TITLE = "Daily model monitoring check (6_check_monitoring.py)"
_FIELD = re.compile(r"^[0-9A-Za-z*?/,\-#LW]+$")
_DAY_NUMBER = re.compile(r"\d+")


def quartz_cron(text: str) -> str:
    """Domino's six-field Quartz cron for a five-field Unix cron (``0 6 * * *`` -> ``0 0 6 * * ?``); a six- or
    seven-field Quartz expression is checked and kept. ``UsageError`` (``cron-invalid``) names what is wrong."""
    fields = text.split()
    bad = UsageError(f"--cron {text!r} is not a schedule Domino takes",
                     "Give five fields (minute hour day-of-month month day-of-week), e.g. --cron \"0 6 * * *\" for "
                     "06:00 every day", code="cron-invalid")
    if len(fields) not in (5, 6, 7) or not all(_FIELD.match(f) for f in fields):
        raise bad
    if len(fields) > 5:
        if "?" not in (fields[3], fields[5]):
            raise bad
        return " ".join(fields)
    minute, hour, dom, month, dow = fields
    if "?" in fields:
        raise bad
    if dom != "*" and dow != "*":
        raise UsageError(f"--cron {text!r} names both a day of the month and a day of the week, which Domino's "
                         "schedules cannot combine", "Keep one of them and write * in the other", code="cron-invalid")
    if dow == "*":
        return f"0 {minute} {hour} {dom} {month} ?"
    return f"0 {minute} {hour} ? {month} {_quartz_days(dow, bad)}"


def _quartz_days(dow: str, bad: UsageError) -> str:
    """Unix days 0-7 (0 and 7 Sunday) are Quartz's 1-7 (1 Sunday); names (MON-FRI) are the same in both."""
    def shift(match: re.Match[str]) -> str:
        day = int(match.group())
        if day > 7:
            raise bad
        return str(day % 7 + 1)

    shifted = _DAY_NUMBER.sub(shift, dow.split("/")[0]) + ("/" + dow.split("/")[1] if "/" in dow else "")
    for part in shifted.split("/")[0].split(","):
        ends = part.split("-")
        if len(ends) == 2 and ends[0].isdigit() and ends[1].isdigit() and int(ends[0]) > int(ends[1]):
            raise UsageError(f"The day range {part!r} wraps past Sunday in Domino's numbering",
                             "Write the days as names, e.g. MON-FRI or SAT,SUN", code="cron-invalid")
    return shifted


@dataclass(frozen=True)
class JobPlan:
    project_id: str
    command: str
    cron: str  # Domino's Quartz form
    cron_given: str
    title: str = DEFAULT_TITLE
    timezone: str = "UTC"
    hardware_tier: str = ""
    environment_id: str = ""
    notify: tuple[str, ...] = ()

    def payload(self, user_id: str) -> dict[str, Any]:
        return {"title": self.title, "command": self.command,
                "schedule": {"cronString": self.cron, "isCustom": True}, "timezoneId": self.timezone,
                "isPaused": False, "allowConcurrentExecution": False,  # a slow day never overlaps the next
                "hardwareTierIdentifier": self.hardware_tier, "overrideEnvironmentId": self.environment_id,
                "environmentRevisionSpec": "ActiveRevision", "scheduledByUserId": user_id,
                "notifyOnCompleteEmailAddresses": list(self.notify)}

    def lines(self) -> list[str]:
        return [f"Scheduled Job in project {self.project_id}: {self.title}",
                f"  command:       {self.command}",
                f"  schedule:      {self.cron_given} ({self.timezone}; Domino's form: {self.cron}), one run at a time",
                f"  hardware tier: {self.hardware_tier}",
                f"  environment:   {self.environment_id} (its active revision)",
                f"  notify:        {', '.join(self.notify) or 'nobody (Domino shows failed runs on the Jobs page)'}"]


def check_timezone(name: str) -> str:
    """An IANA time zone name (what Domino's schedule takes, e.g. Europe/London), or ``flag-invalid``."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--timezone {name!r} is not a time zone name", "Give an IANA name such as UTC, "
                         "Europe/London or America/New_York", code="flag-invalid") from None
    return name


def plan_job(*, command: str = DEFAULT_COMMAND, cron: str = DEFAULT_CRON, timezone: str = "UTC",
             hardware_tier: str | None = None, environment_id: str | None = None, title: str = DEFAULT_TITLE,
             notify: tuple[str, ...] = (), env: Mapping[str, str]) -> JobPlan:
    """The plan from the flags and the run's environment, or a ``UsageError`` naming the missing piece."""
    if not command.strip():
        raise UsageError("--command is empty", f"Give the command the Job runs, e.g. {DEFAULT_COMMAND!r}",
                         code="flag-invalid")
    project_id = env.get("DOMINO_PROJECT_ID", "")
    if not project_id:
        raise UsageError("DOMINO_PROJECT_ID is not set, so the project to schedule the Job in is unknown",
                         "Run this in a workspace of the project (Domino sets DOMINO_PROJECT_ID there)",
                         code="domino-env-missing")
    tier = hardware_tier or env.get("DOMINO_HARDWARE_TIER_ID", "")
    if not tier:
        raise UsageError("No hardware tier for the Job", "Give --hardware-tier (the id shown in the workspace's "
                         "settings, e.g. small-k8s); in a workspace DOMINO_HARDWARE_TIER_ID supplies it",
                         code="flag-invalid")
    if not environment_id:
        raise UsageError("No compute environment for the Job", "Give --environment-id: the id at the end of the "
                         "environment's page URL (Govern > Environments), the one this workspace runs in",
                         code="flag-invalid")
    return JobPlan(project_id, command.strip(), quartz_cron(cron), cron, title, check_timezone(timezone), tier,
                   environment_id,
                   tuple(notify))


@dataclass
class ScheduleOutcome:
    action: str  # "dry-run" | "exists" | "created" | "declined"
    lines: list[str] = field(default_factory=list)
    job: dict[str, Any] | None = None


class ScheduledJobs:
    """Domino's scheduled-jobs routes over ``dmm.http.ApiClient``."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def user_id(self) -> str:
        me = self.client.get("/v4/users/self", what="Reading who you are in Domino (GET /v4/users/self)")
        user_id = me.get("id") if isinstance(me, dict) else None
        if not user_id:
            raise ApiError("Domino did not say who this identity is (no id in GET /v4/users/self)",
                           "Run this in a workspace with a user's credentials", code="api")
        return str(user_id)

    def listing(self, project_id: str) -> list[dict[str, Any]] | None:
        """The project's scheduled jobs, or None where Domino does not list them (404/405)."""
        try:
            answer = self.client.get(f"/v4/projects/{project_id}/scheduledjobs", what="Listing scheduled Jobs")
        except ApiError as error:
            if error.status in (404, 405):
                return None
            raise
        items = answer.get("items", answer.get("data")) if isinstance(answer, dict) else answer
        return [item for item in items or [] if isinstance(item, dict)]

    def create(self, project_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        answer = self.client.post(f"/v4/projects/{project_id}/scheduledjobs", json=payload,
                                  what="Creating the scheduled Job",
                                  advice="Check the hardware tier and environment ids; creating scheduled Jobs "
                                         "needs a project collaborator who may run Jobs")
        return answer if isinstance(answer, dict) else {}


def _same(item: Mapping[str, Any], command: str) -> bool:
    return str(item.get("command", "")).strip() == command and not item.get("isDeleted")


def _read_record(path: Path) -> dict[str, Any]:
    import json

    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        raise UsageError(f"{path} is not the JSON this helper writes", f"Delete {path} or fix it, then run again",
                         code="file-unreadable") from None
    return data if isinstance(data, dict) else {}


def schedule_job(plan: JobPlan, jobs: ScheduledJobs, record_path: Path, *, dry_run: bool = False,
                 approve: Any = None) -> ScheduleOutcome:
    """Find a schedule of the same command (Domino's listing, else the record), else create one after ``approve()``
    (the dry run stops before); the record keeps what was created."""
    from dmm.files import write_json

    lines = plan.lines()
    listed = jobs.listing(plan.project_id)
    record = _read_record(record_path)
    existing = next((item for item in listed if _same(item, plan.command)), None) if listed is not None else \
        record.get(plan.project_id, {}).get(plan.command)
    where = "in Domino" if listed is not None else f"in {record_path} (Domino does not list scheduled Jobs here)"
    if existing:
        cron = (existing.get("schedule") or {}).get("cronString") or existing.get("cronString", "?")
        same = "" if cron == plan.cron else f"; its schedule is {cron}, not {plan.cron}: change it in Domino's " \
                                            "Scheduled Jobs page"
        lines.append(f"Already scheduled {where}: job {existing.get('id', '?')} runs this command{same}. "
                     "Nothing created.")
        return ScheduleOutcome("exists", lines, existing)
    if listed is None:
        lines.append(f"Domino does not list this project's scheduled Jobs, so only {record_path} was checked for "
                     "an earlier one")
    if dry_run:
        return ScheduleOutcome("dry-run", [*lines, "Dry run: nothing created."])
    if approve is not None and not approve():
        return ScheduleOutcome("declined", [*lines, "Nothing created."])
    created = jobs.create(plan.project_id, plan.payload(jobs.user_id()))
    record.setdefault(plan.project_id, {})[plan.command] = {"id": created.get("id"), "cronString": plan.cron,
                                                            "title": plan.title}
    write_json(record_path, record)
    lines.append(f"Created scheduled Job {created.get('id', '?')}; see the project's Scheduled Jobs page")
    return ScheduleOutcome("created", lines, created)
