"""Issue 9 point 4: a temporary answer (429, 502, 503) from Domino's data source services, met through Domino's
own client, is reported as temporary (which service answered what; try again later; exit 3), never as a missing
data source (exit 2) and never as the client's own bug text."""

from __future__ import annotations

import os

import pytest

from dmm.checks.probes import check_datasource
from dmm.datasources import DataSources
from dmm.errors import ApiError, NotFoundError

EXPORTED = ("DOMINO_API_HOST", "DOMINO_USER_API_KEY", "DOMINO_DATASOURCE_PROXY_HOST",
            "DOMINO_DATASOURCE_PROXY_FLIGHT_HOST", "DOMINO_PROJECT_ID", "DOMINO_PROJECT_OWNER", "DOMINO_PROJECT_NAME")


@pytest.fixture
def faulty(sandbox_factory, monkeypatch):
    running = sandbox_factory()
    for name in EXPORTED:
        if name in running.env:
            monkeypatch.setenv(name, running.env[name])
    running.admin("create-datasource", name="gt-store", type="s3")
    monkeypatch.setenv("DMM_RETRY_MAX_SECONDS", "3")  # retries still run out, in seconds rather than a minute
    return running


class NoMonitor:
    def datasource_named(self, name):
        raise AssertionError("not reached")


@pytest.mark.parametrize("fault, status, code", [({"failRate": 1.0}, 503, "retries-exhausted"),
                                                 ({"throttleRate": 1.0, "retryAfterS": 0}, 429, "rate-limited")])
def test_lookup_under_a_temporary_answer_is_temporary_not_missing(faulty, fault, status, code):
    faulty.admin("faults", datasource=fault)
    with pytest.raises(ApiError) as caught:
        DataSources().datasource("gt-store")
    error = caught.value
    assert not isinstance(error, NotFoundError)
    assert error.exit_code == 3 and error.code == code and str(status) in str(error)
    assert "try again" in str(error).lower() and "not found" not in str(error).lower()
    result = check_datasource("gt-store", DataSources(), NoMonitor())
    assert not result.ok and "has no data source" not in result.detail


def test_listing_under_a_proxy_fault_never_shows_the_clients_bug(faulty):
    sources = DataSources()
    sources.datasource("gt-store")  # found while the proxy is healthy
    faulty.admin("faults", datasource={"failRate": 1.0})
    with pytest.raises(ApiError) as caught:
        sources.list_keys("gt-store", "ground_truth/")
    text = str(caught.value)
    assert "NoneType" not in text and "error_type" not in text
    assert caught.value.exit_code == 3 and "try again" in text.lower()


def test_a_missing_data_source_is_still_missing(faulty):
    with pytest.raises(NotFoundError) as caught:
        DataSources().datasource("no-such-store")
    assert caught.value.code == "datasource-missing"
    assert os.environ["DOMINO_API_HOST"].startswith("http://127.0.0.1")
