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


def test_fail_on_any_counts_your_own_metrics_that_failed():
    report = {"drift": {"status": "ok", "columns": []}, "quality": {"status": "ok", "metrics": []},
              "own_metrics": {"status": "ok", "metrics": [{"name": "gap", "status": "FAIL"},
                                                          {"name": "fine", "status": "PASS"}]}}
    assert fail_on_reasons(report, "any") == ["your metric(s) failed: gap"]
    assert fail_on_reasons(report, "drift") == [] and fail_on_reasons(report, "quality") == []


def test_a_failing_metric_function_still_shows_the_checks_and_writes_the_report(world, capsys, tmp_path):
    """The function is the user's to fix (exit 2, metric-failed), but the checks and the report come out first."""
    module = tmp_path / "mine.py"
    module.write_text("def broken(baseline, window):\n    return window['no_such_column'].mean()\n")
    code, report = run_step6(world, "--metric", str(module))
    captured = capsys.readouterr()
    assert code == 2 and "broken in" in captured.err and "Traceback" not in captured.err
    assert "PASS  config" in captured.out  # the checks were printed before the error
    assert report["own_metrics"]["status"] == "error" and report["own_metrics"]["code"] == "metric-failed"


def test_a_quiet_window_gives_your_metrics_the_captured_columns(world, capsys, tmp_path):
    """No prediction in the window: a function that names a feature still runs (on no rows) instead of failing."""
    module = tmp_path / "mine.py"
    module.write_text("def mean_age(baseline, window):\n    return float(len(window['age']))\n")
    out = world.root / "out"
    out.mkdir(exist_ok=True)
    argv = ["--prediction-data", str(world.prediction_dir), "--output-dir", str(out), "--start", "2001-01-01",
            "--end", "2001-01-02", "--metric", str(module)]
    code = run(lambda args: step6.main(args, connect=world.connect, load_config=world.load_config), argv)
    report = json.loads((out / "monitoring_report.json").read_text())
    assert code in (0, 1), capsys.readouterr().err
    assert report["own_metrics"]["status"] == "ok" and report["own_metrics"]["metrics"][0]["value"] == 0.0


def test_an_unknown_drift_test_is_refused_before_any_domino_call(world, capsys):
    calls: list = []

    def connect(*args, **kwargs):
        calls.append(args)
        return world.connect(*args, **kwargs)

    argv = ["--prediction-data", str(world.prediction_dir), "--drift-test", "age=KSS"]
    code = run(lambda args: step6.main(args, connect=connect, load_config=world.load_config), argv)
    assert code == 2 and "names an unknown test" in capsys.readouterr().err and calls == []
