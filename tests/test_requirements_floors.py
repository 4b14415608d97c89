"""The ranges users install from (requirements.txt, pyproject.toml) start at the floor lock (requirements-floor.txt)
that `make test-floor` runs the suite on: a stated floor is a tested one."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def floor_pins() -> dict[str, Version]:
    """The pins of requirements-floor.txt's "runtime: the floors" section."""
    text = (ROOT / "requirements-floor.txt").read_text()
    section = text.split("# --- runtime: the floors ---", 1)[1].split("# ---", 1)[0]
    pins = (Requirement(line) for line in section.splitlines() if line.strip() and not line.startswith("#"))
    return {pin.name.lower(): Version(next(iter(pin.specifier)).version) for pin in pins}


def lower_bounds(lines: list[str]) -> dict[str, Version]:
    bounds = {}
    for line in lines:
        requirement = Requirement(line)
        lows = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
        if lows:
            bounds[requirement.name.lower()] = max(lows)
    return bounds


def test_stated_floors_are_the_floor_lock():
    requirements = [line for line in (ROOT / "requirements.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
    # [project] dependencies, read without tomllib (the floor runs Python 3.10)
    block = re.search(r"(?ms)^dependencies = \[(.*?)^\]", (ROOT / "pyproject.toml").read_text())
    assert block is not None
    project = re.findall(r'"([^"]+)"', block.group(1))
    pins = floor_pins()
    for source, lines in (("requirements.txt", requirements), ("pyproject.toml", project)):
        bounds = lower_bounds(lines)
        for name, pinned in pins.items():
            if name in bounds:
                assert bounds[name] == pinned, f"{source} states {name}>={bounds[name]}, the floor lock tests {pinned}"
    assert {re.split(r"[<>=\[]", line)[0] for line in requirements} == {re.split(r"[<>=\[]", line)[0]
                                                                         for line in project}
