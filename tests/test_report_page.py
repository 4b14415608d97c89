"""The report a person opens (issue 12): headline, readable distributions, prediction drift apart, per-class quality
with curves, the time view and your own metrics; checked as data, as HTML, and in headless Chromium for what is
visible on the page."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from browser import CHROMIUM, console_errors, visible_boxes
from sklearn import metrics as skm

from dmm.analysis import DriftCalculator, quality_metrics
from dmm.analysis.timeline import Timeline
from dmm.report import json_ready, render_html, write_report
from dmm.report.distributions import display_bins
from dmm.report.overview import first_things, verdict

START = datetime(2026, 3, 1, tzinfo=timezone.utc)
END = START + timedelta(days=7)


class _Scan:
    def __init__(self, drift):
        self.drift = drift


def rich_report() -> dict:
    rng = np.random.default_rng(11)
    n_train, n_prod = 3000, 1400
    training = pd.DataFrame({"support_calls": rng.integers(0, 4, n_train), "age": rng.normal(40, 8, n_train),
                             "plan": rng.choice(["basic", "pro"], n_train),
                             "churned": rng.choice(["no", "yes"], n_train, p=[0.7, 0.3])})
    moments = [START + timedelta(minutes=int(m)) for m in rng.integers(0, 7 * 24 * 60, n_prod)]
    production = pd.DataFrame({"support_calls": rng.integers(2, 6, n_prod), "age": rng.normal(41, 8, n_prod),
                               "plan": rng.choice(["basic", "pro", "gold"], n_prod),
                               "churned": rng.choice(["no", "yes"], n_prod, p=[0.4, 0.6]),
                               "timestamp": [m.isoformat() for m in moments]})
    columns = {"support_calls": "numerical", "age": "numerical", "plan": "categorical", "churned": "categorical"}
    calculator = DriftCalculator().fit(training, columns)
    timeline = Timeline(START, END)
    for chunk in np.array_split(np.arange(n_prod), 3):
        part = production.iloc[chunk]
        calculator.update(part)
        timeline.add(part, _Scan(calculator))
    drift = calculator.to_dict()
    truth = production["churned"].where(rng.random(n_prod) < 0.8, "no")
    positive = np.clip(np.where(production["churned"] == "yes", 0.7, 0.3) + rng.normal(0, 0.15, n_prod), 0, 1)
    quality = quality_metrics("classification", truth, production["churned"], proba=positive,
                              labels=["no", "yes"]).to_dict()
    rows = pd.DataFrame({"timestamp": production["timestamp"], "label": truth, "churned": production["churned"]})
    over_time = timeline.to_dict(calculator, [c for c in drift["columns"] if c["column"] != "churned"][:3]
                                 + [c for c in drift["columns"] if c["column"] == "churned"],
                                 timeline.quality_over_time(rows, "classification", "label", "churned"))
    return json_ready({
        "report_version": 1, "generated_at": "2026-03-08T00:00:00+00:00",
        "inputs": {"window": {"start": START.isoformat(), "end": END.isoformat()}, "model_monitor_id": "65f0c0ffee",
                   "model": {"name": "churn-classifier", "version": "3"}, "training_set": "churn v1"},
        "checks": [{"name": "config", "status": "PASS", "detail": "ok", "fix": "", "facts": {}},
                   {"name": "join rate", "status": "WARN", "detail": "80% of labels matched", "fix": "", "facts": {}}],
        "passed": True,
        "drift": {"status": "ok", "production_rows": n_prod, "columns": drift["columns"],
                  "prediction_column": "churned",
                  "failing_columns": [c["column"] for c in drift["columns"] if c["passed"] is False]},
        "quality": {**quality, "status": "ok", "label_column": "label", "prediction_column": "churned"},
        "timeline": {**over_time, "status": "ok"},
        "own_metrics": {"status": "ok", "window_rows": n_prod, "rule": "f(baseline, window)",
                        "metrics": [{"name": "heavy_support_share", "module": "metrics.py", "value": 0.5,
                                     "status": "WARN", "operator": None, "threshold": None, "passed": True}]},
        "conventions": {"binning": "Freedman-Diaconis", "reference": "training set", "tests": {}},
    }), {"production": production, "truth": truth, "positive": positive}


@pytest.fixture(scope="module")
def rich():
    return rich_report()


def test_headline_names_the_model_window_verdict_and_first_things(rich):
    report, _ = rich
    html = render_html(report)
    head = html[html.index('<header id="headline">'):html.index("</header>")]
    assert "churn-classifier version 3" in head and "2026-03-01 00:00 to 2026-03-08 00:00 UTC" in head
    status, line = verdict(report)
    drifted = [c for c in report["drift"]["columns"] if c["passed"] is False and c["column"] != "churned"]
    assert drifted, "the sample must have drifted features"
    assert status == "WARN" and line.startswith("chain OK;") and f"{len(drifted)} of 3 feature(s) drifted" in line
    things = first_things(report)
    assert len(things) == 3 and "prediction churned drifted" in things[0][0]
    assert html.count("<li><a href=") >= 3


def test_integer_bins_are_labelled_as_whole_numbers_and_dmm_labels_are_named(rich):
    report, _ = rich
    column = next(c for c in report["drift"]["columns"] if c["column"] == "support_calls")
    assert column["integer"] is True
    labels, reference, production, note = display_bins(column)
    assert all(re.fullmatch(r"\d+(–\d+)?|outside training", label) for label in labels), labels
    assert labels[:4] == ["0", "1", "2", "3"]
    # DMM's counts are kept: what is drawn adds up to what was counted
    assert sum(reference) == column["reference_rows"] and sum(production) == column["production_rows"]
    assert "DMM labels the same bins by their edges" in note and column["bins"][0] in note
    age = next(c for c in report["drift"]["columns"] if c["column"] == "age")
    assert age["integer"] is False and "–" in display_bins(age)[0][0]


def test_prediction_drift_has_its_own_section(rich):
    html = render_html(rich[0])
    features = html[html.index('id="drift"'):html.index('id="prediction-drift"')]
    prediction = html[html.index('id="prediction-drift"'):html.index('id="quality"')]
    assert "churned" not in features and "Prediction drift: churned" in prediction


def test_quality_per_class_and_curves_match_scikit_learn(rich):
    report, data = rich
    details = report["quality"]["details"]
    truth, predicted = data["truth"], data["production"]["churned"]
    precision, recall, f1, support = skm.precision_recall_fscore_support(truth, predicted, labels=["no", "yes"])
    assert [row["label"] for row in details["per_class"]] == ["no", "yes"]
    assert [row["precision"] for row in details["per_class"]] == pytest.approx(list(precision))
    assert [row["support"] for row in details["per_class"]] == list(support)
    (curve,) = details["curves"]
    assert curve["roc"]["auc"] == pytest.approx(skm.roc_auc_score(truth == "yes", data["positive"]))
    assert curve["roc"]["x"][0] == 0 and curve["roc"]["x"][-1] == 1 and len(curve["roc"]["x"]) <= 200
    counts = [sum(s["counts"]) for s in details["probabilities"]["series"]]
    assert counts == [int((truth == "no").sum()), int((truth == "yes").sum())]
    html = render_html(report)
    assert "weighted average over classes by support" in html
    mse_free = [m for m in report["quality"]["metrics"] if m["threshold"] is None and m["value"] is not None]
    assert all(m["passed"] is None for m in mse_free)


def test_metrics_without_threshold_show_as_values_not_skip():
    quality = quality_metrics("regression", [1.0, 2.0, 3.0, 4.0], [1.1, 1.9, 3.2, 3.7]).to_dict()
    html = render_html({"checks": [], "quality": {**quality, "status": "ok", "label_column": "y",
                                                   "prediction_column": "p"}})
    table = html[html.index('id="quality"'):]
    mse = re.search(r'<tr><td><span class="badge (\w+)">(\w+)</span></td><td>MSE', table)
    assert mse and mse.groups() == ("INFO", "value")
    assert 'id="residuals"' in html and 'id="predicted-vs-actual"' in html
    residuals = quality["details"]["residuals"]
    assert sum(residuals["counts"]) == 4 and residuals["mean"] == pytest.approx(np.mean([-0.1, 0.1, -0.2, 0.3]))


def test_timeline_counts_every_row_in_its_day(rich):
    report, data = rich
    timeline = report["timeline"]
    days = pd.to_datetime(data["production"]["timestamp"], utc=True).dt.floor("D").value_counts().sort_index()
    assert timeline["period"] == "day" and len(timeline["periods"]) == 7
    assert timeline["traffic"] == [int(v) for v in days.to_numpy()]
    shown = [d["column"] for d in timeline["drift"]]
    assert shown[-1] == "churned" and len(shown) == 4
    assert all(len(d["values"]) == 7 for d in timeline["drift"])
    per_day = timeline["quality"]["values"]
    frame = pd.DataFrame({"day": pd.to_datetime(data["production"]["timestamp"], utc=True).dt.floor("D"),
                          "right": data["truth"] == data["production"]["churned"]})
    assert per_day == pytest.approx(frame.groupby("day")["right"].mean().tolist())


def test_short_windows_are_shown_per_hour():
    timeline = Timeline(START, START + timedelta(hours=30))
    frame = pd.DataFrame({"timestamp": [(START + timedelta(hours=h, minutes=5)).isoformat() for h in (0, 0, 5, 29)]
                          + ["not a time"]})
    timeline.add(frame)
    assert timeline.period == "hour" and len(timeline.traffic) == 30
    assert timeline.traffic[0] == 2 and timeline.traffic[5] == 1 and timeline.traffic[29] == 1
    assert timeline.rows_without_time == 1


KEY_ELEMENTS = ["#headline h1", "#verdict", "#first-things", "#traffic svg", "#drift-over-time svg",
                "#quality-over-time svg", "#drift figure.dist svg", "#prediction-drift svg", "#per-class",
                "#roc-curve svg", "#pr-curve svg", "#probabilities svg", "#own-metrics table"]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")
def test_key_elements_are_visible_in_headless_chromium(rich, tmp_path):
    html_path, _ = write_report(rich[0], tmp_path / "report")
    measured = visible_boxes(html_path, KEY_ELEMENTS, tmp_path / "browser")
    assert console_errors(measured["stderr"]) == []
    width = measured["width"]
    for selector in KEY_ELEMENTS:
        box = measured["elements"][selector]
        assert box is not None, f"{selector} is not on the page"
        assert box["visible"] and box["width"] > 100 and box["height"] > 15, (selector, box)
        assert box["on_top"], f"{selector} is covered by another element"
        assert box["left"] >= 0 and box["right"] <= width + 1, f"{selector} does not fit the page: {box}"
    # full-width charts: a distribution is at least three quarters of the page's width
    assert measured["elements"]["#drift figure.dist svg"]["width"] >= 0.75 * min(width, 1180) - 60
    assert "churn-classifier version 3" in measured["elements"]["#headline h1"]["text"]
    for boxes in measured["labels"]:  # horizontal x labels never overlap one another
        ordered = sorted(boxes)
        assert all(a[1] <= b[0] + 0.5 for a, b in zip(ordered, ordered[1:], strict=False)), ordered
    assert measured["screenshot"] is not None and measured["screenshot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_period_of_utc_text_by_hour_equals_the_full_parse():
    timeline = Timeline(START, END)
    moments = [START + timedelta(hours=h, minutes=59, seconds=59) for h in (0, 23, 24, 100, 167)]
    utc = pd.Series([m.isoformat() for m in moments] + [None, "garbage+00:00", (END + timedelta(hours=1)).isoformat()],
                    dtype=object)
    zulu = utc.str.replace("+00:00", "Z", regex=False)
    shifted = pd.Series([m.astimezone(timezone(timedelta(hours=2))).isoformat() for m in moments]
                        + [None, "garbage", None], dtype=object)  # another offset: parsed value by value
    expected = [0, 0, 1, 4, 6, -1, -1, -1]
    assert timeline.period_index(utc).tolist() == expected
    assert timeline.period_index(zulu).tolist() == expected
    assert timeline.period_index(utc.astype("string[pyarrow]")).tolist() == expected  # Arrow-backed text
    assert timeline.period_index(shifted).tolist() == expected
