"""The capture template: plain-Python conversion, names from the schema, event ids, and capture that never fails
a prediction. Real capture runs in subprocesses because domino_data_capture's logger is a process singleton."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import prediction_capture_example as template
from dmm.schema import Feature, MonitoringSchema

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def churn_schema() -> MonitoringSchema:
    return MonitoringSchema(training_set_name="churn", training_set_version=1, model_type="classification",
                            target="churned",
                            features=(Feature("age", "numerical", "int64", 40),
                                      Feature("plan", "categorical", "str", "basic"),
                                      Feature("score", "numerical", "float64", 0.5)),
                            class_labels=("no", "yes"))


@pytest.fixture
def schema_file(tmp_path: Path) -> Path:
    return churn_schema().save(tmp_path / "monitoring_schema.json")


class RecordingClient:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def capturePrediction(self, feature_values, prediction_values, **kwargs):  # noqa: N802 - the library's name
        self.calls.append({"features": feature_values, "predictions": prediction_values, **kwargs})


class FailingClient:
    def capturePrediction(self, *args, **kwargs):  # noqa: N802
        raise TypeError("Object of type int64 is not JSON serializable")


def monitored_with(client, schema_file: Path) -> template.MonitoredModel:
    monitored = template.MonitoredModel.from_schema_file(schema_file)
    monitored._client = client
    return monitored


def strict_json(text: str):
    def refuse(constant):
        raise ValueError(f"non-standard JSON constant {constant}")
    return json.loads(text, parse_constant=refuse)


def test_to_jsonable_unwraps_numpy_and_pandas_values_and_drops_non_finite():
    value = {"i": np.int64(7), "f": np.float32(1.5), "b": np.bool_(True), "nan": float("nan"),
             "nan32": np.float32("nan"), "inf": np.inf, "arr": np.array([[1, 2]]), "series": pd.Series([3, 4]),
             "ts": pd.Timestamp("2024-05-01T12:00:00Z"), "na": pd.NA, "nat": pd.NaT}
    converted = template.to_jsonable(value)
    assert converted == {"i": 7, "f": 1.5, "b": True, "nan": None, "nan32": None, "inf": None, "arr": [[1, 2]],
                         "series": [3, 4], "ts": "2024-05-01T12:00:00+00:00", "na": None, "nat": None}
    assert type(converted["i"]) is int and type(converted["b"]) is bool
    json.dumps(converted, allow_nan=False)


def test_features_follow_the_schema_order_and_ignore_extra_keys(schema_file):
    monitored = monitored_with(RecordingClient(), schema_file)
    features = monitored.features_from({"score": np.float32(0.25), "extra": 1, "plan": "pro", "age": np.int64(30)})
    assert list(features) == ["age", "plan", "score"]
    assert features == {"age": 30, "plan": "pro", "score": 0.25}


def test_missing_feature_is_a_clear_value_error_and_nothing_is_captured(schema_file):
    client = RecordingClient()
    monitored = monitored_with(client, schema_file)
    with pytest.raises(ValueError, match="Missing feature.*score"):
        monitored.features_from({"age": 1, "plan": "basic"})
    with pytest.raises(ValueError, match="score"):
        monitored.capture({"age": 1, "plan": "basic"}, "yes")
    assert client.calls == []


def test_respond_converts_numpy_prediction_and_names_it_after_the_target(schema_file):
    client = RecordingClient()
    monitored = monitored_with(client, schema_file)
    features = {"age": np.int64(50), "plan": "basic", "score": float("nan")}
    result = monitored.respond(features, np.array(["yes"]), np.array([[0.3, 0.7]]), event_id="ev-42")
    assert result["churned"] == "yes"
    assert result["prediction_probability"] == [0.3, 0.7]
    assert result["event_id"] == "ev-42"
    assert result["timestamp"].endswith("+00:00")
    call = client.calls[0]
    assert call["features"] == [50, "basic", None]
    assert call["predictions"] == ["yes"]
    assert call["event_id"] == "ev-42" and call["timestamp"] == result["timestamp"]
    assert call["prediction_probability"] == [0.3, 0.7]
    json.dumps(result, allow_nan=False)


def test_event_id_is_generated_when_the_caller_gives_none(schema_file):
    monitored = monitored_with(RecordingClient(), schema_file)
    first = monitored.capture({"age": 1, "plan": "a", "score": 0.1}, 1)
    second = monitored.capture({"age": 1, "plan": "a", "score": 0.1}, 1)
    assert uuid.UUID(first["event_id"]).version == 4
    assert first["event_id"] != second["event_id"]


def test_probabilities_are_reordered_into_the_schema_class_order(schema_file):
    monitored = monitored_with(RecordingClient(), schema_file)
    assert monitored.ordered_probabilities(np.array([0.9, 0.1]), np.array(["yes", "no"])) == [0.1, 0.9]


def test_capture_failure_is_logged_and_the_prediction_still_returned(schema_file, caplog):
    monitored = monitored_with(FailingClient(), schema_file)
    result = monitored.respond({"age": 1, "plan": "a", "score": 0.2}, "no", [0.6, 0.4], event_id="ev-1")
    assert result["churned"] == "no" and result["event_id"] == "ev-1"
    assert any("capture failed" in r.getMessage() for r in caplog.records)


def run_predict(code: str, env_extra: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("HOSTNAME", "PREDICTION_DATA_DIRECTORY")}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=60)


DEPLOYED_CALLS = """
    import json, logging
    import numpy as np
    logging.basicConfig(level=1)  # an application that configures root logging must not echo capture records
    import prediction_capture_example as t
    out = [t.predict(age=np.int64(41), plan="basic", score=np.float32(0.5)),
           t.predict(age=np.int64(7), plan=None, score=float("nan"), event_id="caller-id"),
           t.predict(age=True, plan="pro", score=np.bool_(False))]
    print(json.dumps(out, allow_nan=False))
"""


def test_deployed_mode_writes_strict_json_lines_and_nothing_to_stderr(tmp_path, schema_file):
    capture_dir = tmp_path / "capture"
    capture_dir.mkdir()
    done = run_predict(DEPLOYED_CALLS, {"HOSTNAME": "model-abc-xyz", "PREDICTION_DATA_DIRECTORY": str(capture_dir),
                                        "MONITORING_SCHEMA": str(schema_file)}, tmp_path)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    lines = (capture_dir / "model-abc-xyz.log").read_text().splitlines()
    records = [strict_json(line) for line in lines]
    assert len(records) == 3
    assert [r["event_id"] for r in records] == [r["event_id"] for r in results]
    assert records[1]["event_id"] == "caller-id"
    assert records[0]["features"] == {"age": 41, "plan": "basic", "score": 0.5}
    assert records[1]["features"] == {"age": 7, "plan": None, "score": None}
    assert set(records[0]["predictions"]) == {"churned"}
    assert records[0]["predictions"]["churned"] == results[0]["churned"]
    assert records[0]["instance_id"] == "abc"
    assert len(records[0]["prediction_probability"]) == 2
    assert "event_id" not in done.stderr and "PREDICTION" not in done.stderr


def test_bad_hostname_disables_capture_but_predictions_still_answer(tmp_path, schema_file):
    done = run_predict("""
        import json, prediction_capture_example as t
        print(json.dumps([t.predict(age=1, plan="a", score=0.5), t.predict(age=2, plan="b", score=0.5)]))
    """, {"HOSTNAME": "model", "PREDICTION_DATA_DIRECTORY": str(tmp_path), "MONITORING_SCHEMA": str(schema_file)},
        tmp_path)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert len(results) == 2 and all(r["event_id"] for r in results)
    assert done.stderr.count("capture is disabled") == 1
    assert "IndexError" in done.stderr


def test_schema_not_found_names_the_places_searched(tmp_path):
    done = run_predict("""
        import prediction_capture_example as t
        t.predict(a=1)
    """, {"MONITORING_SCHEMA": str(tmp_path / "absent.json")}, tmp_path)
    assert done.returncode != 0
    assert "monitoring_schema.json was not found" in done.stderr and "absent.json" in done.stderr


def test_toy_model_regression_returns_a_number_without_probabilities(tmp_path):
    schema = MonitoringSchema("s", 1, "regression", "price", (Feature("x", "numerical"), Feature("y", "numerical")))
    monitored = template.MonitoredModel.from_schema_file(schema.save(tmp_path / "monitoring_schema.json"))
    monitored._client = RecordingClient()
    prediction, probabilities = template.toy_model(monitored, {"x": 1.0, "y": 3.0})
    result = monitored.respond({"x": 1.0, "y": 3.0}, prediction, probabilities)
    assert result["price"] == 2.0 and "prediction_probability" not in result
    assert not math.isnan(result["price"])


def test_example_model_script_predicts_and_captures_with_a_real_pipeline(tmp_path, schema_file):
    import joblib
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    train = pd.DataFrame({"age": [20, 30, 40, 50, 60, 70], "plan": ["basic", "pro"] * 3,
                          "score": [0.1, 0.2, 0.3, 0.7, 0.8, 0.9]})
    labels = ["yes", "yes", "yes", "no", "no", "no"]
    model = make_pipeline(ColumnTransformer([
        ("num", SimpleImputer(), ["age", "score"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"])]), LogisticRegression())
    joblib.dump(model.fit(train, labels), tmp_path / "model.pkl")
    capture_dir = tmp_path / "capture"
    capture_dir.mkdir()
    done = run_predict("""
        import json
        from example.model_script import predict
        print(json.dumps([predict(age=25, plan="basic", score=None, event_id="e-1"),
                          predict(age=65, plan="pro", score=0.85)], allow_nan=False))
    """, {"HOSTNAME": "model-v1-abc", "PREDICTION_DATA_DIRECTORY": str(capture_dir),
          "MONITORING_SCHEMA": str(schema_file), "MODEL_PATH": str(tmp_path / "model.pkl")}, tmp_path)
    assert done.returncode == 0, done.stderr
    first, second = json.loads(done.stdout)
    assert first["event_id"] == "e-1" and (first["churned"], second["churned"]) == ("yes", "no")
    assert len(first["prediction_probability"]) == 2
    assert first["prediction_probability"][1] > first["prediction_probability"][0]  # schema order: no, yes
    records = [strict_json(line) for line in (capture_dir / "model-v1-abc.log").read_text().splitlines()]
    assert [r["event_id"] for r in records] == ["e-1", second["event_id"]]
    assert records[0]["features"] == {"age": 25, "plan": "basic", "score": None}
    assert records[1]["predictions"] == {"churned": "no"}


def test_running_the_template_without_a_schema_is_one_error_line_not_a_traceback(tmp_path):
    script = tmp_path / "prediction_capture_example.py"
    script.write_text((PROJECT_ROOT / "prediction_capture_example.py").read_text())
    env = {k: v for k, v in os.environ.items() if k != "MONITORING_SCHEMA"}
    done = subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("Error: monitoring_schema.json was not found") and "Traceback" not in done.stderr


REUSE_CALLS = """
    import json, sys
    import prediction_capture_example as t
    if sys.argv[-1] == "fresh":  # the library's own behaviour: a new logger manager on every capture
        t._reuse_capture_logger = lambda: None
    for i in range(3):
        t.predict(age=i, plan="basic", score=0.5, event_id=f"ev-{i}")
    from domino_data_capture import data_capture_client as library
    print(getattr(library.PredictionLoggerManager, "reused_per_file", False))
"""


def test_reusing_the_capture_logger_writes_the_same_lines(tmp_path, schema_file):
    lines = {}
    for mode in ("fresh", "reused"):
        capture_dir = tmp_path / mode
        capture_dir.mkdir()
        env = {k: v for k, v in os.environ.items() if k not in ("HOSTNAME", "PREDICTION_DATA_DIRECTORY")}
        env.update({"HOSTNAME": "model-abc-xyz", "PREDICTION_DATA_DIRECTORY": str(capture_dir),
                    "MONITORING_SCHEMA": str(schema_file)})
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(REUSE_CALLS), mode], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == str(mode == "reused")
        records = [json.loads(line) for line in (capture_dir / "model-abc-xyz.log").read_text().splitlines()]
        lines[mode] = [{k: v for k, v in r.items() if k not in ("timestamp", "__domino_timestamp")} for r in records]
    assert len(lines["reused"]) == 3
    assert lines["reused"] == lines["fresh"]


BAD_SCHEMAS = {
    "truncated": lambda good: good[: len(good) // 2],
    "not-a-schema": lambda good: json.dumps({"hello": "world"}),
    "a-list": lambda good: json.dumps([1, 2, 3]),
    "feature-without-name": lambda good: good.replace('"name": "age"', '"nom": "age"'),
    "not-utf8": lambda good: good.replace("basic", "b\udce9sic"),
}


@pytest.mark.parametrize("kind", sorted(BAD_SCHEMAS))
def test_a_broken_schema_stops_the_model_at_load_with_one_error_naming_the_file(tmp_path, schema_file, kind):
    """Issue 11: a truncated or non-schema file used to load, then fail every predict() with a KeyError."""
    bad = tmp_path / "bad_schema.json"
    bad.write_bytes(BAD_SCHEMAS[kind](schema_file.read_text()).encode("utf-8", "surrogateescape"))
    loaded = run_predict("""
        import prediction_capture_example
        print("loaded")
    """, {"MONITORING_SCHEMA": str(bad)}, tmp_path)
    assert loaded.returncode != 0 and "loaded" not in loaded.stdout  # refused when the model loads
    last = loaded.stderr.strip().splitlines()[-1]
    assert last.startswith("prediction_capture_example.SchemaFileError: ") and str(bad) in last, loaded.stderr
    assert "KeyError" not in loaded.stderr and "1_register_training_set.py" in last

    script = tmp_path / "prediction_capture_example.py"
    script.write_text((PROJECT_ROOT / "prediction_capture_example.py").read_text())
    done = subprocess.run([sys.executable, str(script)], env={**os.environ, "MONITORING_SCHEMA": str(bad)},
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("Error: ") and str(bad) in done.stderr


def test_a_good_schema_loads_at_import_and_a_missing_one_waits_for_predict(tmp_path, schema_file):
    loaded = run_predict("""
        import prediction_capture_example as t
        print(t._monitored is not None)
    """, {"MONITORING_SCHEMA": str(schema_file)}, tmp_path)
    assert loaded.returncode == 0 and loaded.stdout.strip() == "True", loaded.stderr
