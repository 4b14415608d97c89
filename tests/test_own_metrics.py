"""Your own metrics (``6_check_monitoring.py --metric FILE.py``, dmm/own_metrics.py): loading, the return shapes,
plain errors naming the function, the summary line and the custom metrics they become."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime, timezone

import pandas as pd
import pytest

from dmm.checks.summary import own_metrics_line
from dmm.errors import UsageError
from dmm.own_metrics import OwnMetric, interpret, load_metric_modules, run_metrics
from dmm.publish import push_metrics
from example.demo import METRICS_EXAMPLE
from sandbox.testing import PROJECT_ROOT


def module(tmp_path, body: str, name: str = "metrics.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


def test_the_readme_example_loads_its_public_functions_only():
    metrics = load_metric_modules([str(METRICS_EXAMPLE)])
    assert [m.name for m in metrics] == ["monthly_charges_shift", "heavy_support_share", "predictions_in_window"]
    baseline = pd.DataFrame({"monthly_charges": [50.0, 70.0, 60.0, 60.0], "support_calls": [0, 5, 0, 0]})
    window = pd.DataFrame({"monthly_charges": [90.0, 90.0, 90.0], "support_calls": [5, 6, 0]})
    results = {r["name"]: r for r in run_metrics(metrics, baseline, window)}
    assert results["monthly_charges_shift"]["value"] == pytest.approx(0.5)
    assert results["monthly_charges_shift"]["status"] == "FAIL"  # 0.5 fails value <= 0.2
    assert results["heavy_support_share"]["value"] == pytest.approx(2 / 3)
    assert results["heavy_support_share"]["status"] == "WARN"  # 2/3 is more than twice the training share 1/4
    assert results["predictions_in_window"] == {**results["predictions_in_window"], "value": 3.0, "status": None}


@pytest.mark.parametrize(("returned", "expected"), [
    (0.3, {"value": 0.3, "status": None, "passed": None}),
    ((0.3, "warn"), {"value": 0.3, "status": "WARN", "passed": True}),
    ({"value": 0.3, "threshold": 0.5}, {"value": 0.3, "status": "FAIL", "operator": ">=", "passed": False}),
    ({"value": 0.3, "operator": "<", "threshold": 0.5}, {"status": "PASS", "threshold": 0.5, "passed": True}),
    ({"value": 0.3, "status": "PASS", "operator": ">", "threshold": 0.5}, {"status": "PASS"}),
])
def test_return_shapes(returned, expected):
    result = interpret(returned, OwnMetric("m", "m.py", lambda b, w: None))
    assert {key: result[key] for key in expected} == expected


@pytest.mark.parametrize("returned", ["high", float("nan"), (1, "GREAT"), (1, "PASS", 2), {"val": 1},
                                      {"value": 1, "operator": "~", "threshold": 2}, True])
def test_unusable_returns_are_plain_errors_naming_the_function(returned):
    with pytest.raises(UsageError) as caught:
        interpret(returned, OwnMetric("churn_gap", "mine.py", lambda b, w: None))
    assert caught.value.code == "metric-failed" and "churn_gap in mine.py" in str(caught.value)


def test_a_function_that_raises_is_named(tmp_path):
    metrics = load_metric_modules([module(tmp_path, """
        def broken(baseline, window):
            return window["nope"].mean()
    """)])
    with pytest.raises(UsageError) as caught:
        run_metrics(metrics, pd.DataFrame(), pd.DataFrame({"a": [1]}))
    assert caught.value.code == "metric-failed"
    assert "broken in" in str(caught.value) and "KeyError" in str(caught.value)


@pytest.mark.parametrize(("body", "name", "words"), [
    ("def f(:\n", "metrics.py", "failed to load (SyntaxError"),
    ("import no_such_module_here\n", "metrics.py", "ModuleNotFoundError"),
    ("def one(window):\n    return 1\n", "metrics.py", "one in"),
    ("_private = 1\ndef _helper(b, w):\n    return 1\n", "metrics.py", "defines no public function"),
    ("def f(b, w):\n    return 1\n", "metrics.txt", "not a Python file"),
])
def test_bad_modules_are_refused_before_anything_runs(tmp_path, body, name, words):
    with pytest.raises(UsageError) as caught:
        load_metric_modules([module(tmp_path, body, name)])
    assert caught.value.code == "metric-module-invalid" and words in str(caught.value)


def test_a_name_defined_twice_is_refused(tmp_path):
    first = module(tmp_path, "def gap(b, w):\n    return 1\n", "a.py")
    second = module(tmp_path, "def gap(b, w):\n    return 2\n", "b.py")
    with pytest.raises(UsageError, match="gap is defined in"):
        load_metric_modules([first, second])


def test_step6_refuses_a_broken_module_with_one_sentence_and_writes_nothing(tmp_path):
    bad = module(tmp_path, "def f(:\n")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(PROJECT_ROOT / "6_check_monitoring.py"), "--metric", bad,
                           "--output-dir", str(out)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "failed to load (SyntaxError" in done.stderr
    assert not out.exists() or not list(out.iterdir())
    missing = subprocess.run([sys.executable, str(PROJECT_ROOT / "6_check_monitoring.py"), "--metric",
                              str(tmp_path / "absent.py")], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert missing.returncode == 2 and "absent.py" in missing.stderr and "Traceback" not in missing.stderr


def test_summary_line_and_custom_metrics_with_alerts():
    own = {"window_rows": 12, "metrics": [
        {"name": "gap", "value": 0.5, "status": "FAIL", "operator": "<=", "threshold": 0.2, "passed": False},
        {"name": "count", "value": 12.0, "status": None, "operator": None, "threshold": None, "passed": None},
        {"name": "told", "value": 1.0, "status": "FAIL", "operator": None, "threshold": None, "passed": False}]}
    assert own_metrics_line(own) == "Your metrics over 12 prediction(s): gap 0.5 FAIL, count 12, told 1 FAIL"

    class Client:
        def __init__(self):
            self.logged, self.alerts = [], []

        def log_metrics(self, values):
            self.logged += values

        def trigger_alert(self, model_id, metric, value, **kwargs):
            self.alerts.append((metric, value, kwargs["condition"]))

    client = Client()
    result = push_metrics({"own_metrics": own}, "m-1", client, datetime(2026, 3, 1, tzinfo=timezone.utc))
    assert [v["metric"] for v in client.logged] == ["gap", "count", "told"]
    assert client.logged[0]["tags"]["source"] == "6_check_monitoring --metric"
    # an alert needs a condition: the threshold's; a FAIL status without a threshold is logged but not alerted
    assert client.alerts == [("gap", 0.5, "lessThanEqual")] and result.alerts == ["gap"]


def test_without_a_training_set_your_metrics_say_why():
    from dmm.report import render_html

    own = {"status": "skipped", "reason": "not computed because training set did not pass", "metrics": []}
    assert own_metrics_line(own) == "Your metrics: not computed because training set did not pass"
    html = render_html({"checks": [], "own_metrics": own})
    assert 'id="own-metrics"' in html and "training set did not pass" in html


def test_a_name_of_step6s_own_custom_metrics_is_refused(tmp_path):
    """Pushed under the function's name, drift_age would overwrite step 6's drift metric of the column age."""
    with pytest.raises(UsageError) as caught:
        load_metric_modules([module(tmp_path, "def drift_age(b, w):\n    return 1\n", "a.py")])
    assert caught.value.code == "metric-module-invalid" and "my_drift_age" in str(caught.value)
