"""dmm.files: the one atomic writer (no temp file left behind, whatever fails) and the one JSON cleaner."""

from __future__ import annotations

import datetime
import json
import math
import stat

import numpy as np
import pandas as pd
import pytest

from dmm.files import atomic_path, json_safe, write_atomic, write_json


def test_write_atomic_replaces_the_whole_file_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    write_atomic(path, "new")
    assert path.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "out.json"
    path.write_text('{"old": true}')

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("dmm.files.os.replace", broken_replace)
    with pytest.raises(OSError):
        write_json(path, {"new": True})
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_write_interrupted_before_the_rename_leaves_no_temp_file(tmp_path, monkeypatch):
    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr("dmm.files.os.fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "ledger.json", "{}")
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_removes_the_partial_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "model.pkl"
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as partial:
            partial.write_bytes(b"half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    with atomic_path(target) as partial:
        partial.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and [p.name for p in tmp_path.iterdir()] == ["model.pkl"]


def test_private_files_are_mode_0600_whatever_the_umask(tmp_path):
    path = write_atomic(tmp_path / "secret.json", "{}", private=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_json_safe_turns_numpy_pandas_nan_and_times_into_strict_json():
    value = {1: np.int64(3), "f": np.float32(1.5), "nan": float("nan"), "inf": np.float64("inf"),
             "na": pd.NA, "nat": pd.NaT, "bool": np.bool_(True), "arr": np.array([1.0, math.nan]),
             "when": pd.Timestamp("2024-05-01T12:00:00Z"), "day": datetime.date(2024, 5, 1), "tuple": (1, "a")}
    cleaned = json_safe(value)
    assert cleaned == {"1": 3, "f": 1.5, "nan": None, "inf": None, "na": None, "nat": None, "bool": True,
                       "arr": [1.0, None], "when": "2024-05-01T12:00:00+00:00", "day": "2024-05-01",
                       "tuple": [1, "a"]}
    json.dumps(cleaned, allow_nan=False)
    assert type(cleaned["f"]) is float and type(cleaned["1"]) is int
