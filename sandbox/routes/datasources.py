"""Domino data sources (object stores) as ``domino_data.data_sources.DataSourceClient`` uses them.

Three parts, each what the client talks to in a workspace:
- ``GET /v4/datasource/name/<name>`` (Domino REST, blueprint "datasource"): the ``DatasourceDto``;
- the data-source proxy (``DOMINO_DATASOURCE_PROXY_HOST``, here the same server, blueprint "datasource"):
  ``POST /objectstore/list``, ``POST /objectstore/key`` (a signed URL as a JSON string), ``HEAD /objectstore/metric``;
- the object store behind the signed URLs (blueprint "objectstore", no Domino auth: the HMAC signature is the
  credential): ``PUT``/``GET /objects/<datasource id>/<key>?method=&expires=&signature=``, files under
  ``<objects_root>/<datasource id>/<key>``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, jsonify, request, send_file

from sandbox.errors import RouteError
from sandbox.routes.common import current_settings, current_state, error_response, json_object
from sandbox.settings import SandboxSettings
from sandbox.state import SandboxState

datasource_bp = Blueprint("datasource", __name__)
objectstore_bp = Blueprint("objectstore", __name__)
blueprints = [datasource_bp, objectstore_bp]
blueprint = datasource_bp  # the module-level name every route module exposes; app.py registers ``blueprints``

COLLECTION = "datasources"
SIGNED_URL_SECONDS = 15 * 60
NAME_RULE = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]{0,127}$")
# User-facing type (as in monitoring_config.json "ground_truth_type") -> Domino's dataSourceType (object stores only)
OBJECT_STORE_TYPES = {
    "s3": "S3Config",
    "generic_s3": "GenericS3Config",
    "gcs": "GCSConfig",
    "adls": "ADLSConfig",
    "azure_data_lake": "ADLSConfig",
    "azure_blob": "AzureBlobStorageConfig",
}


# ---------------------------------------------------------------------------------------------- library


def create_datasource(state: SandboxState, name: str, kind: str, bucket: str | None = None,
                      subfolder: str = "") -> tuple[dict[str, Any], bool]:
    """Create the object-store data source ``name`` (or return the existing one of the same type).

    ``bucket`` (default: the name) and ``subfolder`` are its configuration, as Domino's ``S3Config`` /
    ``GenericS3Config`` carry them (``domino_data/configuration_gen.py``): keys put through it live at
    ``<subfolder>/<key>`` of the bucket, which is what Model Monitor's data source (naming the bucket) reads.
    Returns ``(record, created)``; raises ``RouteError`` for a bad name, an unknown type, or a name taken
    by a data source of another type.
    """
    if not isinstance(name, str) or not NAME_RULE.match(name):
        raise RouteError(400, f"bad data source name {name!r}: use letters, digits, '-', '_' and '.'")
    if kind not in OBJECT_STORE_TYPES:
        raise RouteError(400, f"unknown data source type {kind!r}: use one of {', '.join(OBJECT_STORE_TYPES)}")
    bucket = name if bucket is None else bucket
    if not isinstance(bucket, str) or not NAME_RULE.match(bucket):
        raise RouteError(400, f"bad bucket name {bucket!r}")
    if not isinstance(subfolder, str) or any(part in (".", "..") for part in subfolder.strip("/").split("/")):
        raise RouteError(400, f"bad subfolder {subfolder!r}")
    with state.transaction() as data:
        sources = state.collection(data, COLLECTION)
        existing = sources.get(name)
        if existing is not None:
            if existing["type"] != kind:
                raise RouteError(409, f"data source {name!r} already exists with type {existing['type']!r}")
            return existing, False
        record = {"id": state.next_id(data, "datasource"), "name": name, "type": kind,
                  "dataSourceType": OBJECT_STORE_TYPES[kind], "bucket": bucket, "subfolder": subfolder.strip("/"),
                  "created": int(datetime.now(timezone.utc).timestamp() * 1000)}
        sources[name] = record
    (state.objects_root / record["id"]).mkdir(parents=True, exist_ok=True)
    return record, True


def datasource_named(state: SandboxState, name: str) -> dict[str, Any] | None:
    with state.reading() as data:
        return data.get(COLLECTION, {}).get(name)


def object_path(state: SandboxState, datasource_id: str, key: str) -> Path:
    """Where the object ``key`` of a data source lives; refuses keys that would leave the data source's folder."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise RouteError(400, f"invalid object key {key!r}")
    return state.objects_root / datasource_id / Path(*parts)


def list_keys(state: SandboxState, datasource_id: str, prefix: str = "", limit: int | None = None) -> list[str]:
    root = state.objects_root / datasource_id
    keys = sorted(path.relative_to(root).as_posix() for path in root.rglob("*")
                  if path.is_file() and not path.name.startswith(".upload-"))
    keys = [key for key in keys if key.startswith(prefix)]
    return keys if limit is None else keys[:limit]


def _signing_key(state: SandboxState) -> bytes:
    """Kept in the state so signed URLs stay valid across a restart, as S3's do."""
    with state.reading() as data:
        secret = data.get("_objectstore_secret")
    if secret is None:
        with state.transaction() as data:
            secret = data.setdefault("_objectstore_secret", secrets.token_hex(32))
    return bytes.fromhex(secret)


def _signature(state: SandboxState, method: str, datasource_id: str, key: str, expires: int) -> str:
    message = f"{method}\n{datasource_id}\n{key}\n{expires}".encode()
    return hmac.new(_signing_key(state), message, hashlib.sha256).hexdigest()


def _by_id(data: dict[str, Any], datasource_id: Any) -> dict[str, Any] | None:
    return next((record for record in data.get(COLLECTION, {}).values() if record["id"] == datasource_id), None)


def _dto(record: dict[str, Any], settings: SandboxSettings) -> dict[str, Any]:
    """The ``DatasourceDto`` that ``datasource_api_client`` parses (every key it pops is present)."""
    return {
        "addedBy": {settings.project_owner: settings.project_owner},
        "authType": "AWSIAMBasic",
        "config": {"bucket": record.get("bucket", record["name"]), "region": "us-east-1",
                   **({"subfolder": record["subfolder"]} if record.get("subfolder") else {})},
        "dataSourceType": record["dataSourceType"],
        "id": record["id"],
        "lastUpdated": record["created"],
        "lastUpdatedBy": settings.project_owner,
        "name": record["name"],
        "ownerId": settings.project_owner,
        "ownerInfo": {"ownerName": settings.project_owner, "ownerEmail": f"{settings.project_owner}@sandbox.local",
                      "isOwnerAdmin": False},
        "projectIds": [settings.project_id],
        "status": "Active",
        "description": f"Sandbox object store ({record['type']})",
    }


# ---------------------------------------------------------------------------------------------- Domino REST


@datasource_bp.get("/v4/datasource/name/<name>")
def get_datasource_by_name(name: str):
    record = datasource_named(current_state(), name)
    if record is None:
        return error_response(404, f"Data source '{name}' was not found or you do not have access to it; "
                                   "create it first (sandbox: POST /sandbox/create-datasource)")
    return jsonify(_dto(record, current_settings()))


# ---------------------------------------------------------------------------------------------- proxy


def _proxy_error(status: int, message: str, sub_type: str = ""):
    """The proxy's ``ProxyErrorResponse``; the client raises ``Exception(f"{errorType}: {rawError}")``."""
    return jsonify({"errorType": "DatasourceProxyError", "subType": sub_type or "InvalidRequest",
                    "rawError": message}), status


def _proxy_body(required: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    body = json_object()
    missing = [key for key in required if key not in body]
    if missing:
        raise RouteError(400, f"missing required field(s): {', '.join(missing)}")
    with current_state().reading() as data:
        record = _by_id(data, body["datasourceId"])
    if record is None:
        raise RouteError(400, f"data source id {body['datasourceId']!r} not found")
    return body, record


@datasource_bp.errorhandler(RouteError)
def _refuse(error: RouteError):
    if request.path.startswith("/objectstore/"):
        return _proxy_error(error.status, error.message)
    return error_response(error.status, *error.messages)


@datasource_bp.post("/objectstore/list")
def proxy_list():
    body, record = _proxy_body(("datasourceId", "prefix"))
    prefix, page_size = body["prefix"], body.get("page_size", 1000)
    if not isinstance(prefix, str) or not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
        raise RouteError(400, "prefix must be a string and page_size a positive integer")
    from sandbox.monitor_options import OPTIONS  # the cap of one page (S3: 1,000; see the option's note)

    return jsonify(list_keys(current_state(), record["id"], prefix, min(page_size, int(OPTIONS["list_page_cap"]))))


@datasource_bp.post("/objectstore/key")
def proxy_signed_url():
    body, record = _proxy_body(("datasourceId", "objectKey", "isReadWrite"))
    key, read_write = body["objectKey"], body["isReadWrite"]
    if not isinstance(key, str) or not isinstance(read_write, bool):
        raise RouteError(400, "objectKey must be a string and isReadWrite a boolean")
    state = current_state()
    object_path(state, record["id"], key)  # validates the key
    method = "PUT" if read_write else "GET"
    expires = int(time.time()) + SIGNED_URL_SECONDS
    query = urlencode({"method": method, "expires": expires,
                       "signature": _signature(state, method, record["id"], key, expires)})
    return jsonify(f"{request.host_url}objects/{record['id']}/{quote(key)}?{query}")


@datasource_bp.route("/objectstore/metric", methods=["HEAD"])
def proxy_metric():
    return Response(status=200)


# ---------------------------------------------------------------------------------------------- object store


def _verify(datasource_id: str, key: str) -> Path:
    state = current_state()
    method = "GET" if request.method == "HEAD" else request.method
    try:
        expires = int(request.args.get("expires", ""))
    except ValueError:
        raise RouteError(403, "missing or malformed signature") from None
    expected = _signature(state, method, datasource_id, key, expires)
    if request.args.get("method") != method or not hmac.compare_digest(request.args.get("signature", ""), expected):
        raise RouteError(403, "signature does not match (a read URL cannot write, and vice versa)")
    if expires < time.time():
        raise RouteError(403, "signed URL has expired; request a new one")
    return object_path(state, datasource_id, key)


@objectstore_bp.errorhandler(RouteError)
def _refuse_object(error: RouteError):
    code = {403: "AccessDenied", 404: "NoSuchKey"}.get(error.status, "InvalidRequest")
    return jsonify({"code": code, "message": error.message, "errors": [error.message]}), error.status


@objectstore_bp.route("/objects/<datasource_id>/<path:key>", methods=["GET", "HEAD"])
def get_object(datasource_id: str, key: str):
    path = _verify(datasource_id, key)
    if not path.is_file():
        raise RouteError(404, f"object {key!r} does not exist")
    return send_file(path, mimetype="application/octet-stream", conditional=True)  # Range: .download()


@objectstore_bp.put("/objects/<datasource_id>/<path:key>")
def put_object(datasource_id: str, key: str):
    path = _verify(datasource_id, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=".upload-", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            while chunk := request.stream.read(1 << 20):
                out.write(chunk)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return Response(status=200)
