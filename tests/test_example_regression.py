"""The example's regression task: spend data, the forest regressor logged to MLflow, and the endpoint script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import joblib
import pandas as pd
import pytest

from dmm.schema import Feature, MonitoringSchema
from example import data
from example.train import build_pipeline, evaluate, train_and_log


def test_spend_data_has_the_churn_customers_and_a_positive_numeric_target():
    churn, spend = data.make_churn_data(300, seed=3), data.make_spend_data(300, seed=3)
    pd.testing.assert_frame_equal(spend[data.FEATURES], churn[data.FEATURES])
    assert data.TARGET not in spend.columns
    target = spend[data.REGRESSION_TARGET]
    assert pd.api.types.is_float_dtype(target) and (target > 0).all() and target.nunique() > 100
    pd.testing.assert_frame_equal(spend, data.make_spend_data(300, seed=3))
    assert not spend.equals(data.make_spend_data(300, seed=4))


def test_write_dataset_keeps_classification_the_default_and_writes_the_regression_task(tmp_path):
    default = data.write_dataset(tmp_path / "default", n_rows=200)
    assert data.TARGET in pd.read_csv(default["train"]).columns
    assert data.main(["--out", str(tmp_path / "spend"), "--rows", "200", "--drifted", "--task", "regression"]) == 0
    train, test, drifted = (pd.read_csv(tmp_path / "spend" / name)
                            for name in ("train.csv", "test.csv", "test_drifted.csv"))
    assert data.REGRESSION_TARGET in train.columns and data.TARGET not in train.columns
    assert (len(train), len(test)) == (140, 60)
    pd.testing.assert_series_equal(drifted[data.REGRESSION_TARGET], test[data.REGRESSION_TARGET])
    assert drifted["monthly_charges"].mean() > test["monthly_charges"].mean() * 1.2


def test_unknown_task_is_refused():
    with pytest.raises(ValueError, match="Unknown task"):
        data.make_data("ranking")


def test_evaluate_names_each_tasks_metrics():
    churn, spend = data.make_churn_data(300), data.make_spend_data(300)
    classifier = build_pipeline(5).fit(churn[data.FEATURES], churn[data.TARGET])
    regressor = build_pipeline(5, task="regression").fit(spend[data.FEATURES], spend[data.REGRESSION_TARGET])
    assert set(evaluate(classifier, churn)) == {"accuracy", "roc_auc", "f1"}
    scores = evaluate(regressor, spend, "regression")
    assert set(scores) == {"rmse", "mae", "r2"}
    assert 0 < scores["mae"] <= scores["rmse"] and scores["r2"] > 0.5  # fitted on these rows


def test_train_and_log_regression_logs_metrics_and_a_loadable_regressor(tmp_path, monkeypatch, mlflow_store):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store(tmp_path))
    data.write_dataset(tmp_path / "data", n_rows=300, task="regression")
    trained = train_and_log(tmp_path / "data", "spend-test", n_estimators=3, task="regression")
    assert set(trained.metrics) == {"rmse", "mae", "r2"}
    run = mlflow.get_run(trained.run_id)
    assert run.data.params["task"] == "regression"
    assert run.data.metrics["rmse"] == pytest.approx(trained.metrics["rmse"])
    model = mlflow.sklearn.load_model(trained.model_uri)
    assert not hasattr(model, "predict_proba")
    spend = pd.read_csv(tmp_path / "data" / "test.csv")
    assert model.predict(spend[data.FEATURES].head(3)).dtype.kind == "f"


def test_train_refuses_data_of_the_other_task(tmp_path):
    data.write_dataset(tmp_path, n_rows=100)  # classification data
    with pytest.raises(ValueError, match="--task regression"):
        train_and_log(tmp_path, "spend-test", n_estimators=2, task="regression")


def test_model_script_returns_a_regressors_number_without_probabilities(tmp_path):
    spend = data.make_spend_data(200)
    joblib.dump(build_pipeline(3, task="regression").fit(spend[data.FEATURES], spend[data.REGRESSION_TARGET]),
                tmp_path / "model.pkl")
    features = tuple(Feature(name, "categorical" if name in data.CATEGORICAL_FEATURES else "numerical",
                             str(spend[name].dtype), None) for name in data.FEATURES)
    schema = MonitoringSchema(training_set_name="spend", training_set_version=1, model_type="regression",
                              target=data.REGRESSION_TARGET, features=features, class_labels=())
    schema.save(tmp_path / "monitoring_schema.json")
    capture_dir = tmp_path / "capture"
    capture_dir.mkdir()
    row = json.loads(spend.head(1)[data.FEATURES].to_json(orient="records"))[0]
    env = {k: v for k, v in os.environ.items() if k not in ("HOSTNAME", "PREDICTION_DATA_DIRECTORY")}
    env.update(HOSTNAME="model-v1-abc", PREDICTION_DATA_DIRECTORY=str(capture_dir),
               MONITORING_SCHEMA=str(tmp_path / "monitoring_schema.json"), MODEL_PATH=str(tmp_path / "model.pkl"))
    code = textwrap.dedent(f"""
        import json
        from example.model_script import predict
        print(json.dumps(predict(**{row!r}, event_id="e-1"), allow_nan=False))
    """)
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert isinstance(result[data.REGRESSION_TARGET], float) and "prediction_probability" not in result
    record = json.loads((capture_dir / "model-v1-abc.log").read_text().splitlines()[0])
    assert record["event_id"] == "e-1"
    assert record["predictions"] == {data.REGRESSION_TARGET: pytest.approx(result[data.REGRESSION_TARGET])}
    assert record["prediction_probability"] is None
