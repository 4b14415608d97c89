"""The whole path (steps 1-6 as subprocesses) on every sandbox profile other than the default ``keys`` one, which
``tests/test_e2e.py`` runs. ``python -m example.demo --profile P`` runs this same ``Demo`` path; here the example
model is the session's trained one (``tests/demos.py``) so that four profiles fit the suite's time.

The keyless profiles run with no ``DOMINO_USER_API_KEY`` anywhere in the steps' environment: the toolkit must find
its credentials the way Domino's clients do (API proxy, or the service account's token the config names).
"""

from __future__ import annotations

import json

import pytest

from sandbox.profiles import DEFAULT_PROFILE, PROFILES, access_token
from sandbox.testing import DEFAULT_TEST_KEY

pytestmark = pytest.mark.e2e

SECRETS = (DEFAULT_TEST_KEY, access_token(DEFAULT_TEST_KEY, "proxy"), access_token(DEFAULT_TEST_KEY, "service-account"))


@pytest.mark.parametrize("profile", [name for name in PROFILES if name != DEFAULT_PROFILE])
def test_full_path_on_profile(profile, start_demo):
    with start_demo(f"profile-{profile}", profile=profile) as demo:
        assert ("DOMINO_USER_API_KEY" in demo.env) == PROFILES[profile].user_api_keys
        demo.full_path(count=40)
        report = json.loads((demo.work_dir / "monitoring_report.json").read_text())
        output = "".join(run.stdout + run.stderr for run in demo.runs)
    assert len(report["checks"]) == 10
    assert [c["name"] for c in report["checks"] if c["status"] not in ("PASS", "WARN")] == []
    assert not [secret for secret in SECRETS if secret in output]
