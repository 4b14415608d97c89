"""The shape issue 7 left, kept: thin scripts, small modules, a library that knows neither config_loader nor the
sandbox, and no sys.path hacks (the project is installed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(ROOT.glob("[0-9]_*.py"))
MODULES = sorted(p for folder in ("dmm", "sandbox", "example") for p in (ROOT / folder).rglob("*.py"))
SCRIPT_LINES, MODULE_LINES = 80, 400


def lines(path: Path) -> int:
    return len(path.read_text().splitlines())


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_numbered_scripts_stay_thin(script):
    assert lines(script) <= SCRIPT_LINES


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_stay_small(module):
    assert lines(module) <= MODULE_LINES


def test_the_library_knows_neither_config_loader_nor_the_sandbox():
    pattern = re.compile(r"config_loader|DMM_SANDBOX|/sandbox/|^\s*(from|import) sandbox", re.MULTILINE)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "dmm").rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_no_sys_path_insertions_outside_the_model_host():
    allowed = {ROOT / "sandbox" / "model_host.py", Path(__file__).resolve()}  # model_host: as Domino imports a script
    found = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py")
             if not any(part.startswith(".venv") for part in p.parts)  # .venv, and .venv310 (the floor lock)
             and p not in allowed and "sys.path.insert" in p.read_text()]
    assert found == []


def module_level_environment_reads(path: Path) -> list[int]:
    """Lines outside any function where ``path`` reads the environment (``os.environ``, ``os.getenv``)."""
    import ast

    found: list[int] = []

    names = ("environ", "getenv", "environb")

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            # the body runs when called; decorators and default values run at import
            at_import = [*getattr(node, "decorator_list", []), *node.args.defaults,
                         *(d for d in node.args.kw_defaults if d is not None)]
            for child in at_import:
                visit(child)
            return
        name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
        if name in names:
            found.append(node.lineno)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


def test_the_library_reads_no_environment_at_import(tmp_path):
    """tests/step_server.py imports ``dmm`` once and forks every step from it; a step's environment is set after the
    fork, so a module that read it at import would see the server's instead (a plain ``python step.py`` would not)."""
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nA = os.environ.get('A')\n\ndef f(e=os.getenv('E')):\n    return os.getenv('B')\n"
                      "class C:\n    D = os.getenv('D')\nfrom os import environ\nF = environ['F']\n")
    assert module_level_environment_reads(sample) == [2, 4, 7, 9]
    offenders = {str(p.relative_to(ROOT)): lines for p in (ROOT / "dmm").rglob("*.py")
                 if (lines := module_level_environment_reads(p))}
    assert offenders == {}
