"""Issue 9: the label journal (nothing the model may have captured goes unlabelled, whatever stops step 4),
finishing unfinished journals (a lost upload answer is recognised, not re-uploaded), and step 5's idempotency by
content (the same labels never registered twice; a different label refused unless --relabel)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from fakes import FakeServices, make_config
from test_ground_truth import NOW, FakeDataSources, FakeMonitor

from dmm.errors import ApiError, Interrupted, UsageError
from dmm.ground_truth import GroundTruthOptions, register_ground_truth
from dmm.journal import (
    LabelJournal,
    content_digest,
    finish_journal,
    ground_truth_csv,
    journal_folder,
    read_journal,
)
from dmm.ledger import Ledger
from dmm.model_api import Prediction
from dmm.schema import Feature, MonitoringSchema
from dmm.traffic import TrafficOptions, generate_traffic

KEY = "ground_truth/m1/2024-05-10/run-1.csv"


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("DOMINO_USER_API_KEY", "user-key-abcdef")
    monkeypatch.setenv("DOMINO_MODEL_API_TOKEN", "model-token-abcdef")
    monkeypatch.chdir(tmp_path)
    MonitoringSchema("churn", 1, "classification", "churned",
                     (Feature("age", "numerical"), Feature("plan", "categorical")),
                     class_labels=("no", "yes")).save(tmp_path / "monitoring_schema.json")
    return make_config(tmp_path, env={"DOMINO_USER_API_KEY": "user-key-abcdef",
                                      "DOMINO_MODEL_API_TOKEN": "model-token-abcdef"})


def journal_with(folder, key=KEY):
    journal = LabelJournal.create(folder, "run-1", model_id="m1", datasource="gt-store", key=key,
                                  label_column="churned_gt")
    journal.sent(0, "e0", "yes")
    journal.answered(0, "e0", "2024-05-10T00:00:00Z")
    journal.sent(1, "e1", "no")
    journal.failed(1, reached=True)    # 502 after the model ran: may be captured, keep the label
    journal.sent(2, "e2", "no")
    journal.failed(2, reached=False)   # 400: refused before predict ran
    journal.sent(3, "e3", "yes")       # in flight when the process died
    return journal


def test_journal_keeps_every_label_the_model_may_have_captured(tmp_path):
    journal = journal_with(tmp_path)
    with open(journal.path, "a") as handle:
        handle.write('{"t": "answer", "i": 3, "ev')  # torn by kill -9
    contents = read_journal(journal.path)
    assert [row[0] for row in contents.labels()] == ["e0", "e1", "e3"]
    assert contents.closed is None


def test_finish_uploads_once_and_recognises_a_lost_upload_answer(tmp_path, config):
    journal_with(tmp_path)
    contents = read_journal(tmp_path / "run-1.jsonl")
    sources, ledger = FakeDataSources(), Ledger.load(config.ledger_path)
    first = finish_journal(contents, sources, ledger)
    assert first.action == "uploaded" and sources.uploads == [KEY]
    assert ledger.uploads[KEY]["sha256"] == content_digest(sources.objects[KEY])

    lost = Ledger.load(config.ledger_path.with_name("other.json"))  # the upload arrived, its answer did not
    again = finish_journal(contents, sources, lost)
    assert again.action == "found" and sources.uploads == [KEY]  # not uploaded a second time
    assert KEY in lost.uploads
    assert finish_journal(contents, sources, ledger).action == "recorded"


def register(config, sources, ledger=None, monitor=None, **options):
    services = FakeServices(monitor=monitor or FakeMonitor(), datasources=sources,
                            ledger=ledger or Ledger.load(config.ledger_path))
    return register_ground_truth(config, GroundTruthOptions(**options), services, now=NOW)


def test_step5_finishes_a_journal_step4_left_and_registers_it(config):
    journal_with(journal_folder(config.ledger_path))
    sources, monitor = FakeDataSources(), FakeMonitor()
    result = register(config, sources, monitor=monitor)
    assert [r.key for r in result.registrations if r.registered] == [KEY]
    assert sources.uploads == [KEY] and any("Recovered" in line for line in result.recovered)
    assert set(Ledger.load(config.ledger_path).labels["m1"]) == {"e0", "e1", "e3"}
    assert register(config, sources, monitor=monitor).nothing_to_do  # a rerun does nothing


def test_same_labels_under_another_name_register_nothing(config, tmp_path):
    sources, monitor = FakeDataSources(["ground_truth/m1/2024-05-10/a.csv"]), FakeMonitor()
    register(config, sources, monitor=monitor)
    sources.objects["ground_truth/m1/2024-05-10/copy.csv"] = sources.objects["ground_truth/m1/2024-05-10/a.csv"]
    again = register(config, sources, monitor=monitor)
    assert again.nothing_to_do and len(monitor.registered) == 1
    assert "already registered" in again.skipped[0][1]

    user = tmp_path / "mine.csv"
    user.write_bytes(sources.objects["ground_truth/m1/2024-05-10/a.csv"])
    by_file = register(config, sources, monitor=monitor, file=str(user))
    assert by_file.nothing_to_do and len(monitor.registered) == 1


def test_a_different_label_is_refused_unless_relabel(config, tmp_path):
    sources, monitor = FakeDataSources(["ground_truth/m1/2024-05-10/a.csv"]), FakeMonitor()
    register(config, sources, monitor=monitor)
    flipped = sources.objects["ground_truth/m1/2024-05-10/a.csv"].replace(b",yes,", b",no,")
    sources.objects["ground_truth/m1/2024-05-10/b.csv"] = flipped
    refused = register(config, sources, monitor=monitor)
    assert refused.refused and "different registered label" in refused.refused[0][1]
    assert "not documented" in refused.refused[0][1] and len(monitor.registered) == 1

    user = tmp_path / "fix.csv"
    user.write_bytes(flipped)
    with pytest.raises(UsageError) as caught:
        register(config, sources, monitor=monitor, file=str(user))
    assert caught.value.code == "label-conflict"

    relabelled = register(config, sources, monitor=monitor, relabel=True)
    assert [r.registered for r in relabelled.registrations] == [True]
    assert len(relabelled.registrations[0].labels) == 1  # only the id whose label changed


def test_partly_registered_file_registers_only_its_new_rows(config):
    sources, monitor = FakeDataSources(["ground_truth/m1/2024-05-10/a.csv"]), FakeMonitor()
    register(config, sources, monitor=monitor)
    old = sources.objects["ground_truth/m1/2024-05-10/a.csv"]
    sources.objects["ground_truth/m1/2024-05-10/more.csv"] = old + b"fresh-1,yes,2024-05-01T00:00:00Z\n"
    result = register(config, sources, monitor=monitor)
    (registration,) = result.registrations
    assert registration.key.startswith("ground_truth/m1/2024-05-10/more-new-")
    assert list(registration.labels) == ["fresh-1"]
    assert sources.objects[registration.key].count(b"\n") == 2  # header + the one new row
    assert register(config, sources, monitor=monitor).nothing_to_do


@pytest.mark.parametrize("edit, reason", [
    (lambda b: b + b"ground_truth/m1/2024-05-10/a.csv-0,yes,2024-05-01\n", "repeats"),
    (lambda b: b.replace(b",yes,", b",maybe,"), "not classes"),
    (lambda b: b.rsplit(b"\n", 2)[0] + b"\n", "changed after it was uploaded"),
])
def test_files_step4_uploaded_are_checked_before_registering(config, edit, reason):
    key = "ground_truth/m1/2024-05-10/a.csv"
    sources, ledger = FakeDataSources([key]), Ledger.load(config.ledger_path)
    ledger.record_upload(key, "gt-store", 2, "run", digest=content_digest(sources.objects[key]))
    sources.objects[key] = edit(sources.objects[key])
    if reason != "changed after it was uploaded":
        ledger.uploads[key]["sha256"] = content_digest(sources.objects[key])  # edited before upload
    result = register(config, sources, ledger=ledger)
    assert not result.registrations and reason in result.refused[0][1]


class SlowModel:
    """A Model API client whose 5th call delivers SIGTERM to the process, as `kill` or a stopped Job would."""

    def __init__(self):
        self.calls = 0
        self.lock = threading.Lock()

    def predict(self, data):
        with self.lock:
            self.calls += 1
            calls = self.calls
        if calls == 5:
            os.kill(os.getpid(), signal.SIGTERM)
        if calls >= 5:
            time.sleep(0.05)  # a request's round trip: the main thread gets its turn to handle the signal
        if calls == 3:
            raise ApiError("Calling the Model API failed", status=502)
        return Prediction({"churned": "no", "event_id": data["event_id"], "timestamp": "t"}, data["event_id"],
                          None, 0.01)


def test_sigterm_stops_sending_at_once_and_keeps_every_sent_label(config, tmp_path):
    (tmp_path / "test.csv").write_text("age,plan,churned\n" + "".join(f"{i},a,{'yes' if i % 2 else 'no'}\n"
                                                                      for i in range(50)))
    model = SlowModel()
    services = FakeServices(monitor=FakeMonitor(), datasources=FakeDataSources(),
                            ledger=Ledger.load(config.ledger_path))
    services.model_api = lambda **kwargs: model  # type: ignore[method-assign]
    with pytest.raises(Interrupted) as caught:
        generate_traffic(config, TrafficOptions(count=200, file=str(tmp_path / "test.csv"), concurrency=1),
                         services)
    assert caught.value.exit_code == 130
    assert model.calls < 50  # stopped at once, not after sending all 200
    (journal,) = journal_folder(config.ledger_path).glob("*.jsonl")
    contents = read_journal(journal)
    assert contents.closed == "interrupted"
    assert len(contents.labels()) == len(contents.sent) == model.calls  # the 502 one too: it may be captured
    assert ground_truth_csv(contents.labels(), "churned_gt").count(b"\n") == model.calls + 1


class LostSignalModel(SlowModel):
    """SIGTERM's handler runs on the 5th call and its KeyboardInterrupt is lost, as when the signal lands in a
    finaliser (``__del__``): the handler is called here and its exception swallowed."""

    def predict(self, data):
        with self.lock:
            self.calls += 1
            calls = self.calls
        if calls == 5:
            handler = signal.getsignal(signal.SIGTERM)
            try:
                handler(signal.SIGTERM, None)
            except KeyboardInterrupt:
                pass
        return Prediction({"churned": "no", "event_id": data["event_id"], "timestamp": "t"}, data["event_id"],
                          None, 0.01)


def test_sigterm_whose_interrupt_is_lost_still_stops_sending(config, tmp_path):
    (tmp_path / "test.csv").write_text("age,plan,churned\n" + "".join(f"{i},a,no\n" for i in range(50)))
    model = LostSignalModel()
    services = FakeServices(monitor=FakeMonitor(), datasources=FakeDataSources(),
                            ledger=Ledger.load(config.ledger_path))
    services.model_api = lambda **kwargs: model  # type: ignore[method-assign]
    with pytest.raises(Interrupted):
        generate_traffic(config, TrafficOptions(count=200, file=str(tmp_path / "test.csv"), concurrency=1),
                         services)
    assert model.calls < 50


def test_step4_output_folder_that_cannot_hold_files_stops_before_sending(config, tmp_path):
    (tmp_path / "test.csv").write_text("age,plan,churned\n1,a,yes\n")
    model = SlowModel()
    services = FakeServices(datasources=FakeDataSources(), ledger=Ledger.load(config.ledger_path))
    services.model_api = lambda **kwargs: model  # type: ignore[method-assign]
    (tmp_path / "blocked").write_text("a file where the folder should be")
    with pytest.raises(UsageError):
        generate_traffic(config, TrafficOptions(count=3, file=str(tmp_path / "test.csv"),
                                                output_dir=str(tmp_path / "blocked")), services)
    assert model.calls == 0
