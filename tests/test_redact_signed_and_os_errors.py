"""Issue 9: signed URLs are masked everywhere, and OS errors leave nothing half-written (the report as a pair)."""

from __future__ import annotations

import errno
import json
import os

import pytest

from dmm import files, report
from dmm.cli import run
from dmm.errors import UsageError
from dmm.redact import redact, redact_value

SIGNED = [
    ("http://127.0.0.1:1/objects/ds/k.csv?method=PUT&expires=99&signature=deadbeefcafe", "deadbeefcafe"),
    ("https://b.s3.amazonaws.com/k?X-Amz-Algorithm=A&X-Amz-Credential=AKIAXYZ%2F1&X-Amz-Signature=0a1b2c3d",
     "0a1b2c3d"),
    ("https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAXYZ%2F1&X-Amz-Security-Token=FQoGZX", "AKIAXYZ"),
    ("https://a.blob.core.windows.net/c/b?sv=2020-08-04&se=2030-01-01&sp=rw&sig=Zm9vYmFy%3D", "Zm9vYmFy"),
    ("https://storage.googleapis.com/b/o?X-Goog-Credential=svc%40p&X-Goog-Signature=9f9f9f", "9f9f9f"),
    ("https://user:hunter22@proxy.example.com/x", "hunter22"),
]


@pytest.mark.parametrize("url, secret", SIGNED)
def test_signed_url_credentials_are_masked(url, secret):
    text = f"Uploading failed: PUT {url} answered 403"
    assert secret not in redact(text)
    assert "answered 403" in redact(text)
    assert secret not in json.dumps(redact_value({"checks": [{"detail": text}]}))


def test_plain_urls_and_object_keys_are_left_alone():
    text = "https://domino.example.com/models/abc/latest/model?page=2&key=ground_truth/m/2024-01-01/x.csv"
    assert redact(text) == text


def test_report_is_written_redacted_and_as_a_pair(tmp_path):
    url, secret = SIGNED[0]
    html, js = report.write_report({"checks": [{"name": "x", "status": "FAIL", "detail": f"GET {url}",
                                                "fix": "", "facts": {}}], "inputs": {}}, tmp_path)
    for path in (html, js):
        assert secret not in path.read_text()


def test_report_pair_or_nothing_when_the_second_file_fails(tmp_path, monkeypatch):
    real_fdopen, calls = os.fdopen, []

    def failing_fdopen(fd, *args, **kwargs):  # the second file's write hits a full disk
        calls.append(fd)
        if len(calls) == 2:
            os.close(fd)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(files.os, "fdopen", failing_fdopen)
    with pytest.raises(UsageError) as caught:
        report.write_report({"checks": [], "inputs": {}}, tmp_path)
    assert caught.value.code == "file-write-failed"
    assert str(tmp_path) in str(caught.value) and "No space left" in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # neither file, no temp file


def test_write_together_keeps_old_files_when_interrupted(tmp_path, monkeypatch):
    first, second = tmp_path / "a.json", tmp_path / "a.html"
    first.write_text("old a")
    second.write_text("old b")
    real_replace, calls = os.replace, []

    def interrupted(src, dst):
        calls.append(dst)
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        files.write_together({first: "new a", second: "new b"})
    monkeypatch.setattr(files.os, "replace", real_replace)
    assert first.read_text() == "old a" and second.read_text() == "old b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "a.json"]


def test_cli_turns_an_os_error_into_one_sentence_naming_the_path(capsys, tmp_path):
    target = tmp_path / "ro" / "out.csv"

    def main(argv):
        raise OSError(errno.EROFS, "Read-only file system", str(target))

    assert run(main, []) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(target) in err and "read-only" in err.lower()
    assert "Traceback" not in err


def test_full_disk_under_the_ledger_leaves_no_temp_file_and_one_sentence(tmp_path, monkeypatch, capsys):
    from dmm.ledger import Ledger

    ledger = Ledger.load(tmp_path / "monitoring_ledger.json")
    ledger.record_upload("k.csv", "gt", 1, "run")
    real_fdopen = os.fdopen

    def full(fd, *args, **kwargs):
        handle = real_fdopen(fd, *args, **kwargs)
        handle.write = lambda data: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device"))
        return handle

    monkeypatch.setattr(files.os, "fdopen", full)

    def main(argv):
        ledger.save()
        return 0

    assert run(main, []) == 2
    err = capsys.readouterr().err
    assert "No space left" in err and "monitoring_ledger.json" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # no ledger, no 0-byte temp file
