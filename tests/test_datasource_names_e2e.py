"""The whole path with Domino's data source and Model Monitor's carrying different names, and Domino's data source
keeping its keys under a subfolder of the bucket: step 5 registers the bucket-relative path under Model Monitor's
name, and the sandbox's Model Monitor reads only that (a key relative to the Domino data source is not found)."""

from __future__ import annotations

import json

import pytest

from dmm.errors import DmmError

pytestmark = pytest.mark.e2e

MONITOR_NAME = "se-monitoring-ground-truth"
SUBFOLDER = "teams/churn"


def test_different_names_and_a_subfolder_run_end_to_end(start_demo):
    with start_demo("names", reuse_export=True) as demo:
        demo.monitor_datasource, demo.subfolder = MONITOR_NAME, SUBFOLDER
        demo.full_path(count=30)
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
