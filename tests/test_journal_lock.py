"""A step 5 (or a second step 4) started while step 4 is still sending leaves step 4's journal alone: step 4 holds
its journal's lock until its labels are uploaded, a killed step 4 lets it go, and no step saves a stale ledger over
another's records."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fakes import FakeServices
from test_ground_truth import FakeDataSources, FakeMonitor
from test_label_journal import KEY, config, register  # noqa: F401 - the fixture is used by name

from dmm.journal import claimed, finish_journals, journal_folder
from dmm.ledger import Ledger
from dmm.model_api import Prediction
from dmm.traffic import TrafficOptions, generate_traffic

ROOT = Path(__file__).resolve().parents[1]

STEP4 = """
import sys
from pathlib import Path
from dmm.journal import LabelJournal
journal = LabelJournal.create(Path(sys.argv[1]), "run-1", model_id="m1", datasource="gt-store", key=sys.argv[2],
                              label_column="churned_gt")
journal.sent(0, "e0", "yes")
journal.answered(0, "e0", "2024-05-10T00:00:00Z")
print("sending", flush=True)
sys.stdin.read()  # still sending, until killed
"""


def test_step5_skips_the_journal_of_a_step4_that_is_still_running_and_finishes_it_once_killed(config):  # noqa: F811
    folder = journal_folder(config.ledger_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    step4 = subprocess.Popen([sys.executable, "-c", STEP4, str(folder), KEY], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        assert step4.stdout is not None and step4.stdout.readline().strip() == "sending"
        sources, monitor = FakeDataSources(), FakeMonitor()
        during = register(config, sources, monitor=monitor)
        assert sources.uploads == [] and monitor.registered == []  # no partial file uploaded or registered
        assert any("step 4 is still running" in line for line in during.recovered)
        assert KEY not in Ledger.load(config.ledger_path).uploads
        second_step4 = finish_journals(folder, sources, Ledger.load(config.ledger_path), "gt-store")
        assert [item.action for item in second_step4] == ["busy"] and sources.uploads == []
    finally:
        step4.kill()  # kill -9: the lock goes with the process
        step4.wait()
    after = register(config, sources, monitor=monitor)
    assert sources.uploads == [KEY] and [r.key for r in after.registrations if r.registered] == [KEY]
    assert any("Recovered" in line for line in after.recovered)


class WatchingModel:
    """A Model API client that, mid-run, checks what another step's recovery would do with step 4's journal."""

    def __init__(self, settings):
        self.config, self.seen = settings, []

    def predict(self, data):
        folder = journal_folder(self.config.ledger_path)
        self.seen.append([item.action for item in finish_journals(folder, FakeDataSources(),
                                                                  Ledger.load(self.config.ledger_path), "gt-store")])
        return Prediction({"event_id": data["event_id"], "timestamp": "t"}, data["event_id"], None, 0.01)


class WatchingDataSources(FakeDataSources):
    def __init__(self, settings):
        super().__init__()
        self.config, self.held_during_upload = settings, []

    def upload_bytes(self, name, key, data):
        (path,) = journal_folder(self.config.ledger_path).glob("*.jsonl")
        with claimed(path) as free:
            self.held_during_upload.append(not free)
        super().upload_bytes(name, key, data)


def test_step4_holds_its_journal_until_its_labels_are_uploaded(config, tmp_path):  # noqa: F811
    (tmp_path / "test.csv").write_text("age,plan,churned\n1,a,yes\n2,b,no\n")
    model, sources = WatchingModel(config), WatchingDataSources(config)
    services = FakeServices(monitor=FakeMonitor(), datasources=sources, ledger=Ledger.load(config.ledger_path))
    services.model_api = lambda **kwargs: model  # type: ignore[method-assign]
    result = generate_traffic(config, TrafficOptions(count=3, file=str(tmp_path / "test.csv"), concurrency=1),
                              services)
    assert result.ground_truth_key and model.seen == [["busy"]] * 3
    assert sources.held_during_upload == [True]
    with claimed(result.journal_path) as free:
        assert free  # let go when step 4 returns


def test_a_stale_ledger_saved_later_keeps_the_other_steps_records(config):  # noqa: F811
    step4 = Ledger.load(config.ledger_path)  # read when step 4 started
    step5 = Ledger.load(config.ledger_path)
    step5.record_upload("gt/a.csv", "gt-store", 2, "run-a")
    step5.record_registration("gt/a.csv", "ds-a", "m1", {"e1": "yes", "e2": "no"})
    step5.save()
    step4.record_upload("gt/b.csv", "gt-store", 1, "run-b")
    step4.save()
    saved = Ledger.load(config.ledger_path)
    assert set(saved.uploads) == {"gt/a.csv", "gt/b.csv"} and saved.is_registered("gt/a.csv")
    assert saved.registered_label("m1", "e2") == (True, "no")

    step5.record_registration("gt/c.csv", "ds-c", "m1", {"e2": "yes"})  # a relabel, saved after step 4's save
    step5.save()
    assert Ledger.load(config.ledger_path).registered_label("m1", "e2") == (True, "yes")
    assert set(step5.uploads) == {"gt/a.csv", "gt/b.csv"}  # a save also takes in the others' records


def test_a_file_system_without_locks_goes_on_unlocked(tmp_path, monkeypatch):
    """On NFS ``flock`` can fail outright (EBADF, ENOLCK): journals count as free and the ledger still saves, as
    before locks existed; only a lock held by another process (EWOULDBLOCK) means busy."""
    import errno
    import fcntl

    journal = tmp_path / "run-1.jsonl"
    journal.write_text("{}\n")

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with claimed(journal) as mine:
        assert mine
    assert journal.read_text() == "{}\n"  # opened for writing, never written
    ledger = Ledger.load(tmp_path / "monitoring_ledger.json")
    ledger.uploads["gt/a.csv"] = {"datasource": "gt-store", "rows": 1}
    ledger.save()
    assert "gt/a.csv" in Ledger.load(tmp_path / "monitoring_ledger.json").uploads
