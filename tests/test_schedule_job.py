"""``python -m dmm.schedule_job``: step 6 as a daily Domino Job, created through Domino's scheduled-jobs API on the
sandbox (sandbox/routes/jobs.py cites the evidence); dry run first, idempotent, Domino's cron form."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests

from dmm.errors import UsageError
from dmm.job_schedule import quartz_cron

COMMAND = "python 6_check_monitoring.py --days 1 --fail-on drift"


@pytest.mark.parametrize("unix, quartz", [
    ("0 6 * * *", "0 0 6 * * ?"), ("30 5 1 * *", "0 30 5 1 * ?"), ("0 6 * * 1-5", "0 0 6 ? * 2-6"),
    ("0 6 * * 0,6", "0 0 6 ? * 1,7"), ("0 6 * * 7", "0 0 6 ? * 1"), ("0 6 * * MON-FRI", "0 0 6 ? * MON-FRI"),
    ("*/15 * * * *", "0 */15 * * * ?"), ("0 0 5,10 * * ?", "0 0 5,10 * * ?")])
def test_unix_cron_becomes_dominos_quartz_form(unix, quartz):
    assert quartz_cron(unix) == quartz


@pytest.mark.parametrize("bad", ["0 6 * *", "0 6 1 * 1", "0 6 * * 5-7", "0 6 * * 9", "0 0 6 * * *", "a b c d e f g h",
                                 "0 6 * * ;"])
def test_a_cron_domino_cannot_take_is_bad_input(bad):
    with pytest.raises(UsageError) as caught:
        quartz_cron(bad)
    assert caught.value.code == "cron-invalid"


@pytest.fixture
def project(sandbox, tmp_path):
    """A project folder with a config pointing at the sandbox, and the run's environment."""
    config = {"domino": {"base_url": sandbox.url}, "model_monitor": {"model_id": "dmm-model-1"},
              "model_api": {"endpoint_url": f"{sandbox.url}/models/m1/latest/model"},
              "data_sources": {"ground_truth": "gt-store"}}
    (tmp_path / "monitoring_config.json").write_text(json.dumps(config))
    env = {**sandbox.env, "DOMINO_HARDWARE_TIER_ID": "small-k8s"}
    yield tmp_path, env
    requests.post(f"{sandbox.url}/sandbox/monitor-options", json={"scheduled_jobs_listable": False},
                  headers=sandbox.headers, timeout=10)


def run_helper(folder, env, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dmm.schedule_job", "--environment-id", "env-123", *flags],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=120)


def jobs_in(sandbox) -> list[dict]:
    path = sandbox.state_dir / "state.json"  # written at the first change
    state = json.loads(path.read_text()) if path.exists() else {}
    return list(state.get("scheduled_jobs", {}).values())


@pytest.mark.parametrize("listable", [False, True])
def test_dry_run_then_create_once(sandbox, project, listable):
    folder, env = project
    sandbox.admin("monitor-options", scheduled_jobs_listable=listable)
    before = len(jobs_in(sandbox))
    command = f"{COMMAND} --output-dir /mnt/artifacts/monitoring-{listable}"  # one command per case: a shared sandbox

    def helper(folder, env, *flags):
        return run_helper(folder, env, "--command", command, *flags)

    dry = helper(folder, env, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Dry run: nothing created." in dry.stdout and "0 0 6 * * ?" in dry.stdout and command in dry.stdout
    assert len(jobs_in(sandbox)) == before
    refused = helper(folder, env)  # not a terminal and no --yes: asks for confirmation, creates nothing
    assert refused.returncode == 1 and "--yes" in refused.stderr and len(jobs_in(sandbox)) == before
    created = helper(folder, env, "--yes")
    assert created.returncode == 0, created.stderr
    assert "Created scheduled Job" in created.stdout
    jobs = jobs_in(sandbox)
    assert len(jobs) == before + 1
    job = jobs[-1]
    assert job["command"] == command and job["schedule"] == {"cronString": "0 0 6 * * ?", "isCustom": True}
    assert job["hardwareTierIdentifier"] == "small-k8s" and job["allowConcurrentExecution"] is False
    again = helper(folder, env, "--yes")
    assert again.returncode == 0 and "Already scheduled" in again.stdout and "Nothing created" in again.stdout
    assert len(jobs_in(sandbox)) == before + 1
    where = "in Domino" if listable else "scheduled_jobs.json"
    assert where in again.stdout
    (folder / "scheduled_jobs.json").unlink()
    if listable:  # Domino's own listing finds it even without the record
        assert "Already scheduled in Domino" in helper(folder, env, "--yes").stdout
        assert len(jobs_in(sandbox)) == before + 1


def test_missing_pieces_are_one_sentence(sandbox, project):
    folder, env = project
    no_tier = {k: v for k, v in env.items() if k != "DOMINO_HARDWARE_TIER_ID"}
    result = run_helper(folder, no_tier, "--dry-run")
    assert result.returncode == 2 and "--hardware-tier" in result.stderr and "Traceback" not in result.stderr
    result = subprocess.run([sys.executable, "-m", "dmm.schedule_job", "--dry-run"], cwd=folder, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "--environment-id" in result.stderr
    result = run_helper(folder, env, "--cron", "0 6 1 * 1")
    assert result.returncode == 2 and "cannot combine" in result.stderr


def test_the_sandbox_refuses_a_job_without_dominos_required_fields(sandbox):
    url = f"{sandbox.url}/v4/projects/{sandbox.env['DOMINO_PROJECT_ID']}/scheduledjobs"
    answer = requests.post(url, json={"title": "t", "command": "python x.py"}, headers=sandbox.headers, timeout=10)
    assert answer.status_code == 400 and "hardwareTierIdentifier" in answer.text
    unix = {"title": "t", "command": "c", "schedule": {"cronString": "0 6 * * *", "isCustom": True}}
    answer = requests.post(url, json=unix, headers=sandbox.headers, timeout=10)
    assert answer.status_code == 400 and "cronString" in answer.text
    assert requests.post(url, json={}, timeout=10).status_code == 401


@pytest.mark.parametrize("flags, words", [(["--timezone", "Mars/Olympus"], "is not a time zone name"),
                                          (["--cron", "every day"], "--cron")])
def test_bad_flags_are_named_before_the_config_is_looked_for(tmp_path, flags, words):
    """No monitoring_config.json in the folder: the flag's own problem is still the one named."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("DMM_")}
    done = subprocess.run([sys.executable, "-m", "dmm.schedule_job", "--dry-run", *flags], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr, done.stderr
