"""Domino's Training Set API (``/trainingset``): the nine routes ``domino_data.training_sets`` calls.

The client writes the parquet itself under ``DOMINO_TRAINING_SET_PATH/<containerPath>``; this server only keeps
the records (in ``SandboxState``) and hands out paths. Every failure answers ``{"errors": [...]}``: 404 for an
unknown name or version, 400 for a payload the contract forbids, 409 for deleting a training set with versions.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, jsonify, request

from sandbox.errors import RouteError
from sandbox.monitor_options import OPTIONS
from sandbox.routes.common import current_settings, current_state, json_object

blueprint = Blueprint("trainingset", __name__, url_prefix="/trainingset")

NAME_RULE = re.compile(r"^[-A-Za-z0-9_]+$")
MONITORING_META_KEYS = ("timestampColumns", "categoricalColumns", "ordinalColumns")
VERSION_COLUMN_KEYS = ("keyColumns", "targetColumns", "excludeColumns")
CREATE_REQUIRED = ("projectId", "keyColumns", "targetColumns", "excludeColumns", "allColumns", "monitoringMeta",
                   "meta")
UPDATE_VERSION_REQUIRED = ("keyColumns", "targetColumns", "excludeColumns", "monitoringMeta", "meta", "pending")
COLLECTION = "training_sets"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------------- validation


def _check_name(name: str) -> None:
    if not NAME_RULE.match(name):
        raise RouteError(400, f"bad TrainingSet name '{name}': use letters, digits, '-' and '_' only")


def _string_list(body: dict[str, Any], key: str, problems: list[str], where: str = "") -> list[str]:
    value = body.get(key)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.append(f"{where}{key} must be a list of strings")
        return []
    return value


def _string_map(value: Any, key: str, problems: list[str], required: bool = True) -> dict[str, str]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        problems.append(f"{key} must be an object of string values")
        return {}
    return value


def _missing(body: dict[str, Any], required: tuple[str, ...]) -> list[str]:
    return [f"{key} is required" for key in required if key not in body]


def _version_fields(body: dict[str, Any], all_columns: list[str], problems: list[str]) -> dict[str, Any]:
    """Validate the column roles shared by create and update; every named column must be in ``allColumns``."""
    fields: dict[str, Any] = {key: _string_list(body, key, problems) for key in VERSION_COLUMN_KEYS}
    meta = body.get("monitoringMeta")
    monitoring: dict[str, list[str]] = {}
    if not isinstance(meta, dict):
        problems.append("monitoringMeta must be an object")
    else:
        problems.extend(f"monitoringMeta.{key} is required" for key in MONITORING_META_KEYS if key not in meta)
        monitoring = {key: _string_list(meta, key, problems, "monitoringMeta.")
                      for key in MONITORING_META_KEYS if key in meta}
    fields["monitoringMeta"] = {key: monitoring.get(key, []) for key in MONITORING_META_KEYS}
    fields["meta"] = _string_map(body.get("meta"), "meta", problems)
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        problems.append("description must be a string")
    fields["description"] = description
    known = set(all_columns)
    named = [(key, column) for key in VERSION_COLUMN_KEYS for column in fields[key]]
    named += [(f"monitoringMeta.{key}", column) for key, columns in monitoring.items() for column in columns]
    problems.extend(f"{key} names column '{column}', which is not in allColumns" for key, column in named
                    if column not in known)
    return fields


def _check_project(project_id: Any) -> str:
    expected = current_settings().project_id
    if not isinstance(project_id, str) or not project_id:
        raise RouteError(400, "projectId is required (set DOMINO_PROJECT_ID)")
    if project_id != expected:
        raise RouteError(404, f"project '{project_id}' not found")
    return project_id


def _paging() -> tuple[int, int, bool]:
    try:
        offset = int(request.args.get("offset", 0))
        limit = int(request.args.get("limit", 10000))
    except ValueError:
        raise RouteError(400, "offset and limit must be integers") from None
    asc_text = request.args.get("asc", "true").lower()
    if offset < 0 or limit < 0 or asc_text not in ("true", "false"):
        raise RouteError(400, "offset and limit must be >= 0 and asc must be true or false")
    return offset, limit, asc_text == "true"


def _page(records: list[dict[str, Any]], render) -> list[dict[str, Any]]:
    offset, limit, asc = _paging()
    records = sorted(records, key=lambda record: (record["creationTime"], record["_seq"]), reverse=not asc)
    return [render(record) for record in records[offset:offset + limit]]


# ---------------------------------------------------------------------------------------------- rendering


def _render_set(record: dict[str, Any]) -> dict[str, Any]:
    out = {key: record[key] for key in ("id", "projectId", "name", "creationTime", "meta")}
    if record.get("description") is not None:
        out["description"] = record["description"]
    return out


def _render_version(version: dict[str, Any]) -> dict[str, Any]:
    out = {key: value for key, value in version.items() if not key.startswith("_") and key != "description"}
    if version.get("description") is not None:
        out["description"] = version["description"]
    return out


def _find_set(data: dict[str, Any], name: str) -> dict[str, Any]:
    _check_name(name)
    record = data.get(COLLECTION, {}).get(name)
    if record is None:
        raise RouteError(404, f"TrainingSet '{name}' not found")
    return record


def _find_version(data: dict[str, Any], name: str, number: int) -> dict[str, Any]:
    version = _find_set(data, name)["versions"].get(str(number))
    if version is None:
        raise RouteError(404, f"TrainingSetVersion '{name}' number {number} not found")
    return version


def _meta_matches(meta: dict[str, str], wanted: dict[str, str]) -> bool:
    return all(meta.get(key) == value for key, value in wanted.items())


# ---------------------------------------------------------------------------------------------- routes


@blueprint.get("/<name>")
def get_training_set(name: str):
    with current_state().reading() as data:
        return jsonify(_render_set(_find_set(data, name)))


@blueprint.put("/<name>")
def update_training_set(name: str):
    body = json_object()
    problems = _missing(body, ("meta",))
    meta = _string_map(body.get("meta"), "meta", problems) if "meta" in body else {}
    if body.get("description") is not None and not isinstance(body["description"], str):
        problems.append("description must be a string")
    if problems:
        raise RouteError(400, *problems)
    with current_state().transaction() as data:
        record = _find_set(data, name)
        record["meta"] = meta
        if "description" in body:
            record["description"] = body["description"]
        return jsonify(_render_set(record))


@blueprint.delete("/<name>")
def delete_training_set(name: str):
    with current_state().transaction() as data:
        record = _find_set(data, name)
        if record["versions"]:
            raise RouteError(409, f"TrainingSet '{name}' still has {len(record['versions'])} version(s); "
                                        "delete them first")
        del data[COLLECTION][name]
    return jsonify({})


@blueprint.post("/find")
def find_training_sets():
    body = json_object()
    problems = _missing(body, ("projectId",))
    wanted_meta = _string_map(body.get("meta"), "meta", problems, required=False)
    if problems:
        raise RouteError(400, *problems)
    project_id = body["projectId"]
    with current_state().reading() as data:
        matches = [record for record in data.get(COLLECTION, {}).values()
                   if (project_id is None or record["projectId"] == project_id)
                   and _meta_matches(record["meta"], wanted_meta)]
        return jsonify(_page(matches, _render_set))


@blueprint.post("/<name>")
def create_version(name: str):
    _check_name(name)
    body = json_object()
    problems = _missing(body, CREATE_REQUIRED)
    if problems:
        raise RouteError(400, *problems)
    project_id = _check_project(body["projectId"])
    all_columns = _string_list(body, "allColumns", problems)
    if not all_columns and not problems:
        problems.append("allColumns must name at least one column")
    if len(set(all_columns)) != len(all_columns):
        problems.append("allColumns must not repeat a column")
    fields = _version_fields(body, all_columns, problems)
    if problems:
        raise RouteError(400, *problems)

    state = current_state()
    with state.transaction() as data:
        sets = state.collection(data, COLLECTION)
        now = _now()
        record = sets.get(name)
        if record is None and name in OPTIONS["training_set_names_of_other_projects"]:
            raise RouteError(int(OPTIONS["training_set_name_taken_status"]),
                             f"TrainingSet '{name}' already exists in another project; training set names are "
                             "unique across this Domino")
        if record is None:
            record = {"id": state.next_id(data, "trainingset"), "projectId": project_id, "name": name,
                      "creationTime": now, "meta": {}, "description": None, "versions": {}, "_nextNumber": 1,
                      "_seq": len(sets)}
            sets[name] = record
        number = record["_nextNumber"]
        record["_nextNumber"] = number + 1
        version_id = state.next_id(data, "trainingsetversion")
        container_path = f"{project_id}/{record['id']}/{version_id}"
        version = {"id": version_id, "trainingSetId": record["id"], "trainingSetName": name, "number": number,
                   "creationTime": now, "path": str(state.training_set_root / container_path),
                   "containerPath": container_path, "keyColumns": fields["keyColumns"],
                   "targetColumns": fields["targetColumns"], "excludeColumns": fields["excludeColumns"],
                   "allColumns": all_columns, "monitoringMeta": fields["monitoringMeta"], "meta": fields["meta"],
                   "pending": True, "description": fields["description"], "_seq": number}
        record["versions"][str(number)] = version
        return jsonify(_render_version(version))


@blueprint.get("/<name>/<int:number>")
def get_version(name: str, number: int):
    with current_state().reading() as data:
        return jsonify(_render_version(_find_version(data, name, number)))


@blueprint.put("/<name>/<int:number>")
def update_version(name: str, number: int):
    body = json_object()
    problems = _missing(body, UPDATE_VERSION_REQUIRED)
    if problems:
        raise RouteError(400, *problems)
    if not isinstance(body["pending"], bool):
        problems.append("pending must be true or false")
    with current_state().transaction() as data:
        version = _find_version(data, name, number)
        fields = _version_fields(body, version["allColumns"], problems)
        if problems:
            raise RouteError(400, *problems)
        version.update({key: fields[key] for key in (*VERSION_COLUMN_KEYS, "monitoringMeta", "meta")})
        version["pending"] = body["pending"]
        if "description" in body:
            version["description"] = fields["description"]
        return jsonify(_render_version(version))


@blueprint.delete("/<name>/<int:number>")
def delete_version(name: str, number: int):
    with current_state().transaction() as data:
        _find_version(data, name, number)
        del data[COLLECTION][name]["versions"][str(number)]
    return jsonify({})


@blueprint.post("/version/find")
def find_versions():
    body = json_object()
    problems = _missing(body, ("projectId", "trainingSetMeta", "meta"))
    set_meta = _string_map(body.get("trainingSetMeta"), "trainingSetMeta", problems, required=False)
    meta = _string_map(body.get("meta"), "meta", problems, required=False)
    set_name = body.get("trainingSetName")
    if set_name is not None and not isinstance(set_name, str):
        problems.append("trainingSetName must be a string")
    if problems:
        raise RouteError(400, *problems)
    project_id = body["projectId"]
    with current_state().reading() as data:
        matches = [version for record in data.get(COLLECTION, {}).values()
                   if (project_id is None or record["projectId"] == project_id)
                   and (set_name is None or record["name"] == set_name)
                   and _meta_matches(record["meta"], set_meta)
                   for version in record["versions"].values() if _meta_matches(version["meta"], meta)]
        return jsonify(_page(matches, _render_version))
