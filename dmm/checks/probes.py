"""The probes step 3's wizard and step 6's chain share: the endpoint answers a sample row with an event_id, and
the ground-truth data source exists in Domino and in Model Monitor under the same name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from dmm.checks.names import CheckName
from dmm.checks.result import CheckResult, failed, from_error, passed
from dmm.errors import AuthError, DmmError, NotFoundError
from dmm.model_api import KIND_NAMES, NotAModelApiError

if TYPE_CHECKING:
    from dmm.model_api import Prediction
    from dmm.schema import MonitoringSchema


class Predicts(Protocol):
    def predict(self, data: dict[str, Any]) -> Prediction: ...


class FindsDataSources(Protocol):
    def exists(self, name: str) -> bool: ...


class FindsMonitorDataSources(Protocol):
    def datasource_named(self, name: str) -> dict[str, Any] | None: ...


PROBE_EVENT_PREFIX = "dmm-probe-"


def probe_event_id() -> str:
    """The probes' own event id: their captured predictions are recognisable (they never get a label), and a retried
    probe is the same prediction."""
    import uuid

    return f"{PROBE_EVENT_PREFIX}{uuid.uuid4()}"


def probe_endpoint(client: Predicts, schema: MonitoringSchema, *, endpoint_url: str, token_env: str) -> CheckResult:
    """Send the schema's sample row; the endpoint must answer with an ``event_id`` (labels are matched by it)."""
    name = CheckName.ENDPOINT
    try:
        prediction = client.predict({**schema.sample_row(), "event_id": probe_event_id()})
    except NotAModelApiError as error:  # a sign-in page or other HTML with 200: not "add the capture code"
        return failed(name, error.message, error.advice)
    except AuthError as error:
        return failed(name, f"The endpoint refused the token in {token_env} ({error.message})",
                      f"Export {token_env} with the endpoint's access token (Endpoints > your endpoint > Settings > "
                      "Access)")
    except NotFoundError as error:
        return failed(name, f"No endpoint answers at {endpoint_url} ({error.message})",
                      "Copy the URL from Endpoints > your endpoint > Overview in Domino")
    except DmmError as error:
        return from_error(name, error)
    event_id = getattr(prediction, "event_id", None)
    if not event_id:
        return failed(name, "The endpoint answered but returned no event_id, so labels could not be matched to "
                            "predictions",
                      "Return the event_id from predict() as prediction_capture_example.py does: add its capture "
                      "lines to the endpoint's predict() and redeploy it")
    latency = getattr(prediction, "latency_s", None)
    took = f" in {latency:.2f} s" if isinstance(latency, (int, float)) else ""
    kind = getattr(prediction, "kind", None)
    what = f"The endpoint ({KIND_NAMES[kind]})" if kind in KIND_NAMES else "The endpoint"
    return passed(name, f"{what} answered a sample row{took} with event_id {event_id}",
                  event_id=str(event_id), result=getattr(prediction, "result", None), kind=kind)


def check_datasource(name: str, domino: FindsDataSources, monitor: FindsMonitorDataSources | None,
                     datasource_type: str | None = None, monitor_name: str = "") -> CheckResult:
    """The ground-truth data source exists as a Domino data source and, under ``monitor_name`` (default: the same
    name), in Model Monitor's data-source list; ``monitor=None`` checks Domino's side only."""
    check = CheckName.DATA_SOURCE
    monitor_name = monitor_name or name
    try:
        in_domino = domino.exists(name)
    except DmmError as error:
        return from_error(check, error)
    if not in_domino:
        return failed(check, f"Domino has no data source named {name!r} available to this project",
                      f"Create an object-store data source named {name} in Domino (Data > Data Sources) and add it "
                      "to this project, or name an existing one (data_sources.ground_truth)")
    if monitor is None:
        return passed(check, f"Data source {name!r} is in Domino")
    return check_monitor_datasource(monitor_name, monitor, datasource_type, domino_name=name)


def check_monitor_datasource(monitor_name: str, monitor: FindsMonitorDataSources, datasource_type: str | None = None,
                             *, domino_name: str = "") -> CheckResult:
    """``monitor_name`` is in Model Monitor's data-source list (``GET /datasources``)."""
    check = CheckName.DATA_SOURCE
    domino_name = domino_name or monitor_name
    try:
        record = monitor.datasource_named(monitor_name)
    except DmmError as error:
        return from_error(check, error)
    same = monitor_name == domino_name
    if record is None:
        of_type = f" (type {datasource_type})" if datasource_type else ""
        where = "it is in Domino but not in Model Monitor" if same else f"Domino's data source is {domino_name!r}"
        return failed(check, f"Model Monitor has no data source named {monitor_name!r}: {where}",
                      f"Add it in Model Monitor > Monitoring Data Sources as {monitor_name}{of_type}, or name "
                      "the Model Monitor data source that points at the same bucket in data_sources.model_monitor_name "
                      "(step 3: --monitor-datasource); DMM reads ground truth only from there")
    if same:
        return passed(check, f"Data source {monitor_name!r} is in Domino and in Model Monitor", record=record)
    return passed(check, f"Data source {domino_name!r} is in Domino and {monitor_name!r} in Model Monitor",
                  record=record)


# Probe rows in the captured data. Domino captures a probe like any prediction (Model Monitor has no notion of it),
# so step 6 leaves rows whose event id starts with PROBE_EVENT_PREFIX out of every preview and counts them apart.
PROBE_SKIPPED = "skipped by --no-probe"


def is_probe_id(value: object) -> bool:
    return isinstance(value, str) and value.strip().startswith(PROBE_EVENT_PREFIX)


def count_probe_ids(ids: Any) -> int:
    """Probe ids among normalised ids (a sequence or numpy object array; None where missing)."""
    return sum(1 for value in ids if is_probe_id(value))


def probe_row_mask(table: Any, id_column: str = "event_id") -> Any:
    """A boolean Arrow array marking the probe rows of an Arrow table, or None when it has none (or no id column)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if id_column not in table.column_names:
        return None
    ids = table.column(id_column)
    if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
        return None  # our probe ids are strings; a numeric id column holds none
    mask = pc.fill_null(pc.starts_with(pc.utf8_ltrim_whitespace(ids), PROBE_EVENT_PREFIX), False)
    return mask if pc.any(mask).as_py() else None
