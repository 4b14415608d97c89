"""dmm.mlflow_export and 2_export_model.py against a real sqlite MLflow store in tmp_path, with the example model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import joblib
import pandas as pd
import pytest

from dmm.cli import run
from dmm.errors import UsageError
from example.data import FEATURES, TARGET, write_dataset
from sandbox.testing import load_script

ROOT = Path(__file__).resolve().parent.parent
step2 = load_script("2_export_model")


@pytest.fixture(scope="module")
def store(tmp_path_factory, mlflow_store):
    """Two runs of the example model (different forests) and one registered version with an alias."""
    folder = tmp_path_factory.mktemp("mlflow")
    patch = pytest.MonkeyPatch()
    patch.setenv("MLFLOW_TRACKING_URI", mlflow_store(folder))
    patch.setenv("TMPDIR", str(folder))
    patch.chdir(folder)  # sqlite stores put artifacts under ./mlruns
    import tempfile

    tempfile.tempdir = None
    from mlflow import MlflowClient

    from example.train import train_and_log

    data = write_dataset(folder / "data", n_rows=600)
    runs = [train_and_log(folder / "data", "churn", n_estimators=trees, seed=seed)
            for trees, seed in ((5, 1), (15, 2))]
    registered = train_and_log(folder / "data", "churn", n_estimators=3, seed=3, registered_model_name="churn-model")
    MlflowClient().set_registered_model_alias("churn-model", "champion", "1")
    yield {"folder": folder, "runs": runs + [registered], "registered": registered, "test": data["test"]}
    patch.undo()
    tempfile.tempdir = None


def by_metric(store, metric, pick):
    return pick(store["runs"], key=lambda r: r.metrics[metric])


def test_best_run_by_metric_max_and_min_exports_a_working_pickle(store, tmp_path, capsys):
    for mode, pick in (("max", max), ("min", min)):
        out = tmp_path / mode
        code = run(step2.main, ["--experiment", "churn", "--metric", "roc_auc", "--mode", mode,
                                "--output-dir", str(out)])
        assert code == 0, capsys.readouterr().err
        expected = by_metric(store, "roc_auc", pick)
        manifest = json.loads((out / "model_manifest.json").read_text())
        assert manifest["run_id"] == expected.run_id
        assert manifest["metric"] == {"name": "roc_auc", "value": expected.metrics["roc_auc"], "mode": mode}
        assert manifest["experiment"]["name"] == "churn" and manifest["flavour"] == "sklearn"
        # MLflow 3 addresses a logged model as models:/<model id>; MLflow 2 (the floor lock) by its run's artifacts
        assert manifest["model_uri"] == expected.model_uri and manifest["model_uri"].startswith(("models:/", "runs:/"))
        assert set(manifest["libraries"]) >= {"python", "mlflow", "scikit-learn"}
        assert manifest["exported_at"].endswith("Z")
        model = joblib.load(out / "model.pkl")
        test = pd.read_csv(store["test"])
        assert set(model.predict(test[FEATURES])) <= {"no", "yes"}
    assert json.loads((tmp_path / "max" / "model_manifest.json").read_text())["run_id"] != \
        json.loads((tmp_path / "min" / "model_manifest.json").read_text())["run_id"]


def test_by_run_id(store, tmp_path):
    wanted = store["runs"][0]
    assert run(step2.main, ["--run-id", wanted.run_id, "--output-dir", str(tmp_path)]) == 0
    manifest = json.loads((tmp_path / "model_manifest.json").read_text())
    assert manifest["run_id"] == wanted.run_id and manifest["selected_by"] == "run-id"
    assert manifest["metric"] is None and manifest["run_metrics"]["accuracy"] == wanted.metrics["accuracy"]
    assert hasattr(joblib.load(tmp_path / "model.pkl"), "predict_proba")


@pytest.mark.parametrize("flags", [["--version", "1"], ["--alias", "champion"]])
def test_by_registered_version_and_alias(store, tmp_path, flags):
    assert run(step2.main, ["--model-name", "churn-model", *flags, "--output-dir", str(tmp_path)]) == 0
    manifest = json.loads((tmp_path / "model_manifest.json").read_text())
    assert manifest["run_id"] == store["registered"].run_id
    assert manifest["model_uri"] == "models:/churn-model/1"
    assert manifest["registered_model"]["version"] == "1"
    test = pd.read_csv(store["test"]).head(5)
    assert len(joblib.load(tmp_path / "model.pkl").predict_proba(test[FEATURES])) == 5


def test_mlflow2_style_run_artifacts_are_found(store, tmp_path):
    """A model saved as plain run artifacts (no MLflow 3 logged model) is found by its MLmodel file."""
    import mlflow
    import mlflow.sklearn

    from example.train import SKOPS_TRUSTED_TYPES, build_pipeline

    train = pd.read_csv(store["folder"] / "data" / "train.csv")
    model = build_pipeline(3, 0).fit(train[FEATURES], train[TARGET])
    saved = tmp_path / "saved"
    mlflow3 = int(mlflow.__version__.split(".")[0]) >= 3
    extra = {"skops_trusted_types": SKOPS_TRUSTED_TYPES} if mlflow3 else {}  # MLflow 2 pickles the model
    mlflow.sklearn.save_model(model, saved, pip_requirements=["scikit-learn"], **extra)
    mlflow.set_experiment("legacy")
    with mlflow.start_run() as legacy:
        mlflow.log_artifacts(str(saved), artifact_path="nested/my_model")
    from dmm.mlflow_export import choose_model

    choice = choose_model(run_id=legacy.info.run_id)
    assert choice.model_uri == f"runs:/{legacy.info.run_id}/nested/my_model"
    assert choice.flavour == "sklearn"


def test_dry_run_writes_nothing(store, tmp_path, capsys):
    assert run(step2.main, ["--experiment", "churn", "--metric", "accuracy", "--dry-run",
                            "--output-dir", str(tmp_path / "out")]) == 0
    assert "Dry run: nothing was written" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, expected", [
    (["--experiment", "nope", "--metric", "roc_auc"], "No MLflow experiment named 'nope' (experiments: "),
    (["--experiment", "churn", "--metric", "precision"], "metrics logged: accuracy, f1, roc_auc"),
    (["--run-id", "0123456789abcdef"], "No MLflow run with id '0123456789abcdef'"),
    (["--model-name", "churn-model", "--version", "9"], "has no version 9 (versions: 1; aliases: champion)"),
    (["--model-name", "churn-model", "--alias", "prod"], "has no alias 'prod'"),
    (["--model-name", "nope", "--version", "1"], "registered models: churn-model"),
    (["--model-name", "churn-model"], "needs either --version or --alias"),
    (["--run-id", "x", "--experiment", "churn"], "Name the model one way"),
    (["--experiment", "churn"], "--experiment and --metric go together"),
])
def test_errors_name_what_exists(store, tmp_path, capsys, argv, expected):
    code = run(step2.main, [*argv, "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_run_without_model_is_explained(store, tmp_path):
    import mlflow

    mlflow.set_experiment("empty-runs")
    with mlflow.start_run() as bare:
        mlflow.log_metric("accuracy", 0.5)
    from dmm.mlflow_export import choose_model

    with pytest.raises(UsageError, match="has no logged model"):
        choose_model(run_id=bare.info.run_id)


def test_help_lists_the_three_ways():
    result = subprocess.run([sys.executable, str(ROOT / "2_export_model.py"), "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    for flag in ("--run-id", "--experiment", "--metric", "--mode", "--model-name", "--version", "--alias",
                 "--output-dir", "--dry-run"):
        assert flag in result.stdout


def test_skops_refuses_exactly_the_trusted_types():
    skops_io = pytest.importorskip("skops.io", reason="MLflow 2 (the floor lock) saves models without skops")

    from example.data import make_churn_data
    from example.train import SKOPS_TRUSTED_TYPES, build_pipeline

    frame = make_churn_data(200)
    model = build_pipeline(3, 0).fit(frame[FEATURES], frame[TARGET])
    assert sorted(skops_io.get_untrusted_types(data=skops_io.dumps(model))) == sorted(SKOPS_TRUSTED_TYPES)


def test_best_run_without_a_model_names_the_best_run_with_one(store, tmp_path, capsys):
    """Step 2: the run with the best metric logged no model (a tuning run): the error says so and gives --run-id."""
    import mlflow

    mlflow.set_experiment("churn")
    with mlflow.start_run() as bare:
        mlflow.log_metric("roc_auc", 0.999)  # better than every trained run, but no model
    code = run(step2.main, ["--experiment", "churn", "--metric", "roc_auc", "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    best_with_model = by_metric(store, "roc_auc", max)
    assert code == 2 and len(err.splitlines()) == 1
    assert f"The best run of experiment 'churn' by 'roc_auc' ({bare.info.run_id}, roc_auc=0.999) logged no model" in err
    assert f"pass --run-id {best_with_model.run_id}" in err and "MLFLOW_TRACKING_URI" not in err
    assert list(tmp_path.iterdir()) == []
    mlflow.delete_run(bare.info.run_id)  # the module's other tests pick the best run of "churn"
