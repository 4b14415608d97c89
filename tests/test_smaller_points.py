"""Issue 12's smaller points: step 1 warns about identifier-like features, step 2 says when a run logged no model,
step 4 says it samples with replacement beyond the file's rows and names the label column as written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import respx

from dmm.cli import run
from dmm.training_set import looks_like_identifier, plan_lines, plan_training_set
from example.data import TARGET, write_dataset
from sandbox.testing import load_script

step1 = load_script("1_register_training_set")


# --- step 1: a feature that looks like an identifier -------------------------------------------------------------

def test_step_1_warns_about_an_identifier_feature_and_names_both_flags(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DMM_CONFIG", raising=False)
    train = write_dataset(tmp_path / "data", n_rows=200)["train"]
    frame = pd.read_csv(train)
    frame.insert(0, "customer_ref", [f"C{n:05d}" for n in np.random.default_rng(3).permutation(len(frame))])
    frame.to_csv(train, index=False)
    with respx.mock(assert_all_called=False) as mock:
        code = run(step1.main, ["--file", str(train), "--name", "churn", "--target", TARGET, "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0 and len(mock.calls) == 0
    warnings = [line for line in out.splitlines() if line.startswith("Warning: feature")]
    assert warnings == ["Warning: feature 'customer_ref' has a different value in every row, like an identifier; "
                        "its drift would mean nothing. Pass --key customer_ref (kept with the data, not monitored) "
                        "or --exclude customer_ref (left out)."]
    code = run(step1.main, ["--file", str(train), "--name", "churn", "--target", TARGET, "--dry-run",
                            "--key", "customer_ref"])
    assert code == 0 and "Warning: feature" not in capsys.readouterr().out


@pytest.mark.parametrize("values,expected", [
    ([f"id-{n}" for n in range(50)], True),                       # text, unique per row
    (list(np.random.default_rng(1).permutation(50) + 1000), True),  # whole numbers covering a range
    (list(range(7, 507, 10)), True),                                # ascending whole numbers
    (list(np.random.default_rng(2).choice(10_000, 50, replace=False)), False),  # unique amounts, no sequence
    (list(np.random.default_rng(3).normal(size=50)), False),        # real-valued: unique but a measurement
    ([f"id-{n % 25}" for n in range(50)], False),                   # repeats
    ([f"id-{n}" for n in range(5)], False),                         # too few rows to tell
])
def test_looks_like_identifier(values, expected):
    assert looks_like_identifier(pd.Series(values)) is expected


def test_the_plan_of_data_without_identifiers_has_no_warning():
    frame = pd.DataFrame({"x": np.random.default_rng(0).normal(size=30), "c": ["a", "b", "c"] * 10,
                          "y": [0, 1] * 15})
    assert not any(line.startswith("Warning") for line in plan_lines(plan_training_set(frame, "t", "y")))
