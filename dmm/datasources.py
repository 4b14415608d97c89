"""Domino data sources (object stores) through Domino's own client, with errors a user can act on.

``domino_data.data_sources.DataSourceClient`` reads ``DOMINO_API_HOST``, ``DOMINO_USER_API_KEY``,
``DOMINO_DATASOURCE_PROXY_HOST`` and ``DOMINO_DATASOURCE_PROXY_FLIGHT_HOST`` (all set in a workspace or job).
It is imported lazily: it pulls in pyarrow.flight and httpx.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from dmm.errors import ApiError, AuthError, ConfigError, DmmError, NotFoundError, UsageError
from dmm.redact import redact

LIST_PAGE_SIZE = 10000
NOT_FOUND_ADVICE = ("Check data_sources.ground_truth in monitoring_config.json and add the data source to this "
                    "project (Domino: Data > Data Sources > Add to project)")


def _describe(exc: BaseException) -> str:
    return redact(str(exc).strip() or type(exc).__name__)[:300]


class DataSources:
    """Object-store data sources by name; the client and each data source are fetched once."""

    def __init__(self, client: Any = None, factory: Any = None) -> None:
        """``factory`` builds Domino's client (``dmm.domino_clients.data_source_client`` with our credentials)."""
        self._client = client
        self._factory = factory
        self._by_name: dict[str, Any] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            if self._factory is None:  # the auth chain from the environment (dmm.auth); ConfigError when empty
                from dmm import auth, domino_clients

                credentials = auth.from_environment()
                self._factory = lambda: domino_clients.data_source_client(credentials)
            check_client_environment(needs_credentials=False)
            try:
                self._client = self._factory()
            except Exception as exc:
                raise ApiError(f"Could not start Domino's data source client ({_describe(exc)})",
                               "Run this in a Domino workspace or job, or set DOMINO_API_HOST, DOMINO_USER_API_KEY, "
                               "DOMINO_DATASOURCE_PROXY_HOST and DOMINO_DATASOURCE_PROXY_FLIGHT_HOST",
                               code="datasource-client") from None
        return self._client

    def use(self, factory: Any) -> None:
        """Build Domino's client with ``factory`` (e.g. with the credentials step 3 chose), unless already built."""
        if self._client is None:
            self._factory = factory

    def datasource(self, name: str) -> Any:
        if name not in self._by_name:
            try:
                found = self.client.get_datasource(name)
            except DmmError:
                raise
            except Exception as exc:
                if _is_connection_error(exc):
                    raise ApiError(f"Could not reach Domino to look up the data source {name!r} ({_describe(exc)})",
                                   "Check DOMINO_API_HOST and that Domino is up", code="unreachable") from None
                if _is_refusal(exc):
                    raise AuthError(f"Domino refused the API key while looking up the data source {name!r} "
                                    f"({_describe(exc)})",
                                    "Check DOMINO_USER_API_KEY (Domino: Account Settings > API Key)") from None
                raise NotFoundError(f"The data source {name!r} was not found or is not available to this project "
                                    f"({_describe(exc)})", NOT_FOUND_ADVICE, code="datasource-missing") from None
            if not hasattr(found, "put") or not hasattr(found, "list_objects"):
                raise UsageError(f"The data source {name!r} is not an object store (S3, GCS, Azure Blob, ...)",
                                 "Ground truth files need an object-store data source; name one in "
                                 "data_sources.ground_truth", code="datasource-not-object-store")
            self._by_name[name] = found
        return self._by_name[name]

    def exists(self, name: str) -> bool:
        try:
            self.datasource(name)
        except NotFoundError:
            return False
        return True

    def upload_bytes(self, name: str, key: str, data: bytes) -> None:
        source = self.datasource(name)
        self._call(lambda: source.put(key, data), f"Uploading {key} to the data source {name!r}")

    def download_bytes(self, name: str, key: str) -> bytes:
        source = self.datasource(name)
        return self._call(lambda: source.get(key), f"Downloading {key} from the data source {name!r}")

    def list_keys(self, name: str, prefix: str = "") -> list[str]:
        source = self.datasource(name)
        objects = self._call(lambda: source.list_objects(prefix=prefix, page_size=LIST_PAGE_SIZE),
                             f"Listing {prefix or '/'} in the data source {name!r}")
        return sorted(getattr(obj, "key", obj) for obj in objects or [])

    @staticmethod
    def _call(action: Any, what: str) -> Any:
        try:
            return action()
        except ApiError:
            raise
        except Exception as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status == 404:
                raise NotFoundError(f"{what} failed: not found", "Check the key and the data source name",
                                    status=status, code="object-missing") from None
            if status in (401, 403):
                raise AuthError(f"{what} failed: Domino refused the API key ({_describe(exc)})",
                                "Check DOMINO_USER_API_KEY (Domino: Account Settings > API Key)",
                                status=status) from None
            raise ApiError(f"{what} failed ({_describe(exc)})",
                           "Check that the data source's credentials allow reading and writing, then try again",
                           status=status, code="datasource-failed") from None


def check_client_environment(env: Mapping[str, str] | None = None, needs_credentials: bool = True) -> None:
    """Raise ``ConfigError`` naming what Domino's data source client would miss, before it is started."""
    env = os.environ if env is None else env
    if needs_credentials and not (env.get("DOMINO_USER_API_KEY") or env.get("DOMINO_TOKEN_FILE")
                                  or env.get("DOMINO_API_PROXY")):
        raise ConfigError("DOMINO_USER_API_KEY is not set, so Domino's data sources cannot be reached",
                          "Run this in a Domino workspace or job, or export DOMINO_USER_API_KEY with the key from "
                          "Account Settings > API Key", code="api-key-missing")
    missing = [name for name in ("DOMINO_DATASOURCE_PROXY_HOST", "DOMINO_DATASOURCE_PROXY_FLIGHT_HOST")
               if not env.get(name)]
    if not (env.get("DOMINO_API_HOST") or env.get("DOMINO_USER_HOST") or env.get("DOMINO_API_PROXY")):
        missing.insert(0, "DOMINO_API_HOST")
    if missing:
        raise ConfigError(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set, so Domino's "
                          "data sources cannot be reached",
                          "Run this in a Domino workspace or job (they are set there), or export them",
                          code="domino-env-missing")


def _is_refusal(exc: BaseException) -> bool:
    """Domino's client raises a bare ``Exception`` carrying only the server's message; a refused key says so."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return status in (401, 403) or str(exc).strip().lower() in ("unauthorized", "forbidden")


def _is_connection_error(exc: BaseException) -> bool:
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx comes with domino_data
        return False
    return isinstance(exc, (httpx.TransportError, ConnectionError))


_default: DataSources | None = None


def default() -> DataSources:
    global _default
    if _default is None:
        _default = DataSources()
    return _default


def upload_bytes(name: str, key: str, data: bytes) -> None:
    default().upload_bytes(name, key, data)


def download_bytes(name: str, key: str) -> bytes:
    return default().download_bytes(name, key)


def list_keys(name: str, prefix: str = "") -> list[str]:
    return default().list_keys(name, prefix)


def exists(name: str) -> bool:
    return default().exists(name)
