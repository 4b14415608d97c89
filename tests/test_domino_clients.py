"""Domino's own clients built by dmm.domino_clients against the sandbox: each authenticates with exactly the method
the chain chose (here a Bearer token, no API key anywhere), and every exchange of theirs is traced."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from dmm import auth, domino_clients, trace

pytestmark = pytest.mark.e2e


@pytest.fixture
def token_only(sandbox, monkeypatch, tmp_path):
    """The sandbox's environment without DOMINO_USER_API_KEY; its key serves as a Bearer token (the sandbox takes
    one, as Domino takes an access token)."""
    for name, value in sandbox.env.items():
        if name.startswith("DOMINO_"):
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("DOMINO_USER_API_KEY", raising=False)
    monkeypatch.setenv("SA_TOKEN", sandbox.api_key)
    path = tmp_path / "trace.jsonl"
    trace.start(path)
    yield auth.resolve("auto", token_env="SA_TOKEN"), path
    trace.stop()


def lines_of(path) -> list[dict]:
    trace.stop()
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_python_domino_custom_metrics_with_a_token(sandbox, token_only):
    credentials, path = token_only
    assert credentials.method == auth.TOKEN
    project = f"{sandbox.env['DOMINO_PROJECT_OWNER']}/{sandbox.env['DOMINO_PROJECT_NAME']}"
    client = domino_clients.python_domino(credentials, project, sandbox.url).custom_metrics_client()
    client.log_metric("dmm-model-2", "accuracy", 0.9, datetime.now(timezone.utc).isoformat(), {})
    lines = lines_of(path)
    mine = [line for line in lines if line["client"] == "python-domino"]
    assert any("/api/metricValues/v1" in line["url"] and 200 <= line["status"] < 300 for line in mine), mine
    assert all(line["request"]["headers"].get("Authorization") == "****" for line in mine)
    assert sandbox.api_key not in path.read_text()


def test_domino_data_training_sets_and_data_sources_with_a_token(sandbox, token_only):
    credentials, path = token_only
    from domino_data.training_sets import client

    original = client._get_client
    with domino_clients.training_sets_as(credentials):
        client.list_training_set_versions(training_set_name="nothing-registered-here")
    assert client._get_client is original  # nothing else in the process inherits the credentials
    sources = domino_clients.data_source_client(credentials)
    with pytest.raises(Exception):  # noqa: B017 - the client's own error type for an unknown name
        sources.get_datasource("no-such-source")
    lines = lines_of(path)
    assert {"domino_data.training_sets", "domino_data"} <= {line["client"] for line in lines}
    for line in lines:
        headers = line["request"]["headers"]
        assert "X-Domino-Api-Key" not in headers and headers.get("authorization", "****") == "****"
    assert sandbox.api_key not in path.read_text()
