"""Train the example model and log it to MLflow (honours MLFLOW_TRACKING_URI).

``python -m example.train --data-dir DIR --experiment NAME [--task regression]`` reads DIR/train.csv (and
DIR/test.csv for the metrics; see ``python -m example.data``), fits a scikit-learn Pipeline (one-hot encoding of
the categorical columns, then a small random forest) that takes a DataFrame of the raw feature columns, logs
parameters, metrics (classification: accuracy, roc_auc, f1; regression: rmse, mae, r2) and the model, and prints
the run id.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dmm.cli import run
from dmm.errors import UsageError
from example.data import CATEGORICAL_FEATURES, FEATURES, TARGET, TARGETS, TASKS

POSITIVE_CLASS = "yes"
MODEL_NAME = "model"
MAX_DEPTH = 8
# What skops refuses to load from this Pipeline (checked with skops.io.get_untrusted_types): the forest's trees.
SKOPS_TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]


class TrainingDataError(UsageError, ValueError):
    """The data cannot train the asked-for model (a ValueError too, for callers of ``train_and_log``)."""


@dataclass(frozen=True)
class TrainedRun:
    run_id: str
    experiment_id: str
    model_uri: str
    metrics: dict[str, float]


def build_pipeline(n_estimators: int = 25, seed: int = 42, task: str = "classification"):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    encode = ColumnTransformer(
        [("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL_FEATURES)],
        remainder="passthrough", verbose_feature_names_out=False)
    forest_class = RandomForestRegressor if task == "regression" else RandomForestClassifier
    forest = forest_class(n_estimators=n_estimators, max_depth=MAX_DEPTH, random_state=seed, n_jobs=1)
    return Pipeline([("encode", encode), ("forest", forest)])


def evaluate_regression(model, frame: pd.DataFrame) -> dict[str, float]:
    # root_mean_squared_error is scikit-learn >= 1.4; the floor (requirements-floor.txt) is 1.3
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    truth = frame[TARGETS["regression"]]
    predicted = model.predict(frame[FEATURES])
    return {
        "rmse": float(mean_squared_error(truth, predicted) ** 0.5),
        "mae": float(mean_absolute_error(truth, predicted)),
        "r2": float(r2_score(truth, predicted)),
    }


def evaluate_classification(model, frame: pd.DataFrame) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    truth = frame[TARGET]
    predicted = model.predict(frame[FEATURES])
    positive = list(model.classes_).index(POSITIVE_CLASS)
    scores = model.predict_proba(frame[FEATURES])[:, positive]
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "roc_auc": float(roc_auc_score(truth == POSITIVE_CLASS, scores)),
        "f1": float(f1_score(truth, predicted, pos_label=POSITIVE_CLASS)),
    }


def evaluate(model, frame: pd.DataFrame, task: str = "classification") -> dict[str, float]:
    return evaluate_regression(model, frame) if task == "regression" else evaluate_classification(model, frame)


def pip_requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    pins = [f"scikit-learn=={version('scikit-learn')}", f"pandas=={version('pandas')}", f"numpy=={version('numpy')}"]
    try:  # MLflow 3 saves scikit-learn models with skops; MLflow 2 (the floor lock) pickles them and has no skops
        pins.append(f"skops=={version('skops')}")
    except PackageNotFoundError:
        pass
    return pins


def log_model_arguments(log_model, **arguments) -> dict:
    """``mlflow.sklearn.log_model``'s arguments for the installed MLflow: 3.x names the model ``name`` (2.x:
    ``artifact_path``) and takes ``skops_trusted_types``, which 2.x does not know."""
    import inspect

    accepted = inspect.signature(log_model).parameters
    if "name" not in accepted:
        arguments["artifact_path"] = arguments.pop("name")
    if "skops_trusted_types" not in accepted:
        arguments.pop("skops_trusted_types", None)
    return arguments


def ensure_experiment(name: str) -> str:
    """The experiment's id, creating it when missing; with a sqlite store its artifacts go next to the database
    (``mlartifacts/``) rather than into ``./mlruns`` of whatever folder the command runs in."""
    import mlflow

    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    uri = mlflow.get_tracking_uri()
    location = None
    if uri.startswith("sqlite:///"):
        location = (Path(uri[len("sqlite:///"):]).resolve().parent / "mlartifacts").as_uri()
    return mlflow.create_experiment(name, artifact_location=location)


def train_and_log(data_dir: str | Path, experiment: str, n_estimators: int = 25, seed: int = 42,
                  registered_model_name: str | None = None, task: str = "classification") -> TrainedRun:
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    if task not in TASKS:
        raise TrainingDataError(f"Unknown task {task!r}", f"Use one of {', '.join(TASKS)}")
    data_dir = Path(data_dir)
    train_path, test_path = data_dir / "train.csv", data_dir / "test.csv"
    if not train_path.is_file():
        raise TrainingDataError(f"{train_path} does not exist",
                                f"Write the data with `python -m example.data --out {data_dir} --task {task}`")
    train = pd.read_csv(train_path)
    if TARGETS[task] not in train.columns:
        raise TrainingDataError(f"{train_path} has no column {TARGETS[task]!r} for a {task} model",
                                f"Write the data with `python -m example.data --task {task}`")
    test = pd.read_csv(test_path) if test_path.is_file() else train
    model = build_pipeline(n_estimators, seed, task).fit(train[FEATURES], train[TARGETS[task]])
    metrics = evaluate(model, test, task)
    sample = train[FEATURES].head(20)

    experiment_id = ensure_experiment(experiment)
    with mlflow.start_run(experiment_id=experiment_id) as mlflow_run:
        mlflow.log_params({"task": task, "n_estimators": n_estimators, "max_depth": MAX_DEPTH, "seed": seed,
                           "features": len(FEATURES), "train_rows": len(train)})
        mlflow.log_metrics(metrics)
        info = mlflow.sklearn.log_model(model, **log_model_arguments(
            mlflow.sklearn.log_model, name=MODEL_NAME, signature=infer_signature(sample, model.predict(sample)),
            pip_requirements=pip_requirements(), skops_trusted_types=SKOPS_TRUSTED_TYPES,
            registered_model_name=registered_model_name))
    return TrainedRun(run_id=mlflow_run.info.run_id, experiment_id=experiment_id, model_uri=info.model_uri,
                      metrics=metrics)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m example.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, metavar="DIR", help="folder holding train.csv (and test.csv)")
    parser.add_argument("--experiment", required=True, help="MLflow experiment name (created when missing)")
    parser.add_argument("--trees", type=int, default=25, help="number of trees (default 25)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--register", metavar="MODEL_NAME", help="also register the model under this name")
    parser.add_argument("--task", choices=TASKS, default="classification",
                        help="classification (a forest classifier, the default) or regression (a forest regressor); "
                             "match the task the data was written for")
    args = parser.parse_args(argv)
    if args.trees < 1:
        raise UsageError(f"--trees must be at least 1 (got {args.trees})", "Pass --trees N with N >= 1")
    trained = train_and_log(args.data_dir, args.experiment, args.trees, args.seed, args.register, args.task)
    print(", ".join(f"{name}={value:.3f}" for name, value in trained.metrics.items()), file=sys.stderr)
    print(trained.run_id)
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
