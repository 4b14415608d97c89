"""End to end on the sandbox: the probes of steps 3 and 6 are captured like any prediction (as in Domino), and step 6
counts what step 4 sent, with the probes apart; a Job-style run of step 6 exits by ``--fail-on``."""

from __future__ import annotations

import json

import pytest

from dmm.checks.probes import PROBE_EVENT_PREFIX

pytestmark = [pytest.mark.e2e]

SENT = 40


@pytest.fixture(scope="module")
def drifted(start_demo):
    """Steps 1-4 with drifted traffic, ingestion, step 5 and step 6 (no flags), as ``make demo`` runs them."""
    with start_demo("probes", reuse_export=True) as demo:
        demo.path_to_traffic(count=SENT, drifted=True)
        demo.ingest()
        demo.upload_ground_truth()
        demo.check_monitoring()
        yield demo


def test_step6_counts_what_step4_sent_and_reports_the_probes_apart(drifted):
    captured = [record["event_id"] for record in drifted.captured_records()]
    # step 3's probe (ingested with step 4's traffic) and step 6's own (captured after the ingestion)
    assert len([i for i in captured if i.startswith(PROBE_EVENT_PREFIX)]) == 2
    assert len(captured) == SENT + 2
    report = json.loads((drifted.work_dir / "monitoring_report.json").read_text())
    predictions = next(c for c in report["checks"] if c["name"] == "predictions ingested")
    assert predictions["facts"]["rows"] == SENT and predictions["facts"]["probe_rows"] == 1
    assert predictions["facts"]["monitor_rows"] == SENT + 1  # Model Monitor counts the probe as a prediction
    assert report["drift"]["production_rows"] == SENT and report["drift"]["probe_rows"] == 1
    assert report["probes"]["sent"] and report["probes"]["event_id"].startswith(PROBE_EVENT_PREFIX)
    out = drifted.runs[-1].stdout
    assert f"{SENT} predictions (and 1 probe prediction(s)" in out
    assert f"over {SENT} prediction(s) (1 probe prediction(s) left out)" in out


def test_a_job_style_run_exits_by_fail_on(drifted):
    report = json.loads((drifted.work_dir / "monitoring_report.json").read_text())
    assert report["passed"] and report["drift"]["failing_columns"], "drifted traffic, passing checks"
    job = drifted.run("step 6 as a Job", [drifted.script("6_check_monitoring.py"), "--output-dir", drifted.work_dir,
                                          "--no-probe", "--fail-on", "drift"], check=False)
    assert job.returncode == 1, job.stdout + job.stderr
    assert "--fail-on drift: exit 1 because" in job.stdout and "skipped by --no-probe" in job.stdout
    assert "\r" not in job.stderr
    assert "Reading captured predictions: " in job.stderr  # the pass's progress, as plain lines off a terminal
    captured = [record["event_id"] for record in drifted.captured_records()]
    assert len([i for i in captured if i.startswith(PROBE_EVENT_PREFIX)]) == 2  # --no-probe sent nothing
