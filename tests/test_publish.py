"""--push-metrics and --schedule: which values are logged, which alerts raised, what the schedule saves."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from dmm.errors import ApiError, UsageError
from dmm.publish import custom_metrics_client, metric_name, push_metrics, schedule_drift_checks, scheduler_features

WHEN = datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc)


def column(name, value, passed, operator="<", threshold=0.2):
    return {"column": name, "value_type": "numerical", "main_test": "PSI", "value": value, "passed": passed,
            "tests": [{"name": "PSI", "api_name": "POPULATION STABILITY INDEX", "operator": operator,
                       "threshold": threshold, "value": value}]}


REPORT = {
    "drift": {"columns": [column("age", 0.5, False), column("plan code", 0.01, True), column("empty", None, None)]},
    "quality": {"metrics": [{"name": "accuracy", "value": 0.6, "operator": ">=", "threshold": 0.7, "passed": False},
                            {"name": "auc_roc", "value": None, "operator": ">=", "threshold": 0.7, "passed": None}]},
}


class FakeMetrics:
    def __init__(self, fail=False):
        self.logged, self.alerts, self.fail = [], [], fail

    def log_metrics(self, values):
        if self.fail:
            raise RuntimeError("HTTP 400 bad metric")
        self.logged.extend(values)

    def trigger_alert(self, model_id, metric, value, condition=None, lower_limit=None, upper_limit=None,
                      description=None):
        self.alerts.append((model_id, metric, value, condition, lower_limit, upper_limit))


def test_push_logs_every_value_and_alerts_on_failures():
    client = FakeMetrics()
    result = push_metrics(REPORT, "dmm-1", client, WHEN)
    assert [v["metric"] for v in client.logged] == ["drift_age", "drift_plan_code", "quality_accuracy"]
    assert client.logged[0] == {"modelMonitoringId": "dmm-1", "metric": "drift_age", "value": 0.5,
                                "timestamp": "2025-03-10T12:00:00Z",
                                "tags": {"column": "age", "test": "PSI", "source": "6_check_monitoring"}}
    assert client.alerts == [("dmm-1", "drift_age", 0.5, "lessThan", 0.2, 0.2),
                             ("dmm-1", "quality_accuracy", 0.6, "greaterThanEqual", 0.7, 0.7)]
    assert result.alerts == ["drift_age", "quality_accuracy"]


def test_a_refused_push_is_an_api_error():
    with pytest.raises(ApiError, match="Logging custom metrics failed"):
        push_metrics(REPORT, "dmm-1", FakeMetrics(fail=True), WHEN)


def test_custom_metrics_need_the_project_identity():
    with pytest.raises(UsageError, match="DOMINO_PROJECT_OWNER"):
        custom_metrics_client("key", "http://127.0.0.1:1", {"DOMINO_PROJECT_NAME": "p"})


def test_metric_names_are_safe():
    assert metric_name("drift", "plan code/2") == "drift_plan_code_2"


class FakeMonitor:
    """Model Monitor's drift-check config and schedules (a second create would add a second schedule)."""

    def __init__(self, saved, drift_scheduled=False, quality_scheduled=False, quality_status=None):
        self.saved, self.config, self.schedules = saved, None, []
        self.summary = {"isDataDriftCheckScheduled": drift_scheduled, "isModelQualityCheckScheduled": quality_scheduled}
        self.quality_status = quality_status

    def drift_scheduler_query(self, model_id):
        if self.saved is None:
            raise ApiError("not there")
        return self.saved

    def save_scheduler_query(self, model_id, features):
        self.config = features

    def model_summary(self, model_id):
        return dict(self.summary)

    def get_model(self, model_id):
        return dict(self.summary)

    def create_drift_schedule(self, model_id):
        self.schedules.append(("drift", model_id))
        self.summary["isDataDriftCheckScheduled"] = True
        return {"schedulerJobId": "job-1"}

    def create_quality_schedule(self, model_id):
        if self.quality_status:
            raise ApiError("Scheduling failed", status=self.quality_status, server_message="No ground truth data")
        self.schedules.append(("quality", model_id))
        self.summary["isModelQualityCheckScheduled"] = True


SAVED = {"features": [{"id": "v1", "name": "age", "type": "numerical", "algorithm": "KULLBACK LEIBLER",
                       "alertable": False, "condition": {"operator": "<", "lower": 1, "upper": 1}},
                      {"id": "v9", "name": "other", "algorithm": "KL"}]}


def test_schedule_keeps_the_monitors_own_tests_and_adds_what_it_lacks():
    monitor = FakeMonitor(SAVED)
    result = schedule_drift_checks(REPORT, "dmm-1", monitor)
    assert monitor.config[:2] == SAVED["features"]  # the user's settings, untouched
    assert [f["name"] for f in monitor.config[2:]] == ["plan code", "empty"]
    assert monitor.config[2]["algorithm"] == "POPULATION STABILITY INDEX"
    assert monitor.schedules == [("drift", "dmm-1"), ("quality", "dmm-1")]
    assert (result.features, result.saved, result.drift, result.quality) == (4, True, "created", "created")


def test_a_flagged_column_is_saved_with_the_flags_test():
    flagged = {"drift": {"columns": [dict(column("age", 0.5, False, threshold=0.3), source="flag")]}}
    monitor = FakeMonitor(SAVED)
    schedule_drift_checks(flagged, "dmm-1", monitor)
    assert monitor.config[0]["algorithm"] == "POPULATION STABILITY INDEX"
    assert monitor.config[0]["condition"] == {"operator": "<", "lower": 0.3, "upper": 0.3}
    assert monitor.config[0]["id"] == "v1" and monitor.config[0]["alertable"] is False


def test_schedule_never_creates_a_second_schedule_and_saves_nothing_unchanged():
    monitor = FakeMonitor(SAVED)
    schedule_drift_checks(REPORT, "dmm-1", monitor)
    monitor.saved = {"features": monitor.config}
    monitor.config = None
    again = schedule_drift_checks(REPORT, "dmm-1", monitor)
    assert monitor.schedules == [("drift", "dmm-1"), ("quality", "dmm-1")] and monitor.config is None
    assert (again.saved, again.drift, again.quality) == (False, "already scheduled", "already scheduled")


def test_an_unknown_schedule_state_creates_nothing():
    monitor = FakeMonitor(SAVED)
    monitor.summary = {}
    result = schedule_drift_checks(REPORT, "dmm-1", monitor)
    assert monitor.schedules == [] and result.drift == "unknown"


@pytest.mark.parametrize("status, words", [(404, "no known API"), (400, "No ground truth data")])
def test_a_quality_schedule_the_monitor_refuses_is_reported_not_raised(status, words):
    monitor = FakeMonitor(SAVED, quality_status=status)
    result = schedule_drift_checks(REPORT, "dmm-1", monitor)
    assert result.drift == "created" and words in result.quality and "UI" in result.quality


def test_schedule_builds_the_query_when_none_is_saved():
    features = scheduler_features(REPORT, None)
    assert [f["name"] for f in features] == ["age", "plan code", "empty"]
    assert all(f["alertable"] is True for f in features)


def test_nothing_to_schedule_is_a_usage_error():
    with pytest.raises(UsageError, match="no drift result"):
        schedule_drift_checks({"drift": {"columns": []}}, "dmm-1", FakeMonitor(None))
