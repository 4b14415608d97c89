"""What MLflow 2.x does to its caller when it opens a store, undone (the floor lock's MLflow; 3.x does not)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def no_stray_artifact_root() -> Iterator[None]:
    """Undo what MLflow 2.x does to the caller when it opens a database store, even only to read: it makes
    ``./mlruns`` (its default artifact root), and a new database's migrations run alembic's ``fileConfig``, which
    puts a stderr handler on the root logger and disables every existing logger. Choosing a model changes nothing,
    so an empty ``mlruns`` that was not there before is removed again and the logging set-up is restored."""
    stray = Path("mlruns")
    existed = stray.exists()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    loggers = {name: logger.disabled for name, logger in logging.Logger.manager.loggerDict.items()
               if isinstance(logger, logging.Logger)}
    try:
        yield
    finally:
        if not existed and stray.is_dir() and not any(stray.iterdir()):
            stray.rmdir()
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, disabled in loggers.items():
            logging.getLogger(name).disabled = disabled
