"""End to end for a regression model: the numbered scripts against a real sandbox, with the example spend regressor."""

from __future__ import annotations

import csv
import json
import math

import pandas as pd
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from dmm.model_api import ModelApiClient
from example.data import FEATURES, REGRESSION_TARGET
from example.demo import Demo

pytestmark = pytest.mark.e2e

GT_COLUMN = f"{REGRESSION_TARGET}_gt"
REGRESSION_METRICS = {"mse", "mae", "mape", "r2", "gini_norm"}


@pytest.fixture(scope="module")
def demo(start_demo):
    """One complete regression set-up (steps 1-6) on a sandbox of its own, shared by the tests of this module."""
    with start_demo("e2e_regression", task="regression") as demo:
        demo.full_path(count=40)
        yield demo


@pytest.fixture(scope="module")
def report(demo) -> dict:
    return json.loads((demo.work_dir / "monitoring_report.json").read_text())


def ground_truth_rows(demo: Demo) -> list[dict[str, str]]:
    files = demo.ground_truth_files()
    assert len(files) == 1, files
    with open(files[0], newline="") as handle:
        return list(csv.DictReader(handle))


def captured_predictions(demo: Demo) -> dict[str, float]:
    """event_id -> the prediction the endpoint captured, read from the sandbox's capture logs."""
    records = demo.captured_records()
    assert records
    return {record["event_id"]: record["predictions"][REGRESSION_TARGET] for record in records}


def test_step1_registered_a_regression_schema(demo):
    schema = json.loads((demo.work_dir / "monitoring_schema.json").read_text())
    assert schema["model_type"] == "regression"
    assert schema["target"]["name"] == REGRESSION_TARGET
    assert not schema["target"].get("class_labels")


def test_every_step6_check_passes(demo, report):
    statuses = {check["name"]: check["status"] for check in report["checks"]}
    assert statuses and all(status in ("PASS", "WARN") for status in statuses.values()), statuses
    assert "FAIL" not in demo.runs[-1].stdout


def test_step6_quality_holds_regression_metrics_over_matched_rows(report):
    quality = report["quality"]
    assert quality["model_type"] == "regression"
    assert quality["matched_rows"] == 40
    assert quality["label_column"] == GT_COLUMN and quality["prediction_column"] == REGRESSION_TARGET
    values = {metric["name"]: metric["value"] for metric in quality["metrics"]}
    assert set(values) == REGRESSION_METRICS
    assert all(isinstance(value, (int, float)) and math.isfinite(value) for value in values.values()), values
    assert quality["confusion_matrix"] is None


def test_step6_metrics_agree_with_the_captured_predictions_and_the_labels(demo, report):
    """Recomputed here from the raw files: the join, the numeric types and the metrics all line up."""
    predicted = captured_predictions(demo)
    labelled = [(float(row[GT_COLUMN]), predicted[row["event_id"]]) for row in ground_truth_rows(demo)]
    truth, prediction = [t for t, _ in labelled], [p for _, p in labelled]
    values = {metric["name"]: metric["value"] for metric in report["quality"]["metrics"]}
    assert values["mse"] == pytest.approx(mean_squared_error(truth, prediction), rel=1e-6)
    assert values["mae"] == pytest.approx(mean_absolute_error(truth, prediction), rel=1e-6)
    assert values["r2"] == pytest.approx(r2_score(truth, prediction), rel=1e-6)


def test_ground_truth_csv_holds_numbers_under_the_gt_column(demo):
    rows = ground_truth_rows(demo)
    assert len(rows) == 40
    assert list(rows[0])[:2] == ["event_id", GT_COLUMN]
    labels = [float(row[GT_COLUMN]) for row in rows]  # raises on a non-number
    assert all(math.isfinite(label) and label > 0 for label in labels)
    assert len(set(labels)) > 1


def test_endpoint_returns_a_number_and_no_probabilities(demo):
    first_row = pd.read_csv(demo.data_dir / "test.csv").head(1)[FEATURES]
    data = json.loads(first_row.to_json(orient="records"))[0]
    client = ModelApiClient(demo.deployment["endpointUrl"], demo.deployment["accessToken"])
    try:
        result = client.predict(data).result
    finally:
        client.close()
    assert isinstance(result[REGRESSION_TARGET], float) and math.isfinite(result[REGRESSION_TARGET])
    assert "prediction_probability" not in result
    captured = captured_predictions(demo)
    assert captured[result["event_id"]] == pytest.approx(result[REGRESSION_TARGET])


def test_monitor_declares_numerical_prediction_and_ground_truth(demo):
    variables = {v["name"]: v for v in demo.monitor.variables(demo.dmm_model_id)}
    assert variables[REGRESSION_TARGET]["variableType"] == "prediction"
    assert variables[REGRESSION_TARGET]["valueType"] == "numerical"
    assert variables[GT_COLUMN]["variableType"] == "ground_truth"
    assert variables[GT_COLUMN]["valueType"] == "numerical"
    assert variables[GT_COLUMN]["forPredictionOutput"] == REGRESSION_TARGET


def test_sandbox_monitor_answers_regression_quality(demo, report):
    answer = demo.monitor.analyze_model_quality(demo.dmm_model_id, {})
    assert answer["matchedRowCount"] == 40
    by_key = {metric["key"]: metric["value"] for metric in answer["metrics"]}
    assert set(by_key) == REGRESSION_METRICS
    assert answer["confusionMatrix"] is None
    step6 = {metric["name"]: metric["value"] for metric in report["quality"]["metrics"]}
    assert by_key == pytest.approx(step6, rel=1e-6)
