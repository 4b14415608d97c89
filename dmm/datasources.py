"""Domino data sources (object stores) through Domino's own client, with errors a user can act on.

``domino_data.data_sources.DataSourceClient`` reads ``DOMINO_API_HOST``, ``DOMINO_USER_API_KEY``,
``DOMINO_DATASOURCE_PROXY_HOST`` and ``DOMINO_DATASOURCE_PROXY_FLIGHT_HOST`` (all set in a workspace or job).
It is imported lazily: it pulls in pyarrow.flight and httpx.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping
from typing import Any

from dmm.errors import ApiError, AuthError, ConfigError, DmmError, NotFoundError, UsageError
from dmm.redact import redact

# Domino's client lists one page: ``list_objects(prefix, page_size)`` posts ``/objectstore/list`` and returns the keys,
# with no continuation token (domino_data/data_sources.py ``list_keys``). S3 answers at most 1,000 keys a page, the
# first ones in ascending key order (AWS ListObjectsV2: "Returns some or all (up to 1,000) of the objects", "sorted in
# an ascending order of the respective key names"). So ``list_keys`` asks for 1,000 and, when a page comes back
# full, lists what may follow its last key by one more character of prefix (every key below the last one of a full
# page is in it).
LIST_PAGE_SIZE = 1000
KEY_CHARACTERS = "".join(sorted(set(string.printable) - set(string.whitespace) | {" "}))
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
                what = f"Looking up the data source {name!r}"
                if _status_of(exc) is None and not _client_bug(exc) and _says_missing(exc):
                    raise NotFoundError(f"The data source {name!r} was not found or is not available to this "
                                        f"project ({_describe(exc)})", NOT_FOUND_ADVICE,
                                        code="datasource-missing") from None
                raise service_error(exc, what) from None
            if not hasattr(found, "put") or not hasattr(found, "list_objects"):
                raise UsageError(f"The data source {name!r} is not an object store (S3, GCS, Azure Blob, ...)",
                                 "Ground truth files need an object-store data source; name one in "
                                 "data_sources.ground_truth", code="datasource-not-object-store")
            self._by_name[name] = found
        return self._by_name[name]

    def subfolder(self, name: str) -> str:
        return subfolder_of(self.datasource(name))

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
        """Every key under ``prefix``, however many pages it takes (see ``LIST_PAGE_SIZE``). Keys with characters
        outside printable ASCII are found only when their page is not full."""
        source = self.datasource(name)
        found: set[str] = set()
        pending = [prefix]
        while pending:
            current = pending.pop()
            page = self._list_page(source, name, current)
            found.update(page)
            if len(page) < LIST_PAGE_SIZE:
                continue
            last = max(page)
            after = last[len(current)] if len(last) > len(current) else ""
            pending.extend(current + character for character in KEY_CHARACTERS if character >= after)
        return sorted(found)

    def _list_page(self, source: Any, name: str, prefix: str) -> list[str]:
        objects = self._call(lambda: source.list_objects(prefix=prefix, page_size=LIST_PAGE_SIZE),
                             f"Listing {prefix or '/'} in the data source {name!r}")
        return [getattr(obj, "key", obj) for obj in objects or []]

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
            if status is None and not _client_bug(exc) and _says_missing(exc) and what.startswith("Downloading"):
                raise NotFoundError(f"{what} failed: not found", "Check the key and the data source name",
                                    code="object-missing") from None
            raise service_error(exc, what) from None


def subfolder_of(source: Any) -> str:
    """The subfolder an object-store data source's configuration names, without slashes ("" for none).

    ``S3Config`` and ``GenericS3Config`` carry ``subfolder`` beside ``bucket`` (``domino_data/configuration_gen.py``,
    ``ConfigElem.SUBFOLDER = "subfolder"``); the data SDK's ``Datasource.config`` is the DTO's config as a dict. Keys
    put through such a data source live under that subfolder of the bucket."""
    config = getattr(source, "config", None)
    value = config.get("subfolder") if isinstance(config, Mapping) else None
    return str(value or "").strip("/")


def bucket_key(subfolder: str, key: str) -> str:
    """The bucket-relative key of ``key`` put through a data source with ``subfolder``: what Model Monitor reads
    (its data source names the bucket, ``datasetConfig.path`` is relative to the bucket's root, domino-api.md §2.3)."""
    return f"{subfolder.strip('/')}/{key.lstrip('/')}" if subfolder.strip("/") else key


# Domino's data source client drops the HTTP status of most failures: ``get_datasource`` raises a bare Exception
# whose text is the server's message (400/401/403/404/500) or, for any other status, "Received unexpected response
# while getting data source: Response(status_code=<HTTPStatus.SERVICE_UNAVAILABLE: 503>, ...)"; ``list_keys`` and
# ``get_key_url`` read ``error.error_type`` of a body they could not parse, so a 429/502/503 from the proxy becomes
# "AttributeError: 'NoneType' object has no attribute 'error_type'" (domino_data/data_sources.py, dominodatalab-data
# 6.7.4 in .venv). So the status is taken from wherever it survives, and a client's own bug is never shown as the cause.
_STATUS_IN_TEXT = re.compile(r"status_code=<HTTPStatus\.\w+: (\d{3})>|\b(?:HTTP|status(?: code)?)[ =:]+(\d{3})\b",
                             re.IGNORECASE)
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_MISSING_WORDS = ("not found", "does not exist", "doesn't exist", "no such", "not have access", "nosuchkey")


def _status_of(exc: BaseException) -> int | None:
    for holder in (getattr(exc, "response", None), exc):
        status = getattr(holder, "status_code", None)
        if isinstance(status, int):
            return status
    match = _STATUS_IN_TEXT.search(str(exc))
    return int(match.group(1) or match.group(2)) if match else None


def _client_bug(exc: BaseException) -> bool:
    """The client tripped over an answer it did not expect (its own bug, not the service's message)."""
    return isinstance(exc, (AttributeError, TypeError, KeyError, IndexError, ValueError)) and \
        not isinstance(exc, UnicodeError)


def _says_missing(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(words in text for words in _MISSING_WORDS)


def _phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def service_error(exc: BaseException, what: str) -> ApiError:
    """An ``ApiError`` (exit 3) that says which service answered what, or that the client could not read it; a
    temporary answer says that trying again later is the fix. Never "does not exist"."""
    status = _status_of(exc)
    if status in TRANSIENT_STATUSES:
        return ApiError(f"{what} failed: Domino's data source service answered HTTP {_phrase(status)}, which is "
                        "temporary", "Nothing was changed by this step; try again in a few minutes",
                        status=status, code="rate-limited" if status == 429 else "retries-exhausted")
    if _client_bug(exc):
        return ApiError(f"{what} failed: Domino's data source service gave an answer that its client library could "
                        "not read (usually a temporary error such as HTTP 429 or 503)",
                        "Try again in a few minutes; if it keeps failing, check DOMINO_DATASOURCE_PROXY_HOST and "
                        "that the data source proxy is up", code="datasource-failed")
    answered = f"HTTP {_phrase(status)}" if status else f"{_describe(exc)!r}"
    return ApiError(f"{what} failed: Domino's data source service answered {answered}",
                    "Check that the data source's credentials allow reading and writing, then try again",
                    status=status, code="datasource-failed")


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
