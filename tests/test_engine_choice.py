"""--engine: which executor reads step 6's window, and the plain refusals when Spark cannot start (no PySpark, no
Java), before any check runs. PySpark is never imported to decide."""

from __future__ import annotations

import sys

import pytest

from dmm.analysis import engine
from dmm.errors import UsageError
from sandbox.testing import load_script


def test_local_is_the_default_and_spark_is_taken_when_asked():
    assert engine.resolve_engine(None) in ("local", "spark")
    assert engine.resolve_engine("local") == "local"
    assert engine.resolve_engine("SPARK") == "spark"
    assert isinstance(engine.backend_for("local"), engine.LocalBackend)
    assert isinstance(engine.backend_for("spark"), engine.SparkBackend)


def test_auto_never_imports_pyspark(monkeypatch):
    monkeypatch.delitem(sys.modules, "pyspark.sql", raising=False)
    assert engine.resolve_engine("auto") == "local"
    assert "pyspark.sql" not in sys.modules


def test_an_unknown_engine_is_a_usage_error():
    with pytest.raises(UsageError) as caught:
        engine.resolve_engine("dask")
    assert caught.value.code == "flag-invalid"


def test_spark_without_pyspark_names_the_requirements_file(monkeypatch):
    monkeypatch.setattr(engine.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UsageError) as caught:
        engine.check_spark_available()
    assert caught.value.code == "spark-missing" and "requirements-spark.txt" in str(caught.value)


def test_spark_without_java_names_the_package(monkeypatch):
    monkeypatch.setattr(engine.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(engine.shutil, "which", lambda name: None)
    with pytest.raises(UsageError) as caught:
        engine.check_spark_available({"PATH": ""})
    assert caught.value.code == "spark-java-missing" and "openjdk-17-jre-headless" in str(caught.value)


def test_step6_refuses_spark_without_pyspark_in_one_sentence_exit_2(monkeypatch, tmp_path, capsys):
    from dmm.cli import run

    monkeypatch.setattr(engine.importlib.util, "find_spec", lambda name: None)
    step6 = load_script("6_check_monitoring")
    code = run(step6.main, ["--engine", "spark", "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "PySpark" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())  # nothing written
