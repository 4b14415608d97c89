"""Issue 10 §5: the preview's test and threshold per column come from Model Monitor, then the flags, else defaults."""

from __future__ import annotations

import pytest

from dmm.checks.step import Step6Options
from dmm.drift_settings import DEFAULT, FLAG, MONITOR, parse_flags, resolve
from dmm.errors import UsageError

SAVED = {"features": [
    {"id": "1", "name": "age", "algorithm": "KULLBACK LEIBLER", "condition": {"operator": "<", "lower": 0.05}},
    {"id": "2", "name": "plan", "algorithm": "POPULATION STABILITY INDEX",
     "condition": {"operator": "<", "lower": 0.3, "upper": 0.3}},
    {"id": "3", "name": "odd", "algorithm": "SOMETHING ELSE", "condition": {"operator": "<", "lower": 1}},
]}


def test_the_monitors_settings_are_used_and_flags_override_them():
    settings = resolve(SAVED, parse_flags(["plan=KS"], ["income=>=:0.5"]))
    assert settings.columns["age"] == {"test": "KL", "operator": "<", "threshold": 0.05}
    assert settings.columns["plan"] == {"test": "KS"}  # another test: the monitor's PSI threshold is dropped
    assert settings.columns["income"] == {"operator": ">=", "threshold": 0.5}
    assert [settings.source(c) for c in ("age", "plan", "income", "odd")] == [MONITOR, FLAG, FLAG, DEFAULT]
    assert any("odd" in note for note in settings.notes) and settings.read_from_monitor


def test_an_unreadable_monitor_falls_back_to_defaults_and_says_so():
    settings = resolve(None, parse_flags(), monitor_error="HTTP 403")
    assert settings.drift_config is None and settings.source("age") == DEFAULT
    assert "HTTP 403" in settings.notes[0] and not settings.read_from_monitor


def test_the_engine_accepts_the_resolved_config():
    from dmm.analysis import DriftConfig

    config = DriftConfig(resolve(SAVED, parse_flags(["plan=KS"])).drift_config)
    assert config.main_test("age", "numerical") == "KL" and config.condition("age", "KL").threshold == 0.05
    assert config.main_test("plan", "categorical") == "KS"


@pytest.mark.parametrize("tests, thresholds", [(["age"], []), (["=KS"], []), ([], ["age=0.2"]), ([], ["age=<:x"]),
                                               ([], ["age=!:0.2"]), ([], ["age=<:inf"])])
def test_malformed_flags_are_bad_input(tests, thresholds):
    with pytest.raises(UsageError) as caught:
        Step6Options.validated(drift_tests=tests, drift_thresholds=thresholds)
    assert caught.value.code == "flag-invalid" and caught.value.exit_code == 2


def test_an_unknown_test_name_is_bad_input():
    settings = resolve(None, parse_flags(["age=NOPE"]))
    with pytest.raises(UsageError, match="unknown test"):
        settings.validate()


def test_flags_need_the_preview():
    with pytest.raises(UsageError, match="--no-preview"):
        Step6Options.validated(preview=False, drift_tests=["age=KS"])
