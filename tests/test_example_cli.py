"""The example's commands (data, train, demo) answer a user error with one sentence and a non-zero exit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dmm.cli import EXIT_USAGE, run
from example import data, demo, train
from sandbox.testing import PROJECT_ROOT


def refused(main, argv, capsys) -> str:
    assert run(main, argv) == EXIT_USAGE
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.err


def test_data_refuses_too_few_rows_and_an_output_that_is_a_file(tmp_path, capsys):
    assert "--rows must be at least 2" in refused(data.main, ["--out", str(tmp_path), "--rows", "-5"], capsys)
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for out in (a_file, a_file / "sub"):
        assert f"Cannot write the CSV files to {out}" in refused(data.main, ["--out", str(out)], capsys)
    assert a_file.read_text() == "x" and not (tmp_path / "train.csv").exists()


def test_train_refuses_a_missing_data_folder_and_no_trees(tmp_path, capsys):
    message = refused(train.main, ["--data-dir", str(tmp_path / "missing"), "--experiment", "e"], capsys)
    assert "train.csv does not exist" in message and "python -m example.data" in message
    assert "--trees must be at least 1" in refused(
        train.main, ["--data-dir", str(tmp_path), "--experiment", "e", "--trees", "0"], capsys)


def test_train_on_the_other_tasks_data_is_a_usage_error_and_still_a_value_error(tmp_path):
    data.write_dataset(tmp_path, n_rows=50)
    with pytest.raises(train.TrainingDataError, match="--task regression") as raised:
        train.train_and_log(tmp_path, "e", n_estimators=2, task="regression")
    assert isinstance(raised.value, ValueError) and raised.value.exit_code == EXIT_USAGE


def test_demo_refuses_a_bad_count_before_starting_anything(tmp_path, capsys):
    out = tmp_path / "out"
    assert "--count must be at least 1" in refused(demo.main, ["--out", str(out), "--count", "0"], capsys)
    assert not out.exists()


def test_demo_never_empties_a_folder_it_did_not_write(tmp_path, capsys):
    """``--out .`` in the project root used to delete the project: only an earlier demo's folders may go."""
    keep = tmp_path / "precious.txt"
    keep.write_text("mine")
    (tmp_path / "sandbox").mkdir()
    message = refused(demo.main, ["--out", str(tmp_path), "--count", "1"], capsys)
    assert "precious.txt" in message and keep.read_text() == "mine" and (tmp_path / "sandbox").is_dir()
    assert "is a file" in refused(demo.main, ["--out", str(keep)], capsys)
    assert keep.read_text() == "mine"


def test_demo_empties_an_earlier_demos_folder(tmp_path):
    (tmp_path / "sandbox").mkdir()
    (tmp_path / "workspace" / "data").mkdir(parents=True)
    demo.empty_output_folder(tmp_path)
    assert not tmp_path.exists()


@pytest.mark.parametrize("module, args", [
    ("example.data", ["--out", "/dev/null/x"]),
    ("example.train", ["--data-dir", "/nonexistent-folder", "--experiment", "e"]),
])
def test_modules_run_as_scripts_print_one_line(module, args):
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == EXIT_USAGE
    assert done.stderr.startswith("Error: ") and len(done.stderr.strip().splitlines()) == 1, done.stderr
