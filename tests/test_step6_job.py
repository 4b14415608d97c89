"""Step 6 as a daily Job and checks that do not pollute production (issue 12): ``--no-probe`` on steps 3 and 6,
``--fail-on drift|quality|any``, and progress that reads well in a Job's log."""

from __future__ import annotations

import io
import json

import pytest
from test_checks import World
from test_wizard import FULL_FLAGS, mock_domino, mocked, run_script, workdir  # noqa: F401 (fixtures)

from dmm.checks.fail_on import fail_on_reasons
from dmm.checks.probes import PROBE_SKIPPED
from dmm.cli import ProgressBar, run
from sandbox.testing import load_script

step6 = load_script("6_check_monitoring")


@pytest.fixture
def world(tmp_path) -> World:
    return World(tmp_path)


def run_step6(world: World, *flags: str) -> tuple[int, dict]:
    out = world.root / "out"
    out.mkdir(exist_ok=True)
    argv = ["--prediction-data", str(world.prediction_dir), "--output-dir", str(out), "--start", "2025-03-03",
            "--end", "2025-03-10T12:00", *flags]
    code = run(lambda args: step6.main(args, connect=world.connect, load_config=world.load_config), argv)
    report_path = out / "monitoring_report.json"
    return code, json.loads(report_path.read_text()) if report_path.exists() else {}


def test_no_probe_sends_nothing_and_skips_the_endpoint_check(world, capsys):
    code, report = run_step6(world, "--no-probe")
    endpoint = next(c for c in report["checks"] if c["name"] == "endpoint")
    assert endpoint["status"] == "SKIP" and PROBE_SKIPPED in endpoint["detail"]
    assert world.model_api.calls == [] and code == 0
    assert report["probes"]["probe"] is False and report["probes"]["sent"] is False
    assert PROBE_SKIPPED in capsys.readouterr().out


def test_by_default_the_probe_is_sent_with_its_own_event_id(world):
    code, report = run_step6(world)
    assert code == 0 and len(world.model_api.calls) == 1
    assert world.model_api.calls[0]["event_id"].startswith(report["probes"]["prefix"])


def test_fail_on_drift_fails_a_run_whose_checks_pass(world, capsys):
    world.training["age"] = world.training["age"] + 1000  # every captured age now lies outside the training range
    code, report = run_step6(world)
    assert code == 0 and report["drift"]["failing_columns"], "the checks alone never fail on drift"
    code, report = run_step6(world, "--fail-on", "drift")
    out = capsys.readouterr().out
    assert code == 1 and "--fail-on drift: exit 1 because" in out and "age" in out
    assert report["fail_on"] == {"on": "drift", "reasons": [report["fail_on"]["reasons"][0]]}
    code, _ = run_step6(world, "--fail-on", "quality")
    assert code == (1 if fail_on_reasons(report, "quality") else 0)


def test_fail_on_passes_when_nothing_is_found(world, capsys):
    code, report = run_step6(world, "--fail-on", "quality")
    assert report["quality"]["status"] == "ok" and report["quality"]["passed"] and code == 0
    assert "--fail-on quality: nothing to fail on" in capsys.readouterr().out


def test_fail_on_quality_fails_when_quality_cannot_be_measured(world, capsys):
    world.datasources.objects.clear()  # the ledger's labels are gone: no quality
    code, report = run_step6(world, "--fail-on", "quality")
    assert code == 1 and report["quality"]["status"] != "ok"
    assert "quality was not measured" in capsys.readouterr().out


@pytest.mark.parametrize("drift_failing, quality_failing, expected", [
    (False, False, []), (True, False, ["drift"]), (False, True, ["quality"]), (True, True, ["drift", "quality"])])
def test_fail_on_any_is_drift_or_quality(drift_failing, quality_failing, expected):
    report = {"drift": {"status": "ok", "columns": [{"column": "age", "passed": not drift_failing}]},
              "quality": {"status": "ok", "metrics": [{"name": "accuracy", "passed": not quality_failing}]}}
    reasons = fail_on_reasons(report, "any")
    assert [("drift" if "drifted" in r else "quality") for r in reasons] == expected
    assert fail_on_reasons(report, None) == []


def test_fail_on_needs_the_preview_and_a_known_value(world, capsys):
    code, _ = run_step6(world, "--fail-on", "drift", "--no-preview")
    assert code == 2 and "--fail-on needs the preview" in capsys.readouterr().err
    code, _ = run_step6(world, "--fail-on", "everything")
    assert code == 2 and "Traceback" not in capsys.readouterr().err


def test_progress_is_plain_lines_when_not_a_terminal():
    stream = io.StringIO()  # not a terminal, as a Domino Job's log
    with ProgressBar(5, "Predictions", unit="req", interval=0, stream=stream) as progress:
        for _ in range(5):
            progress.update()
    text = stream.getvalue()
    assert "\r" not in text
    assert text.splitlines() == [f"Predictions: {n}/5 req ({n / 5:.0%})" for n in range(1, 6)]


def test_progress_lines_are_periodic_with_a_last_one():
    stream = io.StringIO()
    with ProgressBar(1000, "Predictions", unit="req", interval=3600, stream=stream) as progress:
        for _ in range(1000):
            progress.update()
    assert stream.getvalue().splitlines() == ["Predictions: 1,000/1,000 req (100%)"]


def test_wizard_no_probe_sends_nothing_to_the_endpoint(workdir, mocked):  # noqa: F811
    mock_domino(mocked)
    code, script = run_script(FULL_FLAGS + ["--yes", "--no-probe"])
    assert code == 0, script.output
    assert PROBE_SKIPPED in script.output
    assert not [call for call in mocked.calls if call.request.method == "POST"]
    assert json.loads((workdir / "monitoring_config.json").read_text())["model_api"]["endpoint_url"]
