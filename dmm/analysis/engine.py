"""Which executor produces step 6's bin counts and join: the local streaming reader or PySpark.

One engine, two executors. The bins are fitted on the training data on the driver (``DriftCalculator.fit``) and
the quality metrics are computed there from the matched rows (``quality_metrics``); an executor only reads the
window's ``prediction_data`` files and produces what adds up across chunks and machines:

- per-bin production counts of every drift column (and the unseen-class tallies, the rows that held the column);
- the join-rate check's counts (``JoinStatistics``) over every row of the listed files;
- the label join (``JoinResult``): matched rows, the latest prediction winning, duplicated, unmatched and id-less
  rows counted.

``local`` (the default) is ``dmm.checks.scan.run_scan``; ``spark`` is ``dmm.analysis.spark_engine.run_spark_scan``.
Both return the same ``WindowScan``, so the preview, the report and the checks do not know which one ran.
``auto`` picks Spark only when a Spark session is already active in this process (a notebook or a job that made
one); PySpark is never imported to find out.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from typing import TYPE_CHECKING, Protocol

from dmm.errors import UsageError

if TYPE_CHECKING:
    from dmm.checks.context import CheckContext
    from dmm.checks.scan import ScanPlan, WindowScan

ENGINES = ("auto", "local", "spark")
COUNTING = ("native", "kernel")  # Spark: column expressions, or the numpy kernels in each task (mapInArrow)
DEFAULT_COUNTING = "kernel"  # measured faster on this machine's bench (bench/scale.py prints both)
WATCHERS_NOT_RUN = "not run by the Spark executor"  # the scan's watchers (report timeline, --metric rows): local only
SPARK_INSTALL = "pip install -r requirements-spark.txt (PySpark) and a Java runtime 17 or newer"


class ScanBackend(Protocol):
    """What an executor offers: one pass over the window's files for the plan, as a ``WindowScan``."""

    name: str

    def run(self, ctx: CheckContext, plan: ScanPlan) -> WindowScan: ...


class LocalBackend:
    name = "local"

    def run(self, ctx: CheckContext, plan: ScanPlan) -> WindowScan:
        from dmm.checks.scan import run_scan

        return run_scan(ctx, plan)


class SparkBackend:
    name = "spark"

    def __init__(self, counting: str = DEFAULT_COUNTING) -> None:
        self.counting = counting

    def run(self, ctx: CheckContext, plan: ScanPlan) -> WindowScan:
        from dmm.analysis.spark_engine import run_spark_scan

        return run_spark_scan(ctx, plan, counting=self.counting)


def spark_session_active() -> bool:
    """Whether this process already has an active Spark session (only looked up if PySpark is already imported)."""
    if "pyspark.sql" not in sys.modules:
        return False
    try:
        from pyspark.sql import SparkSession

        return SparkSession.getActiveSession() is not None
    except Exception:
        return False


def resolve_engine(engine: str | None) -> str:
    """``local`` or ``spark`` for a requested ``auto``/``local``/``spark`` (None is ``auto``)."""
    engine = (engine or "auto").lower()
    if engine not in ENGINES:
        raise UsageError(f"--engine {engine} is not one of {', '.join(ENGINES)}", "Use --engine local or spark",
                         code="flag-invalid")
    if engine == "auto":
        return "spark" if spark_session_active() else "local"
    return engine


def check_spark_available(env: dict[str, str] | None = None) -> None:
    """A ``UsageError`` (exit 2) before any check runs when ``--engine spark`` cannot start: no PySpark, no Java."""
    environ = os.environ if env is None else env
    if importlib.util.find_spec("pyspark") is None:
        raise UsageError("--engine spark needs PySpark, which is not installed", SPARK_INSTALL, code="spark-missing")
    java_home = environ.get("JAVA_HOME")
    if not (java_home and os.path.exists(os.path.join(java_home, "bin", "java"))) and shutil.which("java") is None:
        raise UsageError("--engine spark needs a Java runtime, and none was found (no java on PATH, no JAVA_HOME)",
                         "Install one (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME",
                         code="spark-java-missing")


def backend_for(engine: str, counting: str = DEFAULT_COUNTING) -> ScanBackend:
    return SparkBackend(counting) if resolve_engine(engine) == "spark" else LocalBackend()
