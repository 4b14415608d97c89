"""The README documents the two commands and every flag of every numbered script."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(p.name for p in ROOT.glob("[1-6]_*.py"))


def parser_of(script: str) -> argparse.ArgumentParser:
    spec = importlib.util.spec_from_file_location(f"script_{script[:-3]}", ROOT / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_parser()


def test_readme_gives_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


@pytest.mark.parametrize("script", SCRIPTS)
def test_readme_documents_every_flag(script):
    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"### `{script}`", 1)
    assert len(section) == 2, f"README has no section for {script}"
    body = section[1].split("\n### ", 1)[0]
    flags = [option for action in parser_of(script)._actions if not isinstance(action, argparse._HelpAction)
             for option in action.option_strings if option.startswith("--")]
    missing = [flag for flag in flags if f"`{flag}" not in body]
    assert not missing, f"README's section for {script} does not document {missing}"
