"""Step 5: variables on the first registration only (decided from the model's variables), never the same file
twice, --dry-run sends nothing, nothing to do is a clean exit 0, and --file is validated before anything."""

from __future__ import annotations

import datetime
import json

import pytest
from fakes import FakeServices, make_config

from dmm.cli import run
from dmm.errors import ApiError, ConflictError, DmmError, NotFoundError, UsageError
from dmm.ground_truth import (
    GroundTruthOptions,
    date_window,
    key_date,
    register_ground_truth,
    result_lines,
)
from dmm.ground_truth_register import dataset_name
from dmm.ledger import Ledger
from dmm.schema import Feature, MonitoringSchema
from sandbox.testing import load_script

step5 = load_script("5_upload_ground_truth")

NOW = datetime.datetime(2024, 5, 10, 12, 0, tzinfo=datetime.timezone.utc)
TODAY = datetime.datetime.now(datetime.timezone.utc).date()


class FakeMonitor:
    """Model Monitor as it behaves for ground truth: re-declaring configured variables is refused."""

    def __init__(self, variables=None, ingestion="prediction"):
        self.vars = list(variables or [])
        self.ingestion = ingestion
        self.registered: list[dict] = []
        self.variable_queries = 0
        self.dataset_names: set[str] = set()

    def get_model(self, model_id):
        return {"id": model_id, "ingestionStatus": self.ingestion}

    def variables(self, model_id):
        self.variable_queries += 1
        return list(self.vars)

    def register_dataset(self, model_id, kind, payload):
        assert kind == "ground_truth" and model_id == "m1"
        names = {v["name"] for v in self.vars}
        clash = [v["name"] for v in payload.get("variables", []) if v["name"] in names]
        if clash:
            raise ConflictError(f"Variable(s) with name {clash} is/are already configured", status=400)
        name = payload["datasetDetails"]["name"]
        if name in self.dataset_names:
            raise ConflictError(f"Dataset with name {name} is already registered", status=409)
        self.vars.extend(payload.get("variables", []))
        self.dataset_names.add(name)
        self.registered.append(payload)
        return {"ok": True}


def labels_for(key: str, rows: int = 2) -> bytes:
    """A ground-truth file as step 4 writes it, with event ids unique to the key."""
    lines = ["event_id,churned_gt,timestamp"] + [f"{key}-{i},{'yes' if i % 2 else 'no'},2024-05-01T00:00:00Z"
                                                  for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


class FakeDataSources:
    def __init__(self, keys=()):
        self.objects = {key: labels_for(key) for key in keys}
        self.uploads: list[str] = []
        self.unlisted: set[str] = set()

    def download_bytes(self, name, key):
        if key not in self.objects:
            raise NotFoundError(f"{key} not found", code="object-missing")
        return self.objects[key]

    def list_keys(self, name, prefix=""):
        assert name == "gt-store"
        return sorted(k for k in self.objects if k.startswith(prefix) and k not in self.unlisted)

    def upload_bytes(self, name, key, data):
        self.uploads.append(key)
        self.objects[key] = data

    def datasource(self, name):
        return object()


@pytest.fixture
def config(tmp_path):
    MonitoringSchema("churn", 1, "classification", "churned",
                     (Feature("age", "numerical"), Feature("plan", "categorical")),
                     class_labels=("no", "yes")).save(tmp_path / "monitoring_schema.json")
    return make_config(tmp_path)


def register(config, monitor, sources, **options):
    services = FakeServices(monitor=monitor, datasources=sources, ledger=Ledger.load(config.ledger_path))
    return register_ground_truth(config, GroundTruthOptions(**options), services, now=NOW)


def test_first_registration_declares_variables_and_later_ones_send_dataset_details_only(config):
    monitor = FakeMonitor()
    sources = FakeDataSources(["ground_truth/m1/2024-05-09/run-a.csv", "ground_truth/m1/2024-05-10/run-b.csv"])
    result = register(config, monitor, sources)

    first, second = monitor.registered
    assert first["variables"] == [
        {"name": "event_id", "variableType": "row_identifier", "valueType": "string"},
        {"name": "churned_gt", "variableType": "ground_truth", "valueType": "categorical",
         "forPredictionOutput": "churned"},
    ]
    assert first["datasetDetails"] == {
        "name": dataset_name("ground_truth/m1/2024-05-09/run-a.csv"), "datasetType": "file",
        "datasetConfig": {"path": "ground_truth/m1/2024-05-09/run-a.csv", "fileFormat": "csv"},
        "datasourceName": "gt-store", "datasourceType": "s3"}
    assert set(second) == {"datasetDetails"}
    assert second["datasetDetails"]["datasetConfig"]["path"] == "ground_truth/m1/2024-05-10/run-b.csv"
    assert [r.declares_variables for r in result.registrations] == [True, False]


def test_existing_ground_truth_variable_means_dataset_details_only(config):
    monitor = FakeMonitor(variables=[
        {"name": "event_id", "variableType": "row_identifier", "valueType": "string"},
        {"name": "churned_gt", "variableType": "ground_truth", "valueType": "categorical",
         "forPredictionOutput": "churned"}])
    register(config, monitor, FakeDataSources(["ground_truth/m1/2024-05-10/run-c.csv"]))
    assert [set(p) for p in monitor.registered] == [{"datasetDetails"}]
    assert monitor.variable_queries == 1


def test_a_rerun_registers_nothing_twice(config):
    monitor = FakeMonitor()
    sources = FakeDataSources(["ground_truth/m1/2024-05-10/run-a.csv"])
    assert len(register(config, monitor, sources).registrations) == 1
    again = register(config, monitor, sources)
    assert again.nothing_to_do
    assert len(monitor.registered) == 1


def test_a_dataset_the_monitor_already_has_is_recorded_not_repeated(config):
    """A rerun from another folder (no ledger): Model Monitor answers 409 for the deterministic name."""
    monitor = FakeMonitor()
    sources = FakeDataSources(["ground_truth/m1/2024-05-10/a.csv", "ground_truth/m1/2024-05-10/b.csv"])
    register(config, monitor, sources)
    config.ledger_path.unlink()
    sources.objects["ground_truth/m1/2024-05-10/c.csv"] = labels_for("c")
    again = register(config, monitor, sources)
    assert [r.already_registered for r in again.registrations] == [True, True, False]
    assert [set(p) for p in monitor.registered] == [{"variables", "datasetDetails"}, {"datasetDetails"},
                                                   {"datasetDetails"}]
    assert Ledger.load(config.ledger_path).is_registered("ground_truth/m1/2024-05-10/a.csv")


def test_keys_the_ledger_marks_registered_are_skipped_even_on_a_fresh_monitor(config):
    ledger = Ledger.load(config.ledger_path)
    ledger.record_registration("ground_truth/m1/2024-05-10/old.csv", "x", "m1")
    ledger.save()
    monitor = FakeMonitor()
    result = register(config, monitor, FakeDataSources(["ground_truth/m1/2024-05-10/old.csv",
                                                        "ground_truth/m1/2024-05-10/new.csv"]))
    assert [r.key for r in result.registrations] == ["ground_truth/m1/2024-05-10/new.csv"]


def test_ledger_uploads_not_yet_listed_are_registered_too(config):
    ledger = Ledger.load(config.ledger_path)
    ledger.record_upload("ground_truth/m1/2024-05-10/from-ledger.csv", "gt-store", 3, "run")
    ledger.save()
    monitor = FakeMonitor()
    sources = FakeDataSources()
    sources.objects["ground_truth/m1/2024-05-10/from-ledger.csv"] = labels_for("from-ledger")
    sources.unlisted.add("ground_truth/m1/2024-05-10/from-ledger.csv")  # stored, but not listed yet
    register(config, monitor, sources)
    registered = monitor.registered[0]["datasetDetails"]["datasetConfig"]["path"]
    assert registered == "ground_truth/m1/2024-05-10/from-ledger.csv"
    assert Ledger.load(config.ledger_path).is_registered("ground_truth/m1/2024-05-10/from-ledger.csv")


def test_window_selects_by_the_key_date_folder(config):
    keys = ["ground_truth/m1/2024-05-01/old.csv", "ground_truth/m1/2024-05-09/mid.csv",
            "ground_truth/m1/2024-05-10/new.csv", "ground_truth/m1/notes.txt"]
    by_hours = register(config, FakeMonitor(), FakeDataSources(keys), hours=30, dry_run=True)
    assert [r.key for r in by_hours.registrations] == keys[1:3]
    by_dates = register(config, FakeMonitor(), FakeDataSources(keys), start_date="2024-05-01",
                        end_date="2024-05-01", dry_run=True)
    assert [r.key for r in by_dates.registrations] == keys[:1]


def test_dry_run_sends_nothing_and_changes_nothing(config):
    monitor = FakeMonitor()
    result = register(config, monitor, FakeDataSources(["ground_truth/m1/2024-05-10/a.csv",
                                                        "ground_truth/m1/2024-05-10/b.csv"]), dry_run=True)
    assert monitor.registered == []
    assert not config.ledger_path.exists()
    assert [set(r.payload) for r in result.registrations] == [{"variables", "datasetDetails"}, {"datasetDetails"}]


def test_not_ingested_registers_nothing_unless_asked(config):
    sources = FakeDataSources(["ground_truth/m1/2024-05-10/a.csv"])
    monitor = FakeMonitor(ingestion="training")
    with pytest.raises(DmmError, match="not ingested") as raised:
        register(config, monitor, sources)
    assert "--before-ingestion" in str(raised.value)
    assert monitor.registered == []
    result = register(config, monitor, sources, allow_before_ingestion=True)
    assert any("not ingested" in w for w in result.warnings)
    assert len(monitor.registered) == 1


def test_dataset_names_are_deterministic_and_distinct():
    a = dataset_name("ground_truth/m1/2024-05-10/run-a.csv")
    assert a == dataset_name("ground_truth/m1/2024-05-10/run-a.csv")
    assert a != dataset_name("ground_truth/m1/2024-05-10/run-b.csv")
    assert "/" not in a and len(dataset_name("x/" * 200 + "y.csv")) <= 100


def test_key_dates_and_windows():
    assert key_date("gt/m1/2024-05-10/run.csv") == datetime.date(2024, 5, 10)
    assert key_date("gt/m1/run.csv") is None
    with pytest.raises(UsageError, match="after"):
        date_window(GroundTruthOptions(start_date="2024-05-10", end_date="2024-05-01"), NOW)
    with pytest.raises(UsageError, match="not a date"):
        date_window(GroundTruthOptions(start_date="10/05/2024"), NOW)


# ---- --file ------------------------------------------------------------------------------------------------------

def test_user_file_is_validated_uploaded_then_registered_once(config, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("event_id,churned\nev-1,yes\nev-2,no\n")
    monitor, sources = FakeMonitor(), FakeDataSources()
    result = register(config, monitor, sources, file=str(path))
    assert sources.uploads == [result.uploaded_key]
    assert result.uploaded_key.startswith("ground_truth/m1/2024-05-10/labels-")
    assert monitor.registered[0]["datasetDetails"]["datasetConfig"]["path"] == result.uploaded_key
    # uploaded under the names every batch is registered with, whatever the user's file called them
    assert sources.objects[result.uploaded_key] == b"event_id,churned_gt\nev-1,yes\nev-2,no\n"

    again = register(config, monitor, sources, file=str(path))
    assert again.nothing_to_do and again.skipped
    assert len(monitor.registered) == 1 and len(sources.uploads) == 1


@pytest.mark.parametrize("content, options, message", [
    ("id,churned\nev-1,yes\n", {}, "no column 'event_id'"),
    ("event_id,label\nev-1,yes\n", {}, "no column 'churned_gt'"),
    ("event_id,churned\nev-1,yes\nev-1,no\n", {}, "repeats"),
    ("event_id,churned\nev-1,yes\nev-2,maybe\n", {}, "maybe"),
    ("event_id,churned\nev-1,yes\nev-2,\n", {}, "no label"),
    ("row,outcome\nr1,yes\n", {"id_column": "row", "label_column": "nope"}, "no column 'nope'"),
])
def test_bad_user_files_are_refused_before_anything_is_sent(config, tmp_path, content, options, message):
    path = tmp_path / "labels.csv"
    path.write_text(content)
    monitor, sources = FakeMonitor(), FakeDataSources()
    with pytest.raises(UsageError, match=message):
        register(config, monitor, sources, file=str(path), **options)
    assert monitor.registered == [] and sources.uploads == [] and monitor.variable_queries == 0


def test_label_column_must_match_the_declared_ground_truth_variable(config, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("event_id,outcome\nev-1,yes\n")
    monitor = FakeMonitor(variables=[{"name": "churned", "variableType": "ground_truth", "valueType": "categorical",
                                      "forPredictionOutput": "churned"}])
    with pytest.raises(UsageError, match="'churned'"):
        register(config, monitor, FakeDataSources(), file=str(path), label_column="outcome")
    assert monitor.registered == []


# ---- the script --------------------------------------------------------------------------------------------------

@pytest.fixture
def script_env(tmp_path, monkeypatch, config):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOMINO_USER_API_KEY", "user-key-abcdef")
    monkeypatch.delenv("DMM_CONFIG", raising=False)
    (tmp_path / "monitoring_config.json").write_text(json.dumps({
        "domino": {"base_url": "https://domino.example.com"},
        "model_monitor": {"model_id": "m1"},
        "model_api": {"endpoint_url": "https://domino.example.com/models/abc/latest/model"},
        "data_sources": {"ground_truth": "gt-store"},
    }))
    monitor, sources = FakeMonitor(), FakeDataSources()
    monkeypatch.setattr("dmm.monitor.ModelMonitorClient", lambda *a, **k: monitor)
    monkeypatch.setattr("dmm.datasources.DataSources", lambda *a, **k: sources)
    return monitor, sources


def test_script_nothing_to_do_exits_0_with_a_message(script_env, capsys):
    monitor, _ = script_env
    assert run(step5.main, []) == 0
    assert "Nothing to do" in capsys.readouterr().out
    assert monitor.registered == []


def test_script_registers_then_reports_nothing_on_rerun(script_env, capsys):
    monitor, sources = script_env
    sources.objects[f"ground_truth/m1/{TODAY:%Y-%m-%d}/run-x.csv"] = labels_for("run-x")
    assert run(step5.main, []) == 0
    assert "Registered ground_truth/m1/" in capsys.readouterr().out
    assert run(step5.main, []) == 0
    assert "Nothing to do" in capsys.readouterr().out
    assert len(monitor.registered) == 1


def test_script_dry_run_prints_payloads(script_env, capsys):
    monitor, sources = script_env
    sources.objects[f"ground_truth/m1/{TODAY:%Y-%m-%d}/run-y.csv"] = labels_for("run-y")
    assert run(step5.main, ["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert '"forPredictionOutput": "churned"' in out and monitor.registered == []


def test_script_bad_file_exits_2(script_env, tmp_path, capsys):
    (tmp_path / "labels.csv").write_text("event_id,churned\nev-1,maybe\n")
    assert run(step5.main, ["--file", str(tmp_path / "labels.csv")]) == 2
    err = capsys.readouterr().err
    assert "maybe" in err and "Traceback" not in err


# ---- issue 10 §1: Model Monitor's expected 400s, answered as Domino's tutorial does -------------------------------

class TutorialMonitor(FakeMonitor):
    """Model Monitor whose variables summary says nothing (its shape is undocumented) while the model already has
    ``already`` declared: the endpoint's own ``event_id``, or what another process registered first."""

    def __init__(self, already, only_one_row_id=False):
        super().__init__()
        self.already = list(already)
        self.only_one_row_id = only_one_row_id
        self.attempts: list[dict] = []

    def variables(self, model_id):
        self.variable_queries += 1
        return []

    def register_dataset(self, model_id, kind, payload):
        self.attempts.append(payload)
        sent = payload.get("variables", [])
        if self.only_one_row_id and any(v["variableType"] == "row_identifier" for v in sent):
            raise ApiError("Registering failed with HTTP 400", status=400,
                           server_message="There can be only 1 row_identifier per model")
        clash = [v["name"] for v in sent if v["name"] in {a["name"] for a in self.already}]
        if clash:
            raise ApiError("Registering failed with HTTP 400", status=400,
                           server_message=f"Variable(s) with name {clash} is/are already configured")
        self.already += sent
        return super().register_dataset(model_id, kind, payload)


EVENT_ID = {"name": "event_id", "variableType": "row_identifier", "valueType": "string"}
TRUTH = {"name": "churned_gt", "variableType": "ground_truth", "valueType": "categorical",
         "forPredictionOutput": "churned"}


@pytest.mark.parametrize("already, only_one, sent", [
    ([EVENT_ID], False, [TRUTH]),  # the endpoint declared event_id: "Variable(s) with name ['event_id'] ..."
    ([EVENT_ID], True, [TRUTH]),  # ... or "can be only 1 row_identifier"
    ([EVENT_ID, TRUTH], False, None),  # another process registered both first: datasetDetails only
])
def test_expected_400s_are_answered_with_fewer_variables(config, already, only_one, sent):
    monitor = TutorialMonitor(already, only_one_row_id=only_one)
    result = register(config, monitor, FakeDataSources(["ground_truth/m1/2024-05-10/a.csv",
                                                        "ground_truth/m1/2024-05-10/b.csv"]))
    assert monitor.attempts[0]["variables"] == [EVENT_ID, TRUTH]  # the summary said nothing: declare both first
    first, second = monitor.registered
    assert first.get("variables") == sent
    assert first["datasetDetails"] == monitor.attempts[0]["datasetDetails"]  # same dataset name on the re-send
    assert set(second) == {"datasetDetails"}
    registration = result.registrations[0]
    assert registration.registered and registration.adjustments and registration.payload == first
    assert Ledger.load(config.ledger_path).is_registered("ground_truth/m1/2024-05-10/a.csv")
    lines = result_lines(result, config, None)
    assert any("re-sent with" in line for line in lines)


def test_a_400_the_tutorial_does_not_expect_is_raised(config):
    class Refusing(FakeMonitor):
        def register_dataset(self, model_id, kind, payload):
            raise ApiError("Registering failed with HTTP 400", status=400,
                           server_message="Column(s) ['churned_gt'] are missing from file")

    with pytest.raises(ApiError, match="HTTP 400"):
        register(config, Refusing(), FakeDataSources(["ground_truth/m1/2024-05-10/a.csv"]))
    assert not Ledger.load(config.ledger_path).is_registered("ground_truth/m1/2024-05-10/a.csv")


def test_a_409_after_a_re_send_is_already_registered_and_recorded(config):
    """The race: another process registered the variables and this very file first."""
    monitor = TutorialMonitor([EVENT_ID, TRUTH])
    monitor.dataset_names.add(dataset_name("ground_truth/m1/2024-05-10/a.csv"))
    result = register(config, monitor, FakeDataSources(["ground_truth/m1/2024-05-10/a.csv"]))
    assert [r.already_registered for r in result.registrations] == [True]
    assert [set(p) for p in monitor.attempts] == [{"variables", "datasetDetails"}, {"datasetDetails"}]
    assert Ledger.load(config.ledger_path).is_registered("ground_truth/m1/2024-05-10/a.csv")
