"""The ledger: uploads and registrations survive a save/load, and pending means uploaded but not registered."""

from __future__ import annotations

import json

import pytest

from dmm.errors import UsageError
from dmm.ledger import Ledger


def test_missing_file_is_an_empty_ledger(tmp_path):
    ledger = Ledger.load(tmp_path / "monitoring_ledger.json")
    assert ledger.pending_registrations() == []
    assert not ledger.is_registered("any")


def test_round_trip_and_pending(tmp_path):
    path = tmp_path / "monitoring_ledger.json"
    ledger = Ledger.load(path)
    ledger.record_upload("gt/m1/2024-05-01/a.csv", "gt-store", 10, "run-a")
    ledger.record_upload("gt/m1/2024-05-02/b.csv", "gt-store", 5, "run-b")
    ledger.record_registration("gt/m1/2024-05-01/a.csv", "gt__m1__2024-05-01__a", "m1")
    ledger.save()

    again = Ledger.load(path)
    assert again.is_registered("gt/m1/2024-05-01/a.csv")
    assert not again.is_registered("gt/m1/2024-05-02/b.csv")
    assert again.pending_registrations() == ["gt/m1/2024-05-02/b.csv"]
    assert again.uploads["gt/m1/2024-05-02/b.csv"]["rows"] == 5
    assert again.registrations["gt/m1/2024-05-01/a.csv"]["model_id"] == "m1"


def test_save_is_atomic_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "sub" / "monitoring_ledger.json"
    ledger = Ledger.load(path)
    ledger.record_upload("k.csv", "ds", 1, "r")
    ledger.save()
    assert [p.name for p in path.parent.iterdir()] == ["monitoring_ledger.json"]
    assert json.loads(path.read_text())["uploads"]["k.csv"]["datasource"] == "ds"


def test_corrupt_ledger_is_a_usage_error(tmp_path):
    path = tmp_path / "monitoring_ledger.json"
    path.write_text("{not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        Ledger.load(path)
