"""Data source wrappers: Domino's client errors become ApiError/NotFoundError with a fix; listing returns keys."""

from __future__ import annotations

import pytest

from dmm.datasources import DataSources
from dmm.errors import ApiError, ConfigError, NotFoundError, UsageError


class FakeObject:
    def __init__(self, key):
        self.key = key


class FakeObjectStore:
    def __init__(self):
        self.objects: dict[str, bytes] = {}

    def put(self, key, content):
        self.objects[key] = content

    def get(self, key):
        if key not in self.objects:
            error = Exception("404 Not Found")
            error.response = type("R", (), {"status_code": 404})()
            raise error
        return self.objects[key]

    def list_objects(self, prefix="", page_size=1000):
        return [FakeObject(k) for k in self.objects if k.startswith(prefix)]


class FakeClient:
    def __init__(self):
        self.stores = {"gt-store": FakeObjectStore(), "warehouse": object()}
        self.lookups = 0

    def get_datasource(self, name):
        self.lookups += 1
        if name not in self.stores:
            raise Exception(f"Datasource with name {name} not found")
        return self.stores[name]


def test_upload_list_download_round_trip():
    client = FakeClient()
    sources = DataSources(client)
    sources.upload_bytes("gt-store", "gt/m1/2024-05-01/b.csv", b"b")
    sources.upload_bytes("gt-store", "gt/m1/2024-05-01/a.csv", b"a")
    sources.upload_bytes("gt-store", "other/x.csv", b"x")
    assert sources.list_keys("gt-store", "gt/m1/") == ["gt/m1/2024-05-01/a.csv", "gt/m1/2024-05-01/b.csv"]
    assert sources.download_bytes("gt-store", "gt/m1/2024-05-01/a.csv") == b"a"
    assert client.lookups == 1  # the data source is looked up once


def test_unknown_data_source_names_the_fix():
    sources = DataSources(FakeClient())
    assert not sources.exists("missing")
    with pytest.raises(NotFoundError, match="'missing' was not found") as raised:
        sources.upload_bytes("missing", "k", b"")
    assert "Add to project" in str(raised.value)


def test_missing_key_is_not_found_and_other_failures_are_api_errors():
    sources = DataSources(FakeClient())
    with pytest.raises(NotFoundError):
        sources.download_bytes("gt-store", "absent.csv")
    store = sources.datasource("gt-store")
    store.put = lambda key, content: (_ for _ in ()).throw(RuntimeError("signed URL expired"))
    with pytest.raises(ApiError, match="signed URL expired"):
        sources.upload_bytes("gt-store", "k.csv", b"x")


def test_a_tabular_data_source_is_refused():
    with pytest.raises(UsageError, match="not an object store"):
        DataSources(FakeClient()).datasource("warehouse")


def test_client_that_cannot_start_explains_the_environment(monkeypatch):
    monkeypatch.delenv("DOMINO_DATASOURCE_PROXY_FLIGHT_HOST", raising=False)
    monkeypatch.delenv("DOMINO_API_HOST", raising=False)
    monkeypatch.setenv("DOMINO_USER_API_KEY", "some-key-1234")
    with pytest.raises(ConfigError, match="DOMINO_API_HOST and .*DOMINO_DATASOURCE_PROXY_FLIGHT_HOST"):
        _ = DataSources().client


def test_client_without_api_key_is_a_config_error(monkeypatch):
    for name in ("DOMINO_USER_API_KEY", "DOMINO_TOKEN_FILE", "DOMINO_API_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="DOMINO_USER_API_KEY is not set"):
        _ = DataSources().client
