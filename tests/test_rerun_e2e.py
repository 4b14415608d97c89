"""Issue 9, end to end against the sandbox: reruns register nothing new and say so; changed training data makes a
new version that step 1 says the monitor does not use yet, and step 6 reports the mismatch."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from example.demo import Demo

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo(start_demo):
    with start_demo("rerun", reuse_export=True) as demo:  # the session's trained example model (tests/demos.py)
        demo.full_path(count=30)
        yield demo


def versions(demo: Demo) -> list[str]:
    state = json.loads((demo.sandbox.state_dir / "state.json").read_text())
    return sorted(state["training_sets"][demo.setup.training_set_name]["versions"])


def step1(demo: Demo, file) -> tuple[int, str]:
    run = demo.run("step 1 again", [demo.script("1_register_training_set.py"), "--file", file, "--name",
                                    demo.setup.training_set_name, "--target", demo.target, "--yes"], check=False)
    return run.returncode, run.stdout + run.stderr


def test_reruns_register_nothing_twice_and_changed_data_is_reported(demo):
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
    assert len(labels) == 40  # every label of both runs, each registered once

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
