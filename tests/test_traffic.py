"""Step 4 against a mocked Model API: only features are sent, ground truth is keyed by the returned event ids,
failures give exit 1, and bad input gives exit 2 before any request."""

from __future__ import annotations

import csv
import json
import re

import pytest
import responses

from dmm.cli import run
from dmm.ledger import Ledger
from dmm.schema import Feature, MonitoringSchema
from dmm.traffic import RateLimiter, ground_truth_key, plain
from sandbox.testing import load_script

step4 = load_script("4_generate_predictions")

URL = "https://domino.example.com/models/abc/latest/model"
FEATURES = ["age", "plan", "score"]


class FakeDataSources:
    instances: list[FakeDataSources] = []

    def __init__(self, client=None):
        self.uploads: dict[tuple[str, str], bytes] = {}
        self.looked_up: list[str] = []
        FakeDataSources.instances.append(self)

    def datasource(self, name):
        self.looked_up.append(name)
        return object()

    def upload_bytes(self, name, key, data):
        self.uploads[(name, key)] = data


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOMINO_MODEL_API_TOKEN", "model-token-abcdef")
    monkeypatch.setenv("DOMINO_USER_API_KEY", "user-key-abcdef")
    monkeypatch.delenv("DMM_CONFIG", raising=False)
    FakeDataSources.instances = []
    monkeypatch.setattr("dmm.datasources.DataSources", FakeDataSources)
    MonitoringSchema("churn", 1, "classification", "churned",
                     (Feature("age", "numerical"), Feature("plan", "categorical"), Feature("score", "numerical")),
                     class_labels=("no", "yes")).save(tmp_path / "monitoring_schema.json")
    with open(tmp_path / "test.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_id", "age", "plan", "score", "actual"])
        for age in range(20, 40):
            writer.writerow([f"c{age}", age, "basic" if age % 2 else "pro", "" if age == 25 else age / 10,
                             "yes" if age % 2 else "no"])
    config = {
        "domino": {"base_url": "https://domino.example.com"},
        "model_monitor": {"model_id": "m1"},
        "model_api": {"endpoint_url": URL},
        "data_sources": {"ground_truth": "gt-store"},
        "test_data": {"path": "test.csv", "label_column": "actual"},
    }
    (tmp_path / "monitoring_config.json").write_text(json.dumps(config))
    return tmp_path


def echo_endpoint(fail_ages=()):
    """A Model API that answers with an event id derived from the row, or a 400 for some rows."""
    def callback(request):
        data = json.loads(request.body)["data"]
        if data["age"] in fail_ages:
            return 400, {}, json.dumps({"message": "bad row"})
        return 200, {}, json.dumps({"request_id": "R1", "result": {"churned": "no", "event_id": f"ev-{data['age']}",
                                                                    "timestamp": "2024-05-01T00:00:00+00:00"}})
    responses.add_callback(responses.POST, URL, callback=callback, content_type="application/json")


def read_ground_truth(project):
    files = list((project / "ground_truth").glob("*.csv"))
    assert len(files) == 1
    with open(files[0], newline="") as handle:
        return list(csv.DictReader(handle))


@responses.activate
def test_sends_only_features_and_keys_ground_truth_by_returned_event_ids(project, capsys):
    echo_endpoint()
    code = run(step4.main, ["--count", "12", "--seed", "3", "--concurrency", "3"])
    assert code == 0, capsys.readouterr()

    bodies = [json.loads(call.request.body) for call in responses.calls]
    assert len(bodies) == 12
    for body in bodies:
        assert list(body) == ["data"]
        # the features and our own event id (so a retry is the same prediction); never the label, nothing else
        assert list(body["data"]) == [*FEATURES, "event_id"]
    assert len({body["data"]["event_id"] for body in bodies}) == 12
    rows = read_ground_truth(project)
    assert [list(r) for r in rows][0] == ["event_id", "churned_gt", "timestamp"]
    assert len(rows) == 12
    sent_ages = sorted(body["data"]["age"] for body in bodies)
    assert sorted(int(r["event_id"][3:]) for r in rows) == sent_ages
    for row in rows:
        age = int(row["event_id"][3:])
        assert row["churned_gt"] == ("yes" if age % 2 else "no")

    (uploads,) = [fake.uploads for fake in FakeDataSources.instances]
    ((datasource, key), content), = uploads.items()
    assert datasource == "gt-store"
    assert re.fullmatch(r"ground_truth/m1/\d{4}-\d{2}-\d{2}/\d{8}T\d{6}Z-[0-9a-f]{8}\.csv", key)
    assert content == next((project / "ground_truth").glob("*.csv")).read_bytes()
    ledger = Ledger.load(project / "monitoring_ledger.json")
    assert ledger.pending_registrations() == [key]
    out = capsys.readouterr().out
    assert "12 succeeded, 0 failed" in out and "p50" in out


@responses.activate
def test_missing_values_are_sent_as_null(project):
    echo_endpoint()
    assert run(step4.main, ["--count", "60", "--seed", "1", "--no-upload"]) == 0
    bodies = [call.request.body for call in responses.calls]
    with_missing = [json.loads(b) for b in bodies if b'"age": 25' in b or b'"age":25' in b]
    assert with_missing, "row 25 (missing score) was sampled"
    assert all(body["data"]["score"] is None for body in with_missing)
    assert not any(b"NaN" in b for b in bodies)


@responses.activate
def test_failed_requests_exit_1_and_ground_truth_keeps_the_successes(project, capsys):
    echo_endpoint(fail_ages=set(range(20, 40, 3)))
    code = run(step4.main, ["--count", "20", "--seed", "5", "--no-upload"])
    assert code == 1
    sent = [json.loads(call.request.body)["data"]["age"] for call in responses.calls]
    expected_ok = sorted(a for a in sent if a not in set(range(20, 40, 3)))
    rows = read_ground_truth(project)
    assert sorted(int(r["event_id"][3:]) for r in rows) == expected_ok
    assert f"{len(expected_ok)} succeeded, {20 - len(expected_ok)} failed" in capsys.readouterr().out


@responses.activate
def test_a_refused_token_stops_the_run_at_once(project, capsys):
    responses.post(URL, json={"message": "Unauthorized"}, status=401)
    code = run(step4.main, ["--count", "50", "--concurrency", "2", "--no-upload"])
    assert code == 3
    assert len(responses.calls) < 50  # it stopped instead of sending every request to be refused
    err = capsys.readouterr().err
    assert "DOMINO_MODEL_API_TOKEN" in err and "Traceback" not in err
    assert not (project / "ground_truth").exists() or not list((project / "ground_truth").glob("*.csv"))


@pytest.mark.parametrize("argv, env_drop, message", [
    (["--label-column", "nope"], None, "label column 'nope'"),
    (["--file", "absent.csv"], None, "absent.csv"),
    (["--count", "0"], None, "--count"),
    (["--label-column", "age"], None, "one of the model's features"),
    ([], "DOMINO_MODEL_API_TOKEN", "DOMINO_MODEL_API_TOKEN"),
    (["--concurrency", "0"], None, "--concurrency"),
    (["--timeout", "0"], None, "--timeout"),
    (["--timeout", "-1"], None, "--timeout"),
])
@responses.activate
def test_bad_input_exits_2_before_any_request(project, monkeypatch, capsys, argv, env_drop, message):
    if env_drop:
        monkeypatch.delenv(env_drop)
    assert run(step4.main, argv) == 2
    assert len(responses.calls) == 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (project / "ground_truth").exists()


@responses.activate
def test_file_lacking_a_feature_is_refused(project, capsys):
    (project / "partial.csv").write_text("age,plan,actual\n1,a,yes\n")
    assert run(step4.main, ["--file", "partial.csv"]) == 2
    assert "score" in capsys.readouterr().err and len(responses.calls) == 0


@responses.activate
def test_dry_run_sends_nothing(project, capsys):
    assert run(step4.main, ["--dry-run", "--count", "5"]) == 0
    assert len(responses.calls) == 0
    out = capsys.readouterr().out
    assert '"data"' in out and "actual" in out and not (project / "ground_truth").exists()


def test_ground_truth_key_is_dated_and_unique_per_run():
    import datetime

    now = datetime.datetime(2024, 5, 1, 23, 59, tzinfo=datetime.timezone.utc)
    assert ground_truth_key("/gt/", "m1", "run-1", now) == "gt/m1/2024-05-01/run-1.csv"


def test_plain_values_are_json_safe():
    import numpy as np

    assert [plain(v) for v in (np.int64(3), np.float32("nan"), float("inf"), np.bool_(False), "a")] == \
        [3, None, None, False, "a"]


def test_rate_limiter_spaces_calls(monkeypatch):
    slept = []
    clock = iter([0.0, 0.0, 0.0])
    monkeypatch.setattr("dmm.traffic.time.monotonic", lambda: next(clock))
    monkeypatch.setattr("dmm.traffic.time.sleep", slept.append)
    limiter = RateLimiter(rate=4)
    for _ in range(3):
        limiter.wait()
    assert slept == [0.25, 0.5]


@responses.activate
def test_dry_run_names_the_label_column_as_written_and_the_resampling(project, capsys):
    """Issue 12: the ground-truth file's label column is <target>_gt; --count beyond the rows samples with
    replacement, and says so (test.csv has 20 labelled rows)."""
    assert run(step4.main, ["--dry-run", "--count", "50"]) == 0
    out = capsys.readouterr().out
    assert "writing the labels of column 'actual' to the ground-truth file as column 'churned_gt'" in out
    note = next(line for line in out.splitlines() if line.startswith("Note: --count 50"))
    assert note.startswith("Note: --count 50 is more than the 20 labelled rows of ") and "test.csv: " in note
    assert note.endswith("rows are sampled with replacement, so some are sent more than once (each with its own "
                         "event_id)")
    assert run(step4.main, ["--dry-run", "--count", "20"]) == 0
    assert "sampled with replacement" not in capsys.readouterr().out


@responses.activate
def test_a_real_run_beyond_the_rows_says_it_resampled(project, capsys):
    echo_endpoint()
    assert run(step4.main, ["--count", "25", "--seed", "2", "--no-upload"]) == 0
    out = capsys.readouterr().out
    assert "more than the 20 labelled rows" in out and "25 succeeded" in out
