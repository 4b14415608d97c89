"""Custom metrics' identity, asked with python-domino's read-only call against the sandbox: accepted, refused,
or "not checked" where no call could be made; nothing is logged (read-only)."""

from __future__ import annotations

import pytest
import requests

from dmm import auth
from dmm.access import ACCEPTED, NOT_CHECKED, PROBE_METRIC, REFUSED, custom_metrics_access
from dmm.errors import UsageError
from dmm.publish import custom_metrics_client

pytestmark = pytest.mark.e2e


def test_custom_metrics_identity_is_read_without_writing(sandbox):
    env = dict(sandbox.env)
    good = auth.resolve("api-key", env=env)
    accepted = custom_metrics_access(lambda: custom_metrics_client(good, sandbox.url, env), "dmm-model-7",
                                     good.describe())
    assert accepted.state == ACCEPTED and accepted.ok, accepted
    assert accepted.sentence() == f"custom metrics accepted {good.describe()}"

    wrong = auth.resolve("token", token_env="WRONG", env={**env, "WRONG": "not-a-token-0123456789"})
    refused = custom_metrics_access(lambda: custom_metrics_client(wrong, sandbox.url, env), "dmm-model-7",
                                    wrong.describe())
    assert refused.state == REFUSED and not refused.ok and "not-a-token" not in refused.sentence()
    assert refused.sentence().startswith("custom metrics refused an access token from $WRONG")
    assert "--auth" in refused.fix

    def no_project():
        raise UsageError("DOMINO_PROJECT_OWNER and DOMINO_PROJECT_NAME are not set", "")
    unknown = custom_metrics_access(no_project, "dmm-model-7", good.describe())
    assert unknown.state == NOT_CHECKED and unknown.ok and "not checked" in unknown.sentence()
    logged = requests.get(f"{sandbox.url}/api/metricValues/v1/dmm-model-7/{PROBE_METRIC}", headers=sandbox.headers,
                          params={"startingReferenceTimestampInclusive": "2000-01-01T00:00:00Z",
                                  "endingReferenceTimestampInclusive": "2100-01-01T00:00:00Z"}, timeout=30)
    assert logged.status_code == 200 and logged.json()["metricValues"] == []
