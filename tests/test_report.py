"""monitoring_report.html: rendered from the report dict, self-contained, escaped, and clean in a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dmm.analysis import DriftCalculator, quality_metrics
from dmm.report import histogram_svg, json_ready, render_html, write_report

CHROMIUM = Path("/usr/bin/chromium")
HOSTILE = '<script>alert("x")</script><img src="http://evil.example/x.png">'
VOID = {"meta", "br", "img", "input", "link", "hr", "col", "area", "base", "source", "wbr"}
SVG_LEAVES = {"rect", "line", "path", "circle"}


def sample_report() -> dict:
    rng = np.random.default_rng(7)
    training = pd.DataFrame({"age": rng.normal(40, 8, 2000), "plan": rng.choice(["basic", "pro"], 2000),
                             HOSTILE: rng.normal(0, 1, 2000), "churned": rng.choice(["0", "1"], 2000)})
    production = pd.DataFrame({"age": rng.normal(55, 8, 500), "plan": rng.choice(["basic", "pro", "gold"], 500),
                               HOSTILE: rng.normal(0, 1, 500), "churned": rng.choice(["0", "1"], 500)})
    calculator = DriftCalculator().fit(training, {"age": "numerical", "plan": "categorical",
                                                  HOSTILE: "numerical", "churned": "categorical"})
    drift = calculator.update(production).to_dict()
    quality = quality_metrics("classification", ["0", "1", "1", "0", "1"], ["0", "1", "0", "0", "1"],
                              labels=["0", "1"]).to_dict()
    return json_ready({
        "report_version": 1, "generated_at": "2025-03-10T12:00:00+00:00",
        "inputs": {"window": {"start": "2025-03-03T12:00:00+00:00", "end": "2025-03-10T12:00:00+00:00"},
                   "model_monitor_id": "dmm-1", "training_set": "churn v1"},
        "checks": [
            {"name": "config", "status": "PASS", "detail": "ok", "fix": "", "facts": {}},
            {"name": "data source", "status": "FAIL", "detail": f"missing {HOSTILE}",
             "fix": "Add it in Model Monitor > Monitoring Data Sources", "facts": {}},
            {"name": "join rate", "status": "SKIP", "detail": "skipped because data source did not pass", "fix": "",
             "facts": {}},
        ],
        "passed": False,
        "drift": {"status": "ok", "production_rows": drift["production_rows_read"], "columns": drift["columns"],
                  "failing_columns": [c["column"] for c in drift["columns"] if c["passed"] is False]},
        "quality": {**quality, "status": "ok", "label_column": "label", "prediction_column": "churned"},
        "conventions": {"binning": "Freedman-Diaconis", "reference": "training set",
                        "tests": {"PSI": {"api_name": "POPULATION STABILITY INDEX", "condition": "value < 0.2",
                                          "conventions": {"log_base": "e", "smoothing": "epsilon 1e-4"}}}},
    })


class TagBalance(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
            return
        self.stack.pop()


def parse(html: str) -> TagBalance:
    parser = TagBalance()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def report() -> dict:
    return sample_report()


def test_html_has_every_section_and_balanced_tags(report):
    html = render_html(report)
    parsed = parse(html)
    assert parsed.errors == [] and parsed.stack == []
    for section in ('id="checks"', 'id="drift"', 'id="quality"', 'id="conventions"', 'id="inputs"'):
        assert section in html
    assert "Fix: Add it in Model Monitor &gt; Monitoring Data Sources" in html
    assert "Confusion matrix" in html
    assert parsed.tags.count("svg") == len(report["drift"]["columns"])


def test_drift_table_is_sorted_by_severity_and_names_the_top_bins(report):
    html = render_html(report)
    table = html[html.index('id="drift"'):html.index("<h3>Distributions")]
    order = [c["column"] for c in report["drift"]["columns"]]
    assert order[0] == "age"  # the shifted column fails and comes first
    positions = [table.index(f">{_escaped(name)}</a>") for name in order]
    assert positions == sorted(positions)
    top_bin = report["drift"]["columns"][0]["top_bins"][0]["bin"]
    assert _escaped(top_bin) in table


def test_confusion_matrix_cells_come_from_the_report(report):
    html = render_html(report)
    matrix = report["quality"]["confusion_matrix"]["matrix"]
    confusion = html[html.index('class="confusion"'):]
    cells = re.findall(r"<td class=\"(?:diag)?\">(\d+)</td>", confusion)
    assert [int(c) for c in cells] == [v for row in matrix for v in row]


def test_every_text_is_escaped(report):
    html = render_html(report)
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_no_external_resources(report):
    parsed = parse(render_html(report))
    linked = [value for name, value in parsed.attributes if name in ("src", "href", "xlink:href", "action")]
    assert not [value for value in linked if "http" in value or "//" in value]
    assert not {"script", "link", "iframe", "img", "object", "embed"} & set(parsed.tags)
    html = render_html(report)
    assert "@import" not in html and "url(" not in html


def test_skipped_preview_sections_say_why():
    html = render_html({"checks": [], "drift": {"status": "skipped", "reason": "training set did not pass",
                                                "columns": []},
                        "quality": {"status": "skipped", "reason": "no ground truth <yet>"}})
    assert "training set did not pass" in html and "no ground truth &lt;yet&gt;" in html
    assert parse(html).errors == []


def test_histogram_bars_are_proportional_to_shares():
    svg = histogram_svg(["a", "b"], [30, 10], [10, 10])
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    # training a=0.75, production a=0.5, training b=0.25, production b=0.5; tallest bar fills the plot
    assert len(heights) == 4
    assert heights[0] == pytest.approx(max(heights))
    assert heights[1] / heights[0] == pytest.approx(0.5 / 0.75, rel=1e-2)
    assert heights[2] / heights[0] == pytest.approx(0.25 / 0.75, rel=1e-2)


def test_write_report_writes_strict_json_and_the_html_rendered_from_it(report, tmp_path):
    broken = {**report, "drift": {**report["drift"], "columns": [{**report["drift"]["columns"][0],
                                                                  "value": float("nan")}]}}
    html_path, json_path = write_report(broken, tmp_path / "out")
    source = json.loads(json_path.read_text())  # allow_nan=False upstream: NaN must have become null
    assert source["drift"]["columns"][0]["value"] is None
    assert html_path.read_text() == render_html(source)
    assert not list((tmp_path / "out").glob(".*tmp"))


def _escaped(text: str) -> str:
    from html import escape
    return escape(text, quote=True)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")
def test_report_opens_in_headless_chromium_without_console_errors(report, tmp_path):
    html_path, _ = write_report(report, tmp_path)
    profile = tmp_path / "profile"
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--dump-dom", html_path.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Uncaught" not in done.stderr and "ERROR:CONSOLE" not in done.stderr
    assert 'id="drift"' in done.stdout and "Confusion matrix" in done.stdout
    shutil.rmtree(profile, ignore_errors=True)


def test_drift_table_says_where_each_columns_test_came_from(report):
    """Issue 10 §5: the preview uses Model Monitor's test per column where one is set, a flag's over it, else the
    default; the report names the source beside the test."""
    import copy

    sourced = copy.deepcopy(report)
    sources = ["monitor", "flag", "default"]
    for number, column in enumerate(sourced["drift"]["columns"]):
        column["source"] = sources[number % len(sources)]
    html = render_html(sourced)
    table = html[html.index('id="drift"'):html.index("<h3>Distributions")]
    for words in ("as set in Model Monitor", "from --drift-test/--drift-threshold", "the toolkit&#x27;s default"):
        assert words in table
    assert "as set in Model Monitor" not in render_html(report)
