"""``monitoring_report.html`` and ``monitoring_report.json`` from the report dict of ``dmm.preview``.

The HTML is self-contained: inline CSS, inline SVG charts (``charts.py``), no script, no font, no external URL, so
it opens offline and can be attached to a ticket. Every piece of text from the data is escaped. The page: the
headline (model, window, verdict, the three things to look at first; ``overview.py``), the checks, the time view,
feature drift and the prediction's drift (``distributions.py``), quality (``quality.py``), your own metrics, then
the inputs and conventions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dmm.dataio import check_output_dir
from dmm.errors import UsageError
from dmm.files import describe_os_error, json_safe, write_together
from dmm.redact import redact_value
from dmm.report.charts import bar_chart
from dmm.report.distributions import drift_section, prediction_section
from dmm.report.fmt import e
from dmm.report.overview import (
    checks_section,
    conventions_section,
    headline,
    inputs_section,
    model_title,
    own_metrics_section,
    timeline_section,
)
from dmm.report.quality import quality_section

HTML_NAME = "monitoring_report.html"
JSON_NAME = "monitoring_report.json"

CSS = """
:root { --pass:#1a7f37; --warn:#9a6700; --fail:#cf222e; --skip:#6e7781; --train:#0969da; --prod:#e16f24; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1f2328;
       background: #f6f8fa; }
main { max-width: 1180px; margin: 0 auto; padding: 24px; }
header { padding: 8px 4px; } .verdict { font-size: 16px; font-weight: 600; margin: 8px 0; }
.verdict-PASS { color: var(--pass); } .verdict-WARN { color: var(--warn); } .verdict-FAIL { color: var(--fail); }
#first-things li { margin: 4px 0; } a { color: #0969da; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 16px 20px; margin: 16px 0; }
h1 { font-size: 24px; margin: 8px 0; } h2 { font-size: 18px; margin: 0 0 12px; }
h3 { font-size: 15px; margin: 12px 0 6px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; min-width: 44px; text-align: center; padding: 1px 6px; border-radius: 10px;
         color: #fff; font-weight: 600; font-size: 12px; }
.PASS { background: var(--pass); } .WARN { background: var(--warn); } .FAIL { background: var(--fail); }
.SKIP { background: var(--skip); } .INFO { background: var(--train); }
.fix { color: #57606a; font-size: 13px; margin-top: 2px; }
.meta { color: #57606a; }
.meta dt { font-weight: 600; float: left; clear: left; width: 150px; }
.meta dd { margin: 0 0 2px 160px; }
.reason { color: #57606a; font-size: 12px; }
figure { margin: 12px 0; border: 1px solid #eaeef2; border-radius: 6px; padding: 8px; }
svg.chart { display: block; width: 100%; height: auto; }
svg .grid { stroke: #eaeef2; } svg .axis { stroke: #8c959f; } svg .guide { stroke: #8c959f; stroke-dasharray: 4 4; }
svg .threshold { stroke: var(--fail); stroke-dasharray: 6 4; stroke-width: 1.5; }
svg .series { fill: none; stroke-width: 2; }
details summary { cursor: pointer; font-weight: 600; margin: 8px 0; }
figcaption { font-weight: 600; margin-bottom: 4px; }
svg text { font: 12px system-ui, sans-serif; fill: #57606a; }
.legend span { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; }
.confusion td { text-align: center; } .confusion td.diag { background: #dafbe1; font-weight: 600; }
code { font-family: ui-monospace, monospace; font-size: 12px; }
"""


def write_report(report: dict[str, Any], output_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write the JSON source and the HTML rendered from it; returns (html path, json path)."""
    cleaned = redact_value(json_ready(report))  # signed URLs and secrets never reach the files
    assert isinstance(cleaned, dict)
    report = cleaned
    folder = check_output_dir(output_dir)
    json_path, html_path = folder / JSON_NAME, folder / HTML_NAME
    text = json.dumps(report, indent=2, default=str, allow_nan=False) + "\n"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_together({json_path: text, html_path: render_html(report)})  # the pair, or neither
    except OSError as error:
        message, advice = describe_os_error(error, error.filename or folder)
        raise UsageError(f"{message} (the report {JSON_NAME} and {HTML_NAME} in {folder})",
                         f"{advice}; pass another folder with --output-dir", code="file-write-failed") from None
    return html_path, json_path


def render_html(report: dict[str, Any]) -> str:
    title = f"{model_title(report)} — monitoring report"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{CSS}</style></head><body><main>",
        headline(report),
        checks_section(report.get("checks") or []),
    ]
    if report.get("timeline"):
        parts.append(timeline_section(report["timeline"], report.get("quality")))
    if "drift" in report:
        parts.append(drift_section(report["drift"] or {}))
        parts.append(prediction_section(report["drift"] or {}))
    if "quality" in report:
        parts.append(quality_section(report["quality"] or {}))
    if report.get("own_metrics"):
        parts.append(own_metrics_section(report["own_metrics"]))
    parts.append(inputs_section(report))
    if report.get("conventions"):
        parts.append(conventions_section(report["conventions"]))
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


def histogram_svg(labels: Sequence[Any], reference: Sequence[float], production: Sequence[float]) -> str:
    """Grouped bars of the share of rows per bin, training next to production (full width, with a y-axis)."""
    n = min(len(labels), len(reference), len(production))
    if n == 0:
        return '<p class="reason">no bins</p>'
    ref_total, prod_total = sum(reference[:n]) or 1, sum(production[:n]) or 1
    return bar_chart([str(label) for label in labels[:n]],
                     [("training", "var(--train)", [r / ref_total for r in reference[:n]]),
                      ("production", "var(--prod)", [p / prod_total for p in production[:n]])],
                     y_title="share of rows", label="training vs production histogram")


json_ready = json_safe  # the one JSON cleaner, under the name preview and the tests know
