"""The whole path (steps 1-6 as subprocesses) on every sandbox profile other than the default ``keys`` one, which
``tests/test_e2e.py`` runs. ``python -m example.demo --profile P`` runs this same ``Demo`` path; here the example
model is the session's trained one (``tests/demos.py``) so that the profiles fit the suite's time.

The keyless profiles run with no ``DOMINO_USER_API_KEY`` anywhere in the steps' environment: the toolkit must find
its credentials the way Domino's clients do (API proxy, or the service account's token the config names). The
service-account run is traced (``DMM_TRACE``): the trace holds every step's Domino exchanges, ours and Domino's
clients', and no secret or signature.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from demos import CachedDemo

from sandbox.profiles import DEFAULT_PROFILE, PROFILES, SERVICE_ACCOUNT_TOKEN_ENV, access_token
from sandbox.testing import DEFAULT_TEST_KEY

pytestmark = pytest.mark.e2e

SECRETS = (DEFAULT_TEST_KEY, access_token(DEFAULT_TEST_KEY, "proxy"), access_token(DEFAULT_TEST_KEY, "service-account"))
SIGNED = re.compile(r"(?i)[?&](signature|x-amz-signature|x-amz-credential|sig|se|sp|token)=(?!\*\*\*\*)")
TRACED_PROFILE = "service-account"


@dataclass
class ProfileRun:
    demo: CachedDemo
    report: dict
    output: str
    trace: Path
    model_api_token: str


@pytest.fixture(scope="module")
def profile_runs(start_demo, tmp_path_factory):
    """``profile_runs(name)``: the full path on that profile, run once for the module (the sandbox is stopped after
    the run; the tests read what it left)."""
    runs: dict[str, ProfileRun] = {}

    def run(profile: str) -> ProfileRun:
        if profile not in runs:
            trace = tmp_path_factory.mktemp(f"trace-{profile}") / "trace.jsonl"
            with start_demo(f"profile-{profile}", profile=profile, reuse_export=True) as demo:
                assert ("DOMINO_USER_API_KEY" in demo.env) == PROFILES[profile].user_api_keys
                if profile == TRACED_PROFILE:
                    demo.sandbox.env["DMM_TRACE"] = str(trace)
                demo.full_path(count=40)
                report = json.loads((demo.work_dir / "monitoring_report.json").read_text())
                output = "".join(run.stdout + run.stderr for run in demo.runs)
                runs[profile] = ProfileRun(demo, report, output, trace, demo.deployment["accessToken"])
        return runs[profile]

    return run


@pytest.mark.parametrize("profile", [name for name in PROFILES if name != DEFAULT_PROFILE])
def test_full_path_on_profile(profile, profile_runs):
    run = profile_runs(profile)
    assert len(run.report["checks"]) == 10
    assert [c["name"] for c in run.report["checks"] if c["status"] not in ("PASS", "WARN")] == []
    assert not [secret for secret in SECRETS if secret in run.output]


def test_a_service_account_run_names_its_method_and_hosts_and_the_trace_leaks_nothing(profile_runs):
    run = profile_runs(TRACED_PROFILE)
    demo = run.demo
    assert "DOMINO_USER_API_KEY" not in demo.env
    step3, step6 = (next(r for r in demo.runs if r.name == name) for name in ("step 3", "step 6"))
    assert f"an access token from ${SERVICE_ACCOUNT_TOKEN_ENV}" in step3.stdout
    assert f"Model Monitor at {demo.sandbox.url}/model-monitor/v2/api" in step3.stdout  # step 3 names each host
    assert "training sets at " in step3.stdout and "data sources at " in step3.stdout
    access = next(c for c in run.report["checks"] if c["name"] == "api key")
    assert access["status"] == "PASS" and f"an access token from ${SERVICE_ACCOUNT_TOKEN_ENV}" in access["detail"]
    for service in ("training sets at ", "data sources at ", "Model Monitor at ", "custom metrics at "):
        assert service in access["detail"]
    assert "Auth: an access token" in step6.stdout

    text = run.trace.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    clients = {line["client"] for line in lines}
    assert {"model-monitor", "model-api", "domino_data.training_sets", "domino_data"} <= clients, clients
    assert len({line["pid"] for line in lines}) >= 5  # steps 1, 3, 4, 5 and 6 each reached Domino
    assert all(line["request"]["headers"].get("Authorization", "****") == "****" for line in lines)
    assert any(line["request"]["headers"].get("Authorization") == "****" for line in lines)
    for secret in (*SECRETS, run.model_api_token):
        assert secret not in text
    assert not SIGNED.search(text), SIGNED.search(text)
