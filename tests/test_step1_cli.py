"""1_register_training_set.py as a user runs it: --help, --dry-run, confirmation, --yes (against the sandbox)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import respx
from step_server import Finished, StepServer

from dmm.cli import run
from dmm.schema import MonitoringSchema
from example.data import CATEGORICAL_FEATURES, FEATURES, TARGET, write_dataset
from sandbox.testing import load_script

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "1_register_training_set.py"
step1 = load_script("1_register_training_set")


def run_script(*args: str, env=None, cwd=None, stdin=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env,
                          cwd=cwd or ROOT, stdin=stdin, timeout=120)


def run_forked(steps: StepServer, *args: str, env, cwd) -> Finished:
    """The script as its own process, forked from the worker's preloaded interpreter (tests/step_server.py)."""
    return steps.run([SCRIPT, *args], cwd=cwd, env=env, timeout=120)


def test_help_documents_every_flag():
    result = run_script("--help")
    assert result.returncode == 0
    for flag in ("--file", "--name", "--target", "--model-type", "--categorical", "--timestamp", "--key",
                 "--exclude", "--description", "--schema-out", "--yes", "--dry-run"):
        assert flag in result.stdout


@pytest.fixture
def churn_csv(tmp_path) -> Path:
    return write_dataset(tmp_path / "data", n_rows=200)["train"]


def test_dry_run_prints_the_plan_and_sends_nothing(churn_csv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DMM_CONFIG", raising=False)
    with respx.mock(assert_all_called=False) as mock:
        code = run(step1.main, ["--file", str(churn_csv), "--name", "churn", "--target", TARGET, "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0 and len(mock.calls) == 0
    assert "Model type:    classification (inferred)" in out
    for column in CATEGORICAL_FEATURES:
        assert f"{column}: categorical (inferred)" in out
    assert "Dry run: nothing was sent" in out
    assert not (tmp_path / "monitoring_schema.json").exists()


def test_without_yes_and_without_a_terminal_it_refuses_cleanly(churn_csv, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DOMINO_API_HOST": "http://127.0.0.1:9", "DOMINO_USER_API_KEY": "k" * 12,
           "HOME": str(tmp_path)}
    result = run_script("--file", str(churn_csv), "--name", "churn", "--target", TARGET, env=env, cwd=tmp_path,
                        stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: This step needs confirmation but is not running in a terminal. "
        "Review the plan with --dry-run, then rerun with --yes."]


def test_schema_goes_next_to_an_existing_config(churn_csv, tmp_path, monkeypatch):
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "monitoring_config.json").write_text("{}")
    monkeypatch.setenv("DMM_CONFIG", str(folder / "monitoring_config.json"))
    assert step1.default_schema_path() == (folder / "monitoring_schema.json").resolve()
    monkeypatch.delenv("DMM_CONFIG")
    monkeypatch.chdir(tmp_path)
    assert step1.default_schema_path() == tmp_path / "monitoring_schema.json"


@pytest.mark.sandbox
def test_yes_registers_against_the_sandbox_and_only_changed_data_adds_a_version(sandbox, churn_csv, tmp_path,
                                                                                 step_server):
    name = "step1-cli-churn"  # unique to this test within the session's sandbox
    args = ("--name", name, "--target", TARGET, "--yes", "--schema-out", str(tmp_path / "monitoring_schema.json"))
    first = run_forked(step_server, "--file", str(churn_csv), *args, env=sandbox.env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"Registered training set '{name}' version 1." in first.stdout
    same = run_forked(step_server, "--file", str(churn_csv), *args, env=sandbox.env, cwd=tmp_path)
    assert same.returncode == 0, same.stderr
    assert f"'{name}' version 1 already holds this data" in same.stdout and "nothing new" in same.stdout
    changed = tmp_path / "changed.csv"
    lines = churn_csv.read_text().splitlines(keepends=True)
    changed.write_text("".join(lines[:-3]))
    second = run_forked(step_server, "--file", str(changed), *args, env=sandbox.env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert f"'{name}' version 2," in second.stdout and "still uses version 1" in second.stdout

    schema = MonitoringSchema.load(tmp_path / "monitoring_schema.json")
    assert schema.training_set_version == 2 and schema.feature_names == FEATURES
    assert schema.class_labels == ("no", "yes")
    check = sandbox.run_python(
        "from domino_data.training_sets import client\n"
        f"v = client.get_training_set_version({name!r}, 2)\n"
        "df = v.load_raw_pandas()\n"
        "print(v.pending, sorted(v.monitoring_meta.categorical_columns), len(df.columns))")
    assert check.returncode == 0, check.stderr
    assert check.stdout.split() == ["False", "['churned',", "'contract',", "'payment_method']",
                                    str(len(FEATURES) + 1)]


@pytest.mark.sandbox
@pytest.mark.parametrize("status", [409, 400])
def test_a_name_taken_by_another_project_is_a_plain_message_proposing_a_qualified_name(sandbox, churn_csv, tmp_path,
                                                                                         status, step_server):
    name = f"taken-elsewhere-{status}"
    sandbox.admin("monitor-options", training_set_names_of_other_projects=[name], training_set_name_taken_status=status)
    try:
        result = run_forked(step_server, "--file", str(churn_csv), "--name", name, "--target", TARGET, "--yes",
                            "--schema-out", str(tmp_path / "monitoring_schema.json"), env=sandbox.env, cwd=tmp_path)
    finally:
        sandbox.admin("monitor-options", training_set_names_of_other_projects=[], training_set_name_taken_status=409)
    project = sandbox.env["DOMINO_PROJECT_NAME"]
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"Error: The training set name '{name}' is taken on this Domino")
    assert f"--name {project}-{name}" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "monitoring_schema.json").exists()
