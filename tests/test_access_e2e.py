"""End to end without a user API key: the whole path with a service-account-style token named in the config,
traced; the trace holds every step's Domino exchanges (ours and Domino's clients') and no secret or signature."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.e2e

TOKEN_ENV = "DMM_SERVICE_ACCOUNT_TOKEN"
SIGNED = re.compile(r"(?i)[?&](signature|x-amz-signature|x-amz-credential|sig|se|sp|token)=(?!\*\*\*\*)")


def test_a_keyless_run_with_a_token_reaches_every_service_and_the_trace_leaks_nothing(tmp_path, start_demo):
    trace_file = tmp_path / "trace.jsonl"
    with start_demo("access") as demo:  # the session's trained example model (tests/demos.py)
        running = demo.sandbox
        key = running.env.pop("DOMINO_USER_API_KEY")
        # The token reaches the toolkit through a variable whose name the config holds (domino.auth_token_env,
        # here by its DMM_ override so that step 1 sees it too). The current sandbox accepts its key as a Bearer
        # token (sandbox/routes/common.py); the sandbox profiles of issue 8 §5 add real service-account tokens.
        running.env[TOKEN_ENV] = key
        running.env["DMM_DOMINO_AUTH_TOKEN_ENV"] = TOKEN_ENV
        running.env["DMM_TRACE"] = str(trace_file)
        demo.full_path(count=20)
        model_api_token = demo.deployment["accessToken"]

    assert "DOMINO_USER_API_KEY" not in demo.env
    step3, step6 = (next(r for r in demo.runs if r.name == name) for name in ("step 3", "step 6"))
    assert f"an access token from ${TOKEN_ENV}" in step3.stdout
    assert f"Model Monitor at {demo.sandbox.url}/model-monitor/v2/api" in step3.stdout  # step 3 names each host
    assert "training sets at " in step3.stdout and "data sources at " in step3.stdout
    report = json.loads((demo.work_dir / "monitoring_report.json").read_text())
    access = next(c for c in report["checks"] if c["name"] == "api key")
    assert access["status"] == "PASS" and f"an access token from ${TOKEN_ENV}" in access["detail"]
    for service in ("training sets at ", "data sources at ", "Model Monitor at ", "custom metrics at "):
        assert service in access["detail"]
    assert "Auth: an access token" in step6.stdout

    text = trace_file.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    clients = {line["client"] for line in lines}
    assert {"model-monitor", "model-api", "domino_data.training_sets", "domino_data"} <= clients, clients
    assert len({line["pid"] for line in lines}) >= 5  # steps 1, 3, 4, 5 and 6 each reached Domino
    assert all(line["request"]["headers"].get("Authorization", "****") == "****" for line in lines)
    assert any(line["request"]["headers"].get("Authorization") == "****" for line in lines)
    for secret in (key, model_api_token):
        assert secret not in text
    assert not SIGNED.search(text), SIGNED.search(text)
