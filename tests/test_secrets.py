"""No secret in anything we print or write: a real demo run against the sandbox, then grep all of it.

The run is the session's classification path (``e2e_path`` in tests/conftest.py, shared with tests/test_e2e.py):
every step's output is kept in ``demo.runs``, including the steps test_e2e.py adds when it runs first.

Also the error paths: an API key Model Monitor refuses (401) and a Model API token the endpoint refuses (401)
must be reported without echoing the key or the token.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from demos import E2E_GROUP, CachedDemo

from example.demo import Demo

pytestmark = pytest.mark.xdist_group(E2E_GROUP)

ROOT = Path(__file__).resolve().parent.parent
WRONG_KEY = "wrong-api-key-AAAABBBBCCCC"
WRONG_TOKEN = "wrong-model-token-DDDDEEEEFFFF"


@pytest.fixture(scope="module")
def demo(e2e_path):
    return e2e_path.demo


def secrets_of(demo: Demo) -> list[str]:
    return [demo.sandbox.api_key, demo.deployment["accessToken"]]


def step(demo: CachedDemo, script: str, *args: str, **env_changes: str | None) -> subprocess.CompletedProcess:
    env = dict(demo.env)
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    command = [str(ROOT / script), *args]
    finished = demo.steps.run(command, cwd=demo.work_dir, env=env, timeout=300)  # forked, as in tests/demos.py
    return subprocess.CompletedProcess(command, finished.returncode, finished.stdout, finished.stderr)


def test_demo_wrote_and_printed_no_secret(demo):
    secrets = secrets_of(demo)
    assert all(len(secret) >= 8 for secret in secrets)
    written = [path for path in demo.work_dir.rglob("*") if path.is_file()]
    names = {path.name for path in written}
    assert {"monitoring_config.json", "monitoring_schema.json", "monitoring_ledger.json", "model_manifest.json",
            "monitoring_report.json", "monitoring_report.html"} <= names
    assert any(path.parent.name == "ground_truth" for path in written)
    for path in written:
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, f"{path} holds a secret"
    steps = iter(run.name for run in demo.runs)
    assert all(name in steps for name in ["step 1", "step 2", "step 3", "step 4", "step 5", "step 6"]), \
        "steps 1-6 did not all run, in order"
    for run in demo.runs:
        for secret in secrets:
            assert secret not in run.stdout + run.stderr, f"{run.name} printed a secret"


def test_dry_run_config_masks_the_stored_token(demo, tmp_path):
    token = demo.deployment["accessToken"]
    result = step(demo, "3_setup_monitoring.py", "--offline", "--yes", "--dry-run", "--store-token",
                  "--config", str(demo.work_dir / "monitoring_config.json"), "--output", str(tmp_path / "c.json"))
    assert result.returncode == 0, result.stderr
    assert token not in result.stdout + result.stderr
    assert not (tmp_path / "c.json").exists()


@pytest.mark.parametrize("script", ["5_upload_ground_truth.py", "6_check_monitoring.py"])
def test_refused_api_key_is_not_echoed(demo, tmp_path, script):
    args = ["--no-preview", "--output-dir", str(tmp_path)] if script.startswith("6") else []
    result = step(demo, script, *args, DOMINO_USER_API_KEY=WRONG_KEY)
    output = result.stdout + result.stderr
    assert result.returncode in (1, 3), output
    assert "Traceback" not in output
    assert "API key" in output or "DOMINO_USER_API_KEY" in output
    assert WRONG_KEY not in output and demo.sandbox.api_key not in output
    if script.startswith("6"):
        assert WRONG_KEY not in (tmp_path / "monitoring_report.json").read_text()


def test_refused_model_api_token_is_not_echoed(demo):
    ledger_before = (demo.work_dir / "monitoring_ledger.json").read_text()
    result = step(demo, "4_generate_predictions.py", "--count", "2", "--no-upload", DOMINO_MODEL_API_TOKEN=WRONG_TOKEN)
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert "401" in output and "DOMINO_MODEL_API_TOKEN" in output
    assert WRONG_TOKEN not in output and demo.deployment["accessToken"] not in output
    assert (demo.work_dir / "monitoring_ledger.json").read_text() == ledger_before


def wizard_args(demo: Demo, output: Path) -> list[str]:
    config = json.loads((demo.work_dir / "monitoring_config.json").read_text())
    return ["--yes", "--base-url", demo.sandbox.url, "--model-id", demo.dmm_model_id,
            "--endpoint-url", demo.deployment["endpointUrl"], "--datasource", config["data_sources"]["ground_truth"],
            "--schema", str(demo.work_dir / "monitoring_schema.json"), "--output", str(output)]


def test_wizard_with_refused_token_names_it_without_echoing(demo, tmp_path):
    result = step(demo, "3_setup_monitoring.py", *wizard_args(demo, tmp_path / "c.json"),
                  DOMINO_MODEL_API_TOKEN=WRONG_TOKEN)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert result.returncode in (2, 3), result.stdout + result.stderr
    assert len(errors) == 1 and "Traceback" not in result.stderr
    assert WRONG_TOKEN not in result.stdout + result.stderr
    assert not (tmp_path / "c.json").exists()


def test_wizard_without_token_stops_before_writing(demo, tmp_path):
    result = step(demo, "3_setup_monitoring.py", *wizard_args(demo, tmp_path / "c.json"), DOMINO_MODEL_API_TOKEN=None)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(errors) == 1 and "DOMINO_MODEL_API_TOKEN" in errors[0] and "not set" in errors[0]
    assert not (tmp_path / "c.json").exists()


def test_sandbox_log_keeps_no_api_key(demo):
    log = (demo.sandbox.state_dir / "sandbox.log").read_text(errors="replace")
    assert "Domino sandbox on" in log
    assert demo.sandbox.api_key not in log
