"""Whether a Domino service accepts the identity in use, asked with a read-only call (steps 3 and 6).

Model Monitor is asked by ``setup_checks.check_domino`` / step 6's ``api key`` check (``GET /model?model_id=``);
training sets and data sources are proved by the checks that read them. Custom metrics: python-domino's custom
metrics client offers one read, ``read_metrics(model_monitoring_id, metric, start, end)`` =
``GET {host}/api/metricValues/v1/{modelMonitoringId}/{metric}?startingReferenceTimestampInclusive=&
endingReferenceTimestampInclusive=`` (``domino/_custom_metrics.py``, ``domino/routes.py`` ``read_metrics``;
python-domino 2.2.0 in .venv). Reading a metric nobody logs over one past minute changes nothing; an answer proves
the identity.
The generated client's ``read_metrics`` fails on Python >= 3.10 whatever the server answers (docs/internals.md), so
the hand-rolled ``_CustomMetricsClient`` that python-domino keeps beside it (``Domino._CUSTOM_METRICS_USE_GEN =
False`` selects it) sends the request, through the same ``Domino`` object, host and credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from dmm.errors import DmmError
from dmm.redact import redact

ACCEPTED, REFUSED, FORBIDDEN, NOT_CHECKED = "accepted", "refused", "forbidden", "not checked"
PROBE_METRIC = "dmm_identity_probe"


@dataclass(frozen=True)
class Access:
    service: str
    state: str  # ACCEPTED, REFUSED, FORBIDDEN or NOT_CHECKED
    detail: str  # completes "<service> <detail>"
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.state in (ACCEPTED, NOT_CHECKED)

    def sentence(self) -> str:
        return f"{self.service} {self.detail}"


def custom_metrics_access(client_factory: Callable[[], Any], model_id: str, describe: str,
                          now: datetime | None = None) -> Access:
    """Ask python-domino's custom metrics service for a metric of ``model_id`` (read-only)."""
    logger = logging.getLogger("domino.http_request_manager")  # it logs error bodies at ERROR: keep them quiet
    disabled, logger.disabled = logger.disabled, True
    try:
        return _custom_metrics_access(client_factory, model_id, describe, now)
    finally:
        logger.disabled = disabled


def _custom_metrics_access(client_factory: Callable[[], Any], model_id: str, describe: str,
                           now: datetime | None) -> Access:
    service = "custom metrics"
    try:
        client = client_factory()  # python-domino's constructor asks GET /version with the credentials
    except DmmError as error:
        status = getattr(error, "status", None)
        if status in (401, 403):
            return _refusal(status, model_id, describe)
        return Access(service, NOT_CHECKED, f"not checked ({error.message})")
    except Exception as error:
        return _failure(error, model_id, describe)
    end = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    start = end - timedelta(minutes=1)
    try:  # a private class of python-domino 2.x: another version may not have it, and then nothing is checked
        from domino._custom_metrics import _CustomMetricsClient

        reader = _CustomMetricsClient(client._parent, client._routes)
    except Exception:
        return Access(service, NOT_CHECKED, "not checked (its client offers no read-only call here)")
    try:
        reader.read_metrics(model_id, PROBE_METRIC, start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                            end.strftime("%Y-%m-%dT%H:%M:%SZ"))
    except Exception as error:
        return _failure(error, model_id, describe)
    return Access(service, ACCEPTED, f"accepted {describe}")


def _failure(error: Exception, model_id: str, describe: str) -> Access:
    import requests

    service = "custom metrics"
    if isinstance(error, requests.HTTPError):
        status = getattr(error.response, "status_code", None)
        if status in (401, 403):
            return _refusal(status, model_id, describe)
        return Access(service, NOT_CHECKED, f"not checked (it answered HTTP {status})")
    name = type(error).__name__  # python-domino's own errors (ReloginRequiredException on 409), connection errors
    if name == "ReloginRequiredException":
        return Access(service, REFUSED, f"refused {describe}: its temporary credentials expired (HTTP 409)",
                      "Restart the workspace or job to renew them, or choose another method with --auth")
    return Access(service, NOT_CHECKED, f"not checked ({name}: {redact(str(error))[:200]})")


def _refusal(status: int, model_id: str, describe: str) -> Access:
    if status == 403:
        return Access("custom metrics", FORBIDDEN, f"accepted {describe} but this identity may not read model "
                                                   f"{model_id}'s metrics (HTTP 403)",
                      "Ask the model's owner in Model Monitor to add this identity, before using --push-metrics")
    return Access("custom metrics", REFUSED, f"refused {describe} (HTTP {status})",
                  "Custom metrics (--push-metrics) need an identity python-domino may use: choose another method "
                  "with --auth")
