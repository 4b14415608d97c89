"""End to end on the sandbox, one demo for four concerns (each full path costs ~10 s of CPU):
- Domino's data source and Model Monitor's carry different names, and Domino's data source keeps its keys under a
  subfolder of the bucket: step 5 registers the bucket-relative path under Model Monitor's name, and the sandbox's
  Model Monitor reads only that (a key relative to the Domino data source is not found);
- the probes of steps 3 and 6 are captured like any prediction (as in Domino), and step 6 counts what step 4 sent,
  with the probes apart;
- a Job-style run of step 6 exits by ``--fail-on`` (it writes the report again);
- issue 9's reruns (last: they add traffic and a training set version): they register nothing new and say so;
  changed training data makes a new version that step 1 says the monitor does not use yet, and step 6 reports the
  mismatch."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from dmm.checks.probes import PROBE_EVENT_PREFIX
from dmm.errors import DmmError
from example.demo import Demo

pytestmark = [pytest.mark.e2e]

SENT = 40
MONITOR_NAME = "se-monitoring-ground-truth"
SUBFOLDER = "teams/churn"


@pytest.fixture(scope="module")
def drifted(start_demo):
    """Steps 1-4 with drifted traffic, ingestion, step 5 and step 6 (no flags), as ``make demo`` runs them, with
    Model Monitor's name for the bucket and the subfolder of Domino's data source set."""
    with start_demo("probes", reuse_export=True) as demo:
        demo.monitor_datasource, demo.subfolder = MONITOR_NAME, SUBFOLDER
        demo.path_to_traffic(count=SENT, drifted=True)
        demo.ingest()
        demo.upload_ground_truth()
        demo.check_monitoring()
        yield demo


def test_different_names_and_a_subfolder_run_end_to_end(drifted):
    demo = drifted
    model = demo.monitor.get_model(demo.dmm_model_id)
    dataset = model["groundTruthDatasets"][0]
    with pytest.raises(DmmError, match="not found"):  # the key as the Domino data source knows it
        key = dataset["path"][len(SUBFOLDER) + 1:]
        demo.monitor.register_dataset(demo.dmm_model_id, "ground_truth", {"datasetDetails": {
            "name": "relative-to-the-domino-data-source", "datasetType": "file",
            "datasetConfig": {"path": key, "fileFormat": "csv"}, "datasourceName": MONITOR_NAME,
            "datasourceType": "s3"}})

    assert dataset["path"].startswith(f"{SUBFOLDER}/ground_truth/") and model["groundTruthRowCount"] > 0
    config = json.loads((demo.work_dir / "monitoring_config.json").read_text())
    assert config["data_sources"]["model_monitor_name"] == MONITOR_NAME
    step5 = next(r for r in demo.runs if r.name == "step 5")
    assert f"under the subfolder {SUBFOLDER}/ of its bucket" in step5.stdout
    report = json.loads((demo.work_dir / "monitoring_report.json").read_text())
    source = next(c for c in report["checks"] if c["name"] == "data source")
    assert source["status"] == "PASS" and f"'{MONITOR_NAME}' in Model Monitor" in source["detail"]
    step3 = next(r for r in demo.runs if r.name == "step 3")  # issue 8: each service says whether it worked
    assert "Access: Model Monitor accepted the user API key from $DOMINO_USER_API_KEY; custom metrics accepted" \
        in step3.stdout
    access = next(c for c in report["checks"] if c["name"] == "api key")
    assert access["status"] == "PASS" and "custom metrics accepted the user API key" in access["detail"]
    assert access["facts"]["access"] == {"Model Monitor": "accepted", "custom metrics": "accepted"}
    assert all(c["status"] != "FAIL" for c in report["checks"]), [c for c in report["checks"] if c["status"] == "FAIL"]


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
    out = next(run for run in drifted.runs if run.name == "step 6").stdout  # the fixture's own
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


def versions(demo: Demo) -> list[str]:
    state = json.loads((demo.sandbox.state_dir / "state.json").read_text())
    return sorted(state["training_sets"][demo.setup.training_set_name]["versions"])


def step1(demo: Demo, file) -> tuple[int, str]:
    run = demo.run("step 1 again", [demo.script("1_register_training_set.py"), "--file", file, "--name",
                                    demo.setup.training_set_name, "--target", demo.target, "--yes"], check=False)
    return run.returncode, run.stdout + run.stderr


def test_reruns_register_nothing_twice_and_changed_data_is_reported(drifted):
    demo = drifted
    before = versions(demo)
    code, out = step1(demo, demo.data_dir / "train.csv")
    assert code == 0 and "nothing new was registered" in out, out
    assert versions(demo) == before

    again = demo.upload_ground_truth()
    assert "Nothing to do" in again.stdout
    demo.generate_predictions(10)
    demo.ingest()
    demo.upload_ground_truth()
    assert "Nothing to do" in demo.upload_ground_truth().stdout
    ledger = json.loads((demo.work_dir / "monitoring_ledger.json").read_text())
    labels = ledger["labels"][demo.dmm_model_id]
    assert len(labels) == SENT + 10  # every label of both runs, each registered once

    changed = demo.data_dir / "train_changed.csv"
    pd.read_csv(demo.data_dir / "train.csv").iloc[:-5].to_csv(changed, index=False)
    code, out = step1(demo, changed)
    assert code == 0 and f"still uses version {before[-1]}" in out, out
    assert len(versions(demo)) == len(before) + 1
    schema = json.loads((demo.work_dir / "monitoring_schema.json").read_text())
    assert schema["training_set"]["monitor"]["version"] == int(before[-1])

    six = demo.check_monitoring(check=False)
    assert six.returncode == 1
    assert f"version {before[-1]}" in six.stdout and "FAIL" in six.stdout
