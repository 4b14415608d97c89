"""Step 6's checks against fakes: every FAIL with its fix, SKIP on failed prerequisites, the exit code."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
import responses

from dmm.checks import FAIL, PASS, SKIP, WARN, CheckName, CheckResult
from dmm.checks.chain import CHAIN, run_checks
from dmm.checks.context import CheckContext, CheckInputs
from dmm.checks.registry import any_failed
from dmm.checks.summary import drift_line
from dmm.checks.window import Window, window_from
from dmm.config import MonitoringConfig
from dmm.errors import AuthError, NotFoundError
from dmm.ledger import Ledger
from dmm.model_api import ModelApiClient, Prediction
from dmm.monitor import reported_traffic_count, traffic_count
from dmm.schema import Feature, MonitoringSchema
from dmm.services import Services

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc)
FEATURES = ("age", "plan")
TARGET = "churned"
MODEL_ID = "dmm-model-1"
VERSION_ID = "version-1"
DATASOURCE = "gt-store"


def make_schema() -> MonitoringSchema:
    return MonitoringSchema(training_set_name="churn", training_set_version=1, model_type="classification",
                            target=TARGET, features=(Feature("age", "numerical", "int64", 30),
                                                     Feature("plan", "categorical", "str", "basic")),
                            class_labels=("0", "1"))


def training_frame(rows: int = 200) -> pd.DataFrame:
    return pd.DataFrame({"age": [20 + i % 40 for i in range(rows)],
                         "plan": ["basic" if i % 3 else "pro" for i in range(rows)],
                         TARGET: [i % 2 for i in range(rows)]})


def write_predictions(folder: Path, ids: list[str], columns: dict[str, list] | None = None,
                      hour: datetime = NOW - timedelta(hours=2)) -> Path:
    part = folder / VERSION_ID / f"$$date$$={hour:%Y-%m-%d}Z" / f"$$hour$$={hour:%H}Z"
    part.mkdir(parents=True, exist_ok=True)
    n = len(ids)
    data = columns if columns is not None else {
        "age": [25 + i % 30 for i in range(n)], "plan": ["basic" if i % 2 else "pro" for i in range(n)],
        TARGET: [i % 2 for i in range(n)]}
    frame = pd.DataFrame({**data, "event_id": ids,
                          "timestamp": [(hour + timedelta(minutes=i % 60)).isoformat() for i in range(n)]})
    path = part / f"predictions_{len(list(part.iterdir()))}.parquet"
    frame.to_parquet(path, index=False)
    return folder


def make_config(root: Path, api_key: str = "key-1234") -> MonitoringConfig:
    """A real config (the steps are typed against it), as load_config would return it."""
    return MonitoringConfig(
        source_path=root / "monitoring_config.json", domino_base_url="http://127.0.0.1:1", model_monitor_id=MODEL_ID,
        model_monitor_base_url="", model_api_url="http://127.0.0.1:1/models/m/latest/model", model_api_timeout=5,
        model_api_token_env="DOMINO_MODEL_API_TOKEN", user_api_key_env="DOMINO_USER_API_KEY",
        ground_truth_datasource=DATASOURCE, ground_truth_datasource_type="s3", ground_truth_prefix="ground_truth",
        test_data_path=None, test_label_column=None, schema_path=root / "monitoring_schema.json",
        env={"DOMINO_USER_API_KEY": api_key, "DOMINO_MODEL_API_TOKEN": "token-5678"})


def standard_variables() -> list[dict[str, Any]]:
    return [{"name": "age", "variableType": "feature", "valueType": "numerical"},
            {"name": "plan", "variableType": "feature", "valueType": "categorical"},
            {"name": TARGET, "variableType": "prediction", "valueType": "categorical"},
            {"name": "event_id", "variableType": "row_identifier", "valueType": "string"},
            {"name": "label", "variableType": "ground_truth", "valueType": "categorical",
             "forPredictionOutput": TARGET}]


@dataclass
class FakeMonitor:
    model: dict | None = field(default_factory=lambda: {"id": MODEL_ID, "name": "churn monitor",
                                                        "sourceDetails": {"workbenchModelVersionId": VERSION_ID}})
    variables_list: list = field(default_factory=standard_variables)
    datasources: list = field(default_factory=lambda: [{"name": DATASOURCE, "type": "s3"}])
    traffic: Any = field(default_factory=lambda: [{"modelId": MODEL_ID, "totalQueries": 50}])
    refuse_key: bool = False
    forbid_model: bool = False

    def get_model(self, model_id):
        if self.refuse_key:
            raise AuthError(f"Reading model {model_id!r} failed with HTTP 401", "Check the key", status=401)
        if self.forbid_model:
            raise AuthError(f"Reading model {model_id!r} failed with HTTP 403", "No access", status=403)
        if self.model is None:
            raise NotFoundError(f"Reading model {model_id!r} failed with HTTP 404", "Check the id")
        return self.model

    def variables(self, model_id):
        return self.variables_list

    def list_datasources(self):
        if self.refuse_key:
            raise AuthError("Listing Model Monitor data sources failed with HTTP 401", "Check the key", status=401)
        return self.datasources

    def datasource_named(self, name):
        return next((d for d in self.datasources if d["name"] == name), None)

    def prediction_count(self, model_id, start, end):
        return traffic_count(self.traffic)

    def reported_prediction_count(self, model_id, start, end):
        return reported_traffic_count(self.traffic)


@dataclass
class FakeDataSources:
    present: bool = True
    objects: dict = field(default_factory=dict)

    def exists(self, name):
        return self.present

    def download_bytes(self, name, key):
        return self.objects[key]

    def list_keys(self, name, prefix=""):
        return sorted(k for k in self.objects if k.startswith(prefix))


class FakeModelApi:
    def __init__(self, event_id="evt-0"):
        self.event_id = event_id
        self.calls = []

    def predict(self, data):
        self.calls.append(dict(data))
        return Prediction(result={"churned": 1, "event_id": self.event_id}, event_id=self.event_id,
                          request_id="R1", latency_s=0.01)


class World:
    """A consistent set-up where every check passes; each test breaks one thing."""

    def __init__(self, tmp_path: Path):
        self.root = tmp_path
        self.config = make_config(tmp_path)
        self.schema = make_schema()
        self.schema.save(self.config.schema_path)
        self.training = training_frame()
        self.training_target_columns = [TARGET]
        self.monitor = FakeMonitor()
        self.model_api = FakeModelApi()
        ids = [f"evt-{i}" for i in range(50)]
        self.prediction_dir = write_predictions(tmp_path / "prediction_data", ids)
        labels = pd.DataFrame({"event_id": ids, "label": [i % 2 for i in range(50)]})
        key = f"ground_truth/{MODEL_ID}/2025-03-10/labels.csv"
        self.datasources = FakeDataSources(objects={key: labels.to_csv(index=False).encode()})
        ledger = Ledger.load(self.config.ledger_path)
        ledger.record_upload(key, DATASOURCE, 50, "run-1")
        ledger.record_registration(key, "gt_labels", MODEL_ID)
        ledger.save()
        self.ground_truth_file: Path | None = None
        self.config_error: Exception | None = None

    def training_version(self, name, number):
        return SimpleNamespace(target_columns=self.training_target_columns, load_raw_pandas=lambda: self.training)

    def load_config(self, path, env):
        if self.config_error:
            raise self.config_error
        return self.config

    def connect(self, config: MonitoringConfig) -> Services:
        assert config is self.config
        return FakeServices(self)

    def context(self) -> CheckContext:
        inputs = CheckInputs(prediction_data=self.prediction_dir, ground_truth_file=self.ground_truth_file,
                             start=NOW - timedelta(days=7), end=NOW)
        return CheckContext(inputs, connect=self.connect, load_config=self.load_config)

    def run(self) -> dict[str, CheckResult]:
        return {result.name: result for result in run_checks(self.context())}


class FakeServices:
    """The world's fakes behind the same Protocol as ``DominoServices``."""

    def __init__(self, world: World) -> None:
        self.world = world

    @property
    def monitor(self):
        return self.world.monitor

    @property
    def datasources(self):
        return self.world.datasources

    @property
    def ledger(self) -> Ledger:
        return Ledger.load(self.world.config.ledger_path)

    def model_api(self, *, timeout=None, pool_size=10):
        return self.world.model_api

    def training_set_version(self, name, number):
        return self.world.training_version(name, number)

    def custom_metrics(self):
        raise AssertionError("the checks never publish")


@pytest.fixture
def world(tmp_path) -> World:
    return World(tmp_path)


def test_a_consistent_setup_passes_every_check_in_order(world):
    results = run_checks(world.context())
    assert CHAIN.names == list(CheckName)
    assert [r.name for r in results] == ["config", "api key", "training set", "endpoint", "capture names",
                                         "DMM model", "data source", "predictions ingested",
                                         "ground truth registered", "join rate"]
    assert {r.name: r.status for r in results} == {r.name: PASS for r in results}, [r for r in results
                                                                                   if r.status != PASS]
    (call,) = world.model_api.calls  # the sample row, with a probe's own recognisable event id
    assert call.pop("event_id").startswith("dmm-probe-") and call == world.schema.sample_row()
    assert not any_failed(results)


def test_missing_config_fails_and_skips_everything_after_it(world, tmp_path):
    from dmm.errors import ConfigError
    world.config_error = ConfigError("No monitoring_config.json found", "Run 3_setup_monitoring.py to write one")
    results = world.run()
    assert results["config"].status == FAIL
    assert "3_setup_monitoring.py" in results["config"].fix
    assert all(r.status == SKIP for name, r in results.items() if name != "config")
    assert "config did not pass" in results["api key"].detail


def test_refused_api_key_names_the_variable_to_set(world):
    world.monitor.refuse_key = True
    results = world.run()
    assert results["api key"].status == FAIL
    assert "DOMINO_USER_API_KEY" in results["api key"].fix
    assert "the user API key from $DOMINO_USER_API_KEY" in results["api key"].detail
    assert results["DMM model"].status == SKIP and results["data source"].status == SKIP


def test_the_auth_check_names_the_method_and_the_host_of_every_service(world):
    results = world.run()
    check = results["api key"]
    assert check.status == PASS
    assert check.facts["auth_method"] == "api-key"
    assert set(check.facts["hosts"]) == {"training sets", "data sources", "Model Monitor", "custom metrics"}
    assert "Model Monitor at " in check.detail and "training sets at " in check.detail


def test_a_permission_limited_identity_is_told_it_may_not_not_that_its_key_is_bad(world):
    world.monitor.forbid_model = True
    results = world.run()
    check = results["api key"]
    assert check.status == FAIL
    assert "may not read model" in check.detail and "HTTP 403" in check.detail
    assert "collaborator" in check.fix
    assert "refused" not in check.detail


def test_a_missing_model_still_proves_the_identity(world):
    world.monitor.model = None
    results = world.run()
    assert results["api key"].status == PASS
    assert results["DMM model"].status == FAIL


def test_training_set_without_a_schema_feature_fails_naming_it(world):
    world.training = world.training.drop(columns=["plan"])
    results = world.run()
    assert results["training set"].status == FAIL
    assert "plan" in results["training set"].detail
    assert "1_register_training_set.py" in results["training set"].fix
    assert results["endpoint"].status == SKIP


def test_training_set_with_another_target_fails(world):
    world.training_target_columns = ["plan"]
    result = world.run()["training set"]
    assert result.status == FAIL and "churned" in result.detail


@responses.activate
def test_endpoint_that_returns_no_event_id_fails_with_the_capture_fix(world):
    url = "http://127.0.0.1:9/models/m/latest/model"
    responses.post(url, json={"request_id": "ABC", "result": {"churned": 1}})
    world.model_api = ModelApiClient(url, "token-5678", timeout=2, retries=0)
    result = world.run()["endpoint"]
    assert result.status == FAIL
    assert "event_id" in result.detail
    assert "prediction_capture_example.py" in result.fix
    sent = json.loads(responses.calls[0].request.body)["data"]
    assert sent.pop("event_id").startswith("dmm-probe-") and sent == world.schema.sample_row()


@responses.activate
def test_endpoint_refusing_the_token_fails_with_token_advice(world):
    url = "http://127.0.0.1:9/models/m/latest/model"
    responses.post(url, status=401, json={"message": "bad token"})
    world.model_api = ModelApiClient(url, "token-5678", timeout=2, retries=0)
    result = world.run()["endpoint"]
    assert result.status == FAIL and "401" in result.detail
    assert "access token" in result.fix.lower()
    assert "token-5678" not in result.detail + result.fix


def test_capture_under_a_wrong_feature_name_lists_missing_and_unexpected(world, tmp_path):
    ids = [f"evt-{i}" for i in range(50)]
    folder = tmp_path / "bad_capture"
    write_predictions(folder, ids, {"age": list(range(50)), "plan_type": ["basic"] * 50, TARGET: [0] * 50})
    world.prediction_dir = folder
    result = world.run()["capture names"]
    assert result.status == FAIL
    assert "plan" in result.facts["missing"] and result.facts["unexpected"] == ["plan_type"]
    assert "plan_type" in result.detail
    assert "predict_names" in result.fix and "redeploy" in result.fix


def test_prediction_not_named_after_the_target_fails(world, tmp_path):
    folder = tmp_path / "bad_prediction"
    write_predictions(folder, ["a", "b"], {"age": [1, 2], "plan": ["basic", "pro"], "prediction": [0, 1]})
    world.prediction_dir = folder
    result = world.run()["capture names"]
    assert result.status == FAIL and result.facts["missing"] == [TARGET]
    assert f"'{TARGET}'" in result.fix


def test_capture_names_fall_back_to_dmm_variables_without_files(world, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    world.prediction_dir = empty
    world.monitor.traffic = {"count": 12}
    results = world.run()
    assert results["capture names"].status == PASS and "variables" in results["capture names"].detail
    assert results["predictions ingested"].status == PASS and "12" in results["predictions ingested"].detail
    assert results["join rate"].status == SKIP and "--prediction-data" in results["join rate"].fix


def test_unknown_dmm_model_fails_with_where_to_find_the_id(world):
    world.monitor.model = None
    results = world.run()
    assert results["DMM model"].status == FAIL
    assert MODEL_ID in results["DMM model"].detail and "model_monitor.model_id" in results["DMM model"].fix
    assert results["predictions ingested"].status == SKIP


def test_dmm_variables_that_differ_from_the_schema_fail(world):
    world.monitor.variables_list = [v for v in standard_variables() if v["name"] != "plan"] + [
        {"name": "region", "variableType": "feature", "valueType": "categorical"}]
    result = world.run()["DMM model"]
    assert result.status == FAIL
    assert result.facts == {"missing": ["plan"], "unexpected": ["region"]}
    assert "attach the training set" in result.fix


def test_data_source_missing_in_model_monitor_fails_with_the_ui_step(world):
    world.monitor.datasources = [{"name": "other-store"}]
    result = world.run()["data source"]
    assert result.status == FAIL
    assert "not in Model Monitor" in result.detail
    assert "Monitoring Data Sources" in result.fix and DATASOURCE in result.fix


def test_data_source_missing_in_domino_fails(world):
    world.datasources.present = False
    results = world.run()
    assert results["data source"].status == FAIL
    assert "Data Sources" in results["data source"].fix
    assert results["join rate"].status == SKIP


def test_no_ingested_predictions_fails_with_how_to_get_some(world, tmp_path):
    empty = tmp_path / "none"
    empty.mkdir()
    world.prediction_dir = empty
    world.monitor.traffic = [{"modelId": MODEL_ID, "totalQueries": 0, "traffic": []}]
    result = world.run()["predictions ingested"]
    assert result.status == FAIL
    assert "4_generate_predictions.py" in result.fix and "--days" in result.fix


def test_predictions_outside_the_window_are_not_counted(world, tmp_path):
    folder = tmp_path / "old"
    write_predictions(folder, ["x"], hour=NOW - timedelta(days=30))
    world.prediction_dir = folder
    world.monitor.traffic = [{"modelId": MODEL_ID, "totalQueries": 0}]
    assert world.run()["predictions ingested"].status == FAIL


@pytest.mark.parametrize("answer", [None, {"id": MODEL_ID, "series": [{"t": 1, "v": 5}]}, [{"id": MODEL_ID}]])
def test_a_traffic_answer_naming_no_count_is_not_reported_never_a_fail(world, tmp_path, answer):
    world.monitor.traffic = answer
    with_files = world.run()["predictions ingested"]
    assert with_files.status == PASS and "not reported by this Domino" in with_files.detail
    empty = tmp_path / "no-files"
    empty.mkdir()
    world.prediction_dir = empty
    without = world.run()["predictions ingested"]
    assert without.status == WARN and "not reported by this Domino" in without.detail


def test_absent_ingestion_errors_are_said_not_reported(world):
    world.monitor.model.pop("ingestionErrors", None)
    result = world.run()["capture names"]
    assert result.status == PASS and "ingestion errors: not reported by this Domino" in result.detail
    world.monitor.model["ingestionErrors"] = []
    assert "not reported" not in world.run()["capture names"].detail


def test_captured_but_not_ingested_by_the_monitor_warns(world):
    world.monitor.traffic = [{"modelId": MODEL_ID, "totalQueries": 0, "traffic": []}]
    result = world.run()["predictions ingested"]
    assert result.status == WARN and "Model Monitor counts none" in result.detail
    assert "capture names" in result.fix


def test_monitor_ingestion_errors_fail_the_capture_names_check(world, tmp_path):
    empty = tmp_path / "nothing-local"
    empty.mkdir()
    world.prediction_dir = empty
    world.monitor.model["ingestionErrors"] = [{"errorCode": "UNRESOLVED_COLUMN", "columns": ["plan"],
                                               "file": "prediction_data/v/x.parquet"}]
    result = world.run()["capture names"]
    assert result.status == FAIL and result.facts["missing"] == ["plan"]
    assert "UNRESOLVED_COLUMN" in result.detail


def test_ground_truth_not_registered_fails_with_step_5(world):
    world.monitor.variables_list = [v for v in standard_variables() if v["variableType"] != "ground_truth"]
    result = world.run()["ground truth registered"]
    assert result.status == FAIL
    assert "5_upload_ground_truth.py" in result.fix
    assert "ledger lists 1" in result.detail


def test_ground_truth_in_dmm_but_not_in_the_ledger_warns(world):
    world.config.ledger_path.unlink()
    results = world.run()
    assert results["ground truth registered"].status == WARN
    assert results["join rate"].status == SKIP  # nothing listed to download


def test_foreign_ground_truth_ids_fail_the_join_and_are_listed(world, tmp_path):
    foreign = pd.DataFrame({"event_id": [f"other-{i}" for i in range(15)] + ["evt-1", "evt-1"],
                            "label": [0] * 15 + [0, 1]})
    path = tmp_path / "labels.csv"
    foreign.to_csv(path, index=False)
    world.ground_truth_file = path
    result = world.run()["join rate"]
    assert result.status == FAIL
    assert result.facts["matched_ids"] == 1 and result.facts["labelled_ids"] == 16
    assert result.facts["unmatched_sample"] == [f"other-{i}" for i in range(10)]
    assert result.facts["duplicate_ids"] == 1
    assert "other-0" in result.detail and "latest label wins" in result.detail
    assert "event_id the endpoint returned" in result.fix


def test_a_few_unmatched_labels_only_warn(world, tmp_path):
    labels = pd.DataFrame({"event_id": [f"evt-{i}" for i in range(50)] + ["late-1"], "label": [1] * 51})
    path = tmp_path / "labels.parquet"
    labels.to_parquet(path)
    world.ground_truth_file = path
    result = world.run()["join rate"]
    assert result.status == WARN and result.facts["unmatched_sample"] == ["late-1"]


def test_ground_truth_without_an_id_column_fails_the_join(world, tmp_path):
    path = tmp_path / "labels.csv"
    pd.DataFrame({"id": ["evt-1"], "label": [1]}).to_csv(path, index=False)
    world.ground_truth_file = path
    result = world.run()["join rate"]
    assert result.status == FAIL and "event_id" in result.fix


def test_an_unexpected_exception_is_a_fail_not_a_crash(world):
    class Broken:
        def predict(self, data):
            raise RuntimeError("boom")
    world.model_api = Broken()
    results = world.run()
    assert results["endpoint"].status == FAIL and "RuntimeError: boom" in results["endpoint"].detail


@pytest.mark.parametrize("answer, expected", [
    (None, 0), (7, 7), ({"count": 3}, 3), ([{"numberOfPredictions": 2}, {"numberOfPredictions": 5}], 7),
    ({"traffic": [{"count": 1}, {"count": 2}]}, 3), ({"model-1": {"data": [{"total": 4}]}}, 4), (True, 0),
])
def test_traffic_count_reads_the_shapes_the_monitor_may_answer(answer, expected):
    assert traffic_count(answer) == expected


def load_script():
    spec = importlib.util.spec_from_file_location("step6", ROOT / "6_check_monitoring.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_prints_checks_with_fixes_writes_the_report_and_exits_1_on_fail(world, tmp_path, capsys):
    step6 = load_script()
    world.monitor.datasources = []
    out = tmp_path / "out"
    code = step6.main(["--prediction-data", str(world.prediction_dir), "--end", NOW.isoformat(), "--days", "7",
                       "--output-dir", str(out)], connect=world.connect, load_config=world.load_config)
    printed = capsys.readouterr().out
    assert code == 1
    assert "PASS  config — " in printed
    assert "FAIL  data source — " in printed
    assert "\n      fix: Add it in Model Monitor > Monitoring Data Sources" in printed
    assert "Drift: " in printed and "Quality over 50 matched row(s)" in printed
    assert (out / "monitoring_report.html").is_file()
    report = json.loads((out / "monitoring_report.json").read_text())
    assert [c["status"] for c in report["checks"]].count("FAIL") == 1
    assert f"Report: {out / 'monitoring_report.html'}" in printed


def test_script_exits_0_and_prints_json_when_everything_passes(world, tmp_path, capsys):
    step6 = load_script()
    code = step6.main(["--prediction-data", str(world.prediction_dir), "--end", NOW.isoformat(),
                       "--output-dir", str(tmp_path / "o"), "--json", "--no-preview"], connect=world.connect,
                      load_config=world.load_config)
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["passed"] is True and "drift" not in report


@pytest.mark.parametrize("argv, message", [
    (["--days", "2", "--start", "2025-01-01"], "--days and --start"),
    (["--start", "2025-02-01", "--end", "2025-01-01"], "starts"),
    (["--end", "yesterday"], "is not a date"),
    (["--days", "0"], "more than 0 and at most 3660"),  # refused by the flag's type (dmm.args), as parsed
    (["--days", "1e12"], "at most 3660"),
    (["--start", "0001-01-01", "--end", "9999-12-31"], "spans more than 3660 days"),
])
def test_bad_windows_are_usage_errors(argv, message):
    from dmm.errors import UsageError
    with pytest.raises(UsageError, match=message):
        args = load_script().build_parser().parse_args(argv)
        window_from(args.days, args.start, args.end)


def test_a_date_window_is_utc():
    window = window_from(start="2025-01-01", end="2025-01-03")
    assert window == Window(datetime(2025, 1, 1, tzinfo=timezone.utc), datetime(2025, 1, 3, tzinfo=timezone.utc))


def test_a_preview_that_breaks_is_reported_not_raised(world, monkeypatch):
    from dmm import preview
    ctx = world.context()
    results = run_checks(ctx)
    monkeypatch.setattr(preview, "preview_quality", lambda ctx, options: 1 / 0)
    report = preview.build_report(ctx, results)
    assert report["quality"]["status"] == "error" and "ZeroDivisionError" in report["quality"]["reason"]
    assert report["drift"]["status"] == "ok"


def test_preview_drift_covers_every_feature_and_the_prediction(world):
    from dmm import preview
    ctx = world.context()
    report = preview.build_report(ctx, run_checks(ctx))
    drift = report["drift"]
    assert {c["column"] for c in drift["columns"]} == {"age", "plan", TARGET}
    assert drift["production_rows"] == 50
    target = next(c for c in drift["columns"] if c["column"] == TARGET)
    assert target["reference_rows"] == len(world.training)  # the training target is the prediction's reference
    severities = [c["severity"] for c in drift["columns"] if c["passed"] is False]
    assert severities == sorted(severities, reverse=True)
    assert report["quality"]["matched_rows"] == 50 and report["quality"]["confusion_matrix"]["labels"] == ["0", "1"]
    assert "PSI" in report["conventions"]["tests"]


def test_preview_window_excludes_rows_outside_it(world):
    from dmm import preview
    ctx = world.context()
    ctx.inputs = CheckInputs(prediction_data=world.prediction_dir, start=NOW - timedelta(hours=2, minutes=-30),
                             end=NOW)
    drift = preview.build_report(ctx, run_checks(ctx))["drift"]
    assert drift["production_rows"] == 20  # captures are stamped hour+0..49 min; the window starts at +30 min


def test_drift_summary_cautions_when_predictions_are_too_few_for_the_bins():
    column = {"column": "age", "main_test": "PSI", "value": 0.9, "passed": False, "reliable_rows": 100}
    small = drift_line({"status": "ok", "production_rows": 12, "columns": [{**column, "small_sample": True}]})
    assert "caution" in small and "at least 100" in small
    large = drift_line({"status": "ok", "production_rows": 500, "columns": [{**column, "small_sample": False}]})
    assert "caution" not in large


def test_a_bad_window_is_reported_before_the_engine_loads():
    """Usage errors come before pandas, pyarrow, scipy and scikit-learn are imported (they take seconds)."""
    import subprocess
    import sys
    probe = ("import runpy, sys\n"
             f"sys.argv = [{str(ROOT / '6_check_monitoring.py')!r}, '--start', 'notadate']\n"
             "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
             "except SystemExit as done:\n    code = done.code\n"
             "heavy = sorted(m for m in ('pandas', 'pyarrow', 'scipy', 'sklearn', 'numpy') if m in sys.modules)\n"
             "print(code, heavy)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip() == "2 []", done.stdout + done.stderr
    assert "Error: --start 'notadate' is not a date" in done.stderr


def test_the_chain_refuses_a_check_registered_twice_or_before_what_it_needs():
    from dmm.checks.registry import Chain
    chain = Chain()
    chain.register(CheckName.CONFIG)(lambda ctx: CheckResult(CheckName.CONFIG, PASS, "ok"))
    with pytest.raises(ValueError, match="twice"):
        chain.register(CheckName.CONFIG)(lambda ctx: CheckResult(CheckName.CONFIG, PASS, "ok"))
    with pytest.raises(ValueError, match="needs"):
        chain.register(CheckName.ENDPOINT, needs=[CheckName.TRAINING_SET])(lambda ctx: None)
    assert chain.names == [CheckName.CONFIG]


def test_a_failed_domino_call_points_at_the_trace(world):
    from dmm.errors import ApiError

    def unavailable(model_id):
        raise ApiError("Reading the model failed with HTTP 503", "Try again later", status=503)

    world.monitor.get_model = unavailable
    results = world.run()
    assert results["api key"].status == FAIL
    assert "--trace FILE" in results["api key"].fix and "Try again later" in results["api key"].fix


def test_a_refusal_elsewhere_names_the_identity_used(world):
    def refused(name, number):
        raise AuthError("Reading the training set failed with HTTP 401", "Check the credentials", status=401)

    world.training_version = refused
    results = world.run()
    fix = results["training set"].fix
    assert results["training set"].status == FAIL
    assert "Domino was reached with the user API key from $DOMINO_USER_API_KEY" in fix and "--trace FILE" in fix


def test_a_training_set_column_the_capture_lacks_fails_with_the_step_1_fix(world, monkeypatch):
    """Issue 10 §3: a training set registered with a key column (as step 1 used to) that predict() never captures;
    Model Monitor's ingestion fails on it (UNRESOLVED_COLUMN), so step 6 says so and how to fix it."""
    world.training = training_frame().assign(customer_id=range(200))
    version = SimpleNamespace(target_columns=[TARGET], load_raw_pandas=lambda: world.training,
                              all_columns=["customer_id", "age", "plan", TARGET], exclude_columns=[])
    monkeypatch.setattr(world, "training_version", lambda name, number: version)
    result = world.run()["capture names"]
    assert result.status == FAIL and result.facts["uncaptured_training_columns"] == ["customer_id"]
    assert "UNRESOLVED_COLUMN" in result.detail and "1_register_training_set.py" in result.fix

    version.exclude_columns = ["customer_id"]  # an excluded column is not looked for
    assert world.run()["capture names"].status == PASS
