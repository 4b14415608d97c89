"""Which base URL each Domino service is reached at, following what each of Domino's clients reads.

- Training sets: ``domino_data.training_sets.client._get_client`` uses ``DOMINO_API_HOST``, else ``DOMINO_USER_HOST``
  (``{host}/trainingset``).
- Data sources: ``domino_data.data_sources.DataSourceClient`` uses ``DOMINO_API_PROXY``, else ``DOMINO_API_HOST``,
  else ``DOMINO_USER_HOST`` (``{host}/v4``), plus ``DOMINO_DATASOURCE_PROXY_HOST`` for object access.
- Custom metrics: python-domino's ``Domino(host=...)`` falls back to ``DOMINO_API_HOST`` (``domino/domino.py``,
  ``DOMINO_HOST_KEY_NAME``); with the API proxy it rewrites every URL's host to the proxy
  (``domino/authentication.py`` ``ProxyAuth``). We pass ``domino.base_url`` only when ``DOMINO_API_HOST`` is unset.
- Model Monitor: the external URL (``model_monitor.base_url`` or ``domino.base_url`` + ``/model-monitor``). Inside
  runs ``DOMINO_API_HOST`` can be internal (``nucleus-frontend…``, or ``127.0.0.1:<port>`` behind the newer gateway)
  and Model Monitor is not served there (domino-api.md §0: Domino's tutorial client swaps the internal host for the
  external one), so an internal host is proposed for Model Monitor only after it answered there.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

TRAINING_SETS, DATA_SOURCES, MODEL_MONITOR, CUSTOM_METRICS = ("training sets", "data sources", "Model Monitor",
                                                              "custom metrics")
SERVICES = (TRAINING_SETS, DATA_SOURCES, MODEL_MONITOR, CUSTOM_METRICS)


def training_sets(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return (env.get("DOMINO_API_HOST") or env.get("DOMINO_USER_HOST") or "").rstrip("/")


def data_sources(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return (env.get("DOMINO_API_PROXY") or env.get("DOMINO_API_HOST") or env.get("DOMINO_USER_HOST") or "").rstrip("/")


def custom_metrics(domino_base_url: str = "", env: Mapping[str, str] | None = None) -> str:
    """The host python-domino will use; with ``DOMINO_API_HOST`` set, python-domino's own choice."""
    env = os.environ if env is None else env
    return (env.get("DOMINO_API_HOST") or domino_base_url or "").rstrip("/")


def is_internal(url: str) -> bool:
    """A host a browser outside the cluster cannot open: loopback, private addresses, single-label or cluster
    names (``nucleus-frontend``, ``*.svc``, ``*.cluster.local``)."""
    host = (urlsplit(url if "://" in url else f"http://{url}").hostname or "").lower()
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return (host == "localhost" or "." not in host or host.startswith("nucleus-frontend")
                or host.endswith((".svc", ".cluster.local", ".internal")))
    return address.is_loopback or address.is_private or address.is_link_local


def per_service(domino_base_url: str, model_monitor_api_url: str,
                env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Service name -> the base URL it is reached at, given the config's two URLs (``MonitoringConfig``'s
    ``domino_base_url`` and ``model_monitor_api_url``, or the wizard's answers)."""
    env = os.environ if env is None else env
    return {TRAINING_SETS: training_sets(env) + "/trainingset" if training_sets(env) else "",
            DATA_SOURCES: data_sources(env) + "/v4" if data_sources(env) else "",
            MODEL_MONITOR: model_monitor_api_url,
            CUSTOM_METRICS: custom_metrics(domino_base_url, env)}
