"""Step 2's --wrap-capture and the template's CapturingModel (issue 10 §4): the flags are checked before MLflow is
contacted; the wrapped, registered model answers rows holding the event_id it captured with, and its signature is
the training columns' types plus an optional event_id."""

from __future__ import annotations

import pandas as pd
import pytest

import prediction_capture_example as template
from dmm.cli import run
from dmm.errors import UsageError
from dmm.mlflow_wrap import check_wrap
from dmm.training_set import plan_training_set, schema_from_plan
from example.data import FEATURES, TARGET, write_dataset
from sandbox.testing import load_script

step2 = load_script("2_export_model")


def test_schema_without_wrap_capture_is_a_conflict(tmp_path):
    with pytest.raises(UsageError) as caught:
        check_wrap(None, str(tmp_path / "s.json"))
    assert caught.value.code == "flag-conflict"
    assert check_wrap(None, None) is None


@pytest.mark.parametrize("name", ["", "a/b", "models:/x"])
def test_a_bad_registered_name_is_refused(name, tmp_path):
    with pytest.raises(UsageError) as caught:
        check_wrap(name, str(tmp_path / "s.json"))
    assert caught.value.code == "flag-invalid"


def test_a_missing_schema_stops_step2_before_mlflow(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # never reached
    code = run(step2.main, ["--run-id", "abc", "--wrap-capture", "churn-model", "--schema", str(tmp_path / "no.json"),
                            "--output-dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "no.json" in err and "Traceback" not in err


def test_signature_types_follow_the_training_columns():
    def kind(value_type, dtype):
        return template._signature_type({"name": "x", "value_type": value_type, "dtype": dtype})

    assert kind("numerical", "int64") == "long"
    assert kind("numerical", "float64") == "double"
    assert kind("categorical", "bool") == "long"
    assert kind("categorical", "object") == "string"
    assert kind("numerical", "") == "double"


@pytest.fixture(scope="module")
def registered(tmp_path_factory, mlflow_store):
    """The example model in a sqlite store, wrapped and registered by step 2 --wrap-capture."""
    folder = tmp_path_factory.mktemp("wrap")
    patch = pytest.MonkeyPatch()
    patch.setenv("MLFLOW_TRACKING_URI", mlflow_store(folder))
    patch.chdir(folder)
    from example.train import train_and_log

    data = write_dataset(folder / "data", n_rows=400)
    train_and_log(folder / "data", "churn", n_estimators=3, seed=3)
    train = pd.read_csv(data["train"])
    schema = schema_from_plan(plan_training_set(train, "churn-baseline", TARGET), 1)
    schema.save(folder / "monitoring_schema.json")
    code = run(step2.main, ["--experiment", "churn", "--metric", "roc_auc", "--output-dir", str(folder),
                            "--wrap-capture", "churn-wrapped", "--schema", str(folder / "monitoring_schema.json")])
    assert code == 0
    yield {"folder": folder, "test": pd.read_csv(data["test"])}
    patch.undo()


def test_the_wrapped_model_answers_rows_with_the_event_id(registered):
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model("models:/churn-wrapped/1")
    inputs = {column.name: column.required for column in model.metadata.get_input_schema().inputs}
    assert list(inputs) == [*FEATURES, "event_id"] and inputs["event_id"] is False
    frame = registered["test"][FEATURES].head(3).copy()
    frame["event_id"] = ["a", "b", "c"]
    rows = model.predict(frame)
    assert list(rows["event_id"]) == ["a", "b", "c"]
    assert set(rows[TARGET]) <= {"no", "yes"}
    assert all(abs(sum(p) - 1) < 1e-6 for p in rows["prediction_probability"])
    without = model.predict(registered["test"][FEATURES].head(2))  # no event_id sent: the wrapper makes one
    assert without["event_id"].str.len().min() > 0 and without["event_id"].nunique() == 2


def test_a_retry_reuses_the_version_that_wraps_the_same_model(registered, capsys):
    """Step 2 --wrap-capture again (a retry): the version whose run wraps the same model URI with the same schema is
    reused and said so; a changed schema is a new version."""
    from mlflow import MlflowClient

    folder = registered["folder"]
    arguments = ["--experiment", "churn", "--metric", "roc_auc", "--output-dir", str(folder),
                 "--wrap-capture", "churn-wrapped", "--schema", str(folder / "monitoring_schema.json")]
    capsys.readouterr()
    assert run(step2.main, arguments) == 0
    assert "reused it, nothing new registered" in capsys.readouterr().out
    assert [str(v.version) for v in MlflowClient().search_model_versions("name='churn-wrapped'")] == ["1"]

    changed = folder / "changed_schema.json"
    changed.write_text((folder / "monitoring_schema.json").read_text().replace("churn-baseline", "churn-other"))
    assert run(step2.main, [*arguments[:-1], str(changed)]) == 0
    assert "Wrapped with prediction capture: models:/churn-wrapped/2" in capsys.readouterr().out
