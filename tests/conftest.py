"""Shared fixtures: a running local Domino sandbox (see sandbox/testing.py)."""

from __future__ import annotations

import pytest

# dmm, sandbox and example come from the project's editable install (make install); the numbered scripts are
# loaded by path with sandbox.testing.load_script.
from sandbox.testing import RunningSandbox


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """One sandbox for the whole session, stopped at the end (failures included)."""
    running = RunningSandbox(tmp_path_factory.mktemp("sandbox-state")).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def sandbox_factory(tmp_path_factory):
    """Make fresh, isolated sandboxes: ``sandbox_factory(extra_args=[...])``; all are stopped after the test."""
    started: list[RunningSandbox] = []

    def make(**kwargs) -> RunningSandbox:
        running = RunningSandbox(tmp_path_factory.mktemp("sandbox-isolated"), **kwargs)
        started.append(running)
        return running.start()

    yield make
    for running in started:
        running.stop()
