"""The Makefile builds .venv and .venv310 with one recipe: the two print the same commands, but for the interpreter,
the folder and the requirements file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def recipe(target: str) -> list[str]:
    """What ``make -n -B target`` would run (nothing is run)."""
    done = subprocess.run(["make", "-n", "-B", "--no-print-directory", "PYTHON=PY", "PYTHON310=PY", target],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_the_two_venvs_are_made_by_one_recipe():
    main = recipe(".venv/.installed-lock")
    floor = recipe(".venv310/.installed-floor")
    same = [line.replace(".venv310", ".venv").replace("requirements-floor.txt", "requirements-lock.txt")
            .replace(".installed-floor", ".installed-lock") for line in floor]
    assert any("pip install" in line for line in main) and same == main
