"""``monitoring_report.html`` and ``monitoring_report.json`` from the report dict of ``dmm.preview``.

The HTML is self-contained: inline CSS, inline SVG histograms, no script, no external URL, so it opens offline
and can be attached to a ticket. Every piece of text from the data is escaped.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from dmm.dataio import check_output_dir
from dmm.errors import UsageError
from dmm.files import describe_os_error, json_safe, write_together
from dmm.redact import redact_value

HTML_NAME = "monitoring_report.html"
JSON_NAME = "monitoring_report.json"
TOP_BINS_SHOWN = 3

CSS = """
:root { --pass:#1a7f37; --warn:#9a6700; --fail:#cf222e; --skip:#6e7781; --train:#0969da; --prod:#e16f24; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1f2328;
       background: #f6f8fa; }
main { max-width: 1180px; margin: 0 auto; padding: 24px; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 16px 20px; margin: 16px 0; }
h1 { font-size: 24px; margin: 8px 0; } h2 { font-size: 18px; margin: 0 0 12px; }
h3 { font-size: 15px; margin: 12px 0 6px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; min-width: 44px; text-align: center; padding: 1px 6px; border-radius: 10px;
         color: #fff; font-weight: 600; font-size: 12px; }
.PASS { background: var(--pass); } .WARN { background: var(--warn); } .FAIL { background: var(--fail); }
.SKIP { background: var(--skip); }
.fix { color: #57606a; font-size: 13px; margin-top: 2px; }
.meta { color: #57606a; }
.meta dt { font-weight: 600; float: left; clear: left; width: 150px; }
.meta dd { margin: 0 0 2px 160px; }
.reason { color: #57606a; font-size: 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 12px; }
figure { margin: 0; border: 1px solid #eaeef2; border-radius: 6px; padding: 8px; }
figcaption { font-weight: 600; margin-bottom: 4px; }
svg text { font: 10px system-ui, sans-serif; fill: #57606a; }
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
    inputs = report.get("inputs") or {}
    title = "Model monitoring report"
    if inputs.get("model_monitor_id"):
        title += f" — {inputs['model_monitor_id']}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{_e(title)}</h1>",
        _inputs_section(report),
        _checks_section(report.get("checks") or []),
    ]
    if "drift" in report:
        parts.append(_drift_section(report["drift"] or {}))
    if "quality" in report:
        parts.append(_quality_section(report["quality"] or {}))
    if report.get("conventions"):
        parts.append(_conventions_section(report["conventions"]))
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


# --- sections ---------------------------------------------------------------------------------------------

def _inputs_section(report: dict[str, Any]) -> str:
    inputs = dict(report.get("inputs") or {})
    window = inputs.pop("window", None) or {}
    rows = [("Generated", report.get("generated_at"))]
    if window:
        rows.append(("Window", f"{window.get('start', '?')} to {window.get('end', '?')}"))
    rows += [(key.replace("_", " ").capitalize(), value) for key, value in inputs.items()]
    items = "".join(f"<dt>{_e(label)}</dt><dd>{_e(_text(value))}</dd>" for label, value in rows
                    if value not in (None, "", []))
    return f'<section id="inputs"><h2>Inputs</h2><dl class="meta">{items}</dl></section>'


def _checks_section(checks: Sequence[dict[str, Any]]) -> str:
    counts = {status: sum(1 for c in checks if c.get("status") == status)
              for status in ("PASS", "WARN", "FAIL", "SKIP")}
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    rows = []
    for check in checks:
        status = str(check.get("status", ""))
        fix = f'<div class="fix">Fix: {_e(check["fix"])}</div>' if check.get("fix") and status != "PASS" else ""
        rows.append(f"<tr><td>{_badge(status)}</td><td>{_e(check.get('name'))}</td>"
                    f"<td>{_e(check.get('detail'))}{fix}</td></tr>")
    body = "".join(rows) or '<tr><td colspan="3">No checks ran.</td></tr>'
    return (f'<section id="checks"><h2>Checks</h2><p class="meta">{_e(summary)}</p>'
            f"<table><thead><tr><th>Status</th><th>Check</th><th>Detail and fix</th></tr></thead>"
            f"<tbody>{body}</tbody></table></section>")


def _drift_section(drift: dict[str, Any]) -> str:
    columns = list(drift.get("columns") or [])
    head = '<section id="drift"><h2>Drift: training set against captured predictions</h2>'
    if drift.get("status") not in ("ok", None) or not columns:
        reason = drift.get("reason") or "no drift was computed"
        extra = _drift_table(columns) if columns else ""
        return f'{head}<p class="meta">{_e(reason)}</p>{extra}</section>'
    failing = [c for c in columns if c.get("passed") is False]
    summary = (f"{len(failing)} of {len(columns)} column(s) drifted over {_number(drift.get('production_rows'))} "
               f"production row(s); sorted by severity")
    figures = "".join(_histogram_figure(column) for column in columns)
    legend = ('<p class="legend"><span style="background:var(--train)"></span>training'
              '<span style="background:var(--prod)"></span>production (share of rows per bin)</p>')
    return (f'{head}<p class="meta">{_e(summary)}</p>{_drift_table(columns)}<h3>Distributions</h3>{legend}'
            f'<div class="grid">{figures}</div></section>')


def _drift_table(columns: Sequence[dict[str, Any]]) -> str:
    rows = []
    for column in columns:
        passed = column.get("passed")
        status = "PASS" if passed is True else "FAIL" if passed is False else "SKIP"
        main: dict[str, Any] = next(
            (t for t in column.get("tests") or [] if t.get("name") == column.get("main_test")), {})
        top = "<br>".join(
            f"{_e(b.get('bin'))}: {_percent(b.get('reference_share'))} → {_percent(b.get('production_share'))}"
            for b in (column.get("top_bins") or [])[:TOP_BINS_SHOWN])
        reason = f'<div class="reason">{_e(column["reason"])}</div>' if column.get("reason") else ""
        rows.append(f"<tr><td>{_badge(status)}</td><td>{_e(column.get('column'))}{reason}</td>"
                    f"<td>{_e(column.get('value_type'))}</td>"
                    f"<td>{_e(main.get('api_name') or column.get('main_test'))}</td>"
                    f"<td class=\"num\">{_e(_number(column.get('value')))}</td>"
                    f"<td>{_e(main.get('condition', ''))}</td><td>{top}</td></tr>")
    return ("<table><thead><tr><th>Status</th><th>Column</th><th>Type</th><th>Test</th><th>Value</th>"
            "<th>Passes when</th><th>Bins contributing most (training → production)</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _histogram_figure(column: dict[str, Any]) -> str:
    chart = histogram_svg(column.get('bins') or [], column.get('reference_counts') or [],
                          column.get('production_counts') or [])
    return (f"<figure><figcaption>{_e(column.get('column'))} <span class=\"reason\">"
            f"({_e(column.get('value_type'))})</span></figcaption>{chart}</figure>")


def histogram_svg(labels: Sequence[Any], reference: Sequence[float], production: Sequence[float],
                  width: int = 360, height: int = 190) -> str:
    """Grouped bars of the share of rows per bin, training next to production."""
    n = min(len(labels), len(reference), len(production))
    if n == 0:
        return '<p class="reason">no bins</p>'
    ref_total, prod_total = sum(reference[:n]) or 1, sum(production[:n]) or 1
    ref = [r / ref_total for r in reference[:n]]
    prod = [p / prod_total for p in production[:n]]
    top = max(max(ref), max(prod)) or 1.0
    left, bottom, plot_top = 34, 58, 8
    plot_h = height - bottom - plot_top
    slot = (width - left - 4) / n
    bar = max(slot * 0.4, 1.0)
    out = [f'<svg role="img" aria-label="training vs production histogram" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}">',
           f'<line x1="{left}" y1="{plot_top + plot_h}" x2="{width - 4}" y2="{plot_top + plot_h}" stroke="#d0d7de"/>',
           f'<text x="{left - 4}" y="{plot_top + 8}" text-anchor="end">{_percent(top)}</text>',
           f'<text x="{left - 4}" y="{plot_top + plot_h}" text-anchor="end">0%</text>']
    for i in range(n):
        x = left + i * slot + (slot - 2 * bar) / 2
        for offset, share, colour, who in ((0, ref[i], "var(--train)", "training"),
                                           (bar, prod[i], "var(--prod)", "production")):
            h = plot_h * share / top
            out.append(f'<rect x="{x + offset:.1f}" y="{plot_top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                       f'style="fill:{colour}"><title>{_e(labels[i])}: {who} {_percent(share)}</title></rect>')
        label = _short(_text(labels[i]), 14)
        cx, cy = left + (i + 0.5) * slot, plot_top + plot_h + 8
        out.append(f'<text x="{cx:.1f}" y="{cy:.1f}" text-anchor="end" '
                   f'transform="rotate(-45 {cx:.1f} {cy:.1f})">{_e(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def _quality_section(quality: dict[str, Any]) -> str:
    head = '<section id="quality"><h2>Model quality over matched rows</h2>'
    if quality.get("status") != "ok":
        return f'{head}<p class="meta">{_e(quality.get("reason") or "no quality was computed")}</p></section>'
    summary = (f"{_number(quality.get('matched_rows'))} matched row(s); label column "
               f"{quality.get('label_column')}, prediction column {quality.get('prediction_column')}")
    if quality.get("reason"):
        summary += f"; {quality['reason']}"
    rows = []
    for metric in quality.get("metrics") or []:
        passed = metric.get("passed")
        status = "PASS" if passed is True else "FAIL" if passed is False else "SKIP"
        condition = (f"{metric.get('operator')} {_number(metric.get('threshold'))}"
                     if metric.get("threshold") is not None else "no threshold")
        reason = f'<div class="reason">{_e(metric["reason"])}</div>' if metric.get("reason") else ""
        rows.append(f"<tr><td>{_badge(status)}</td><td>{_e(metric.get('api_name') or metric.get('name'))}{reason}</td>"
                    f"<td class=\"num\">{_e(_number(metric.get('value')))}</td><td>{_e(condition)}</td></tr>")
    table = ("<table><thead><tr><th>Status</th><th>Metric</th><th>Value</th><th>Passes when</th></tr></thead>"
             f"<tbody>{''.join(rows)}</tbody></table>")
    return f'{head}<p class="meta">{_e(summary)}</p>{table}{_confusion(quality.get("confusion_matrix"))}</section>'


def _confusion(confusion: dict[str, Any] | None) -> str:
    if not confusion or not confusion.get("matrix"):
        return ""
    labels = [str(label) for label in confusion.get("labels") or []]
    header = "".join(f"<th>{_e(label)}</th>" for label in labels)
    rows = []
    for i, row in enumerate(confusion["matrix"]):
        cells = "".join(f'<td class="{"diag" if i == j else ""}">{_e(_number(v))}</td>' for j, v in enumerate(row))
        rows.append(f"<tr><th>{_e(labels[i] if i < len(labels) else i)}</th>{cells}</tr>")
    return (f"<h3>Confusion matrix</h3><p class=\"meta\">rows: {_e(confusion.get('rows', 'true label'))}; "
            f"columns: {_e(confusion.get('columns', 'predicted label'))}</p>"
            f'<table class="confusion"><thead><tr><th></th>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _conventions_section(conventions: dict[str, Any]) -> str:
    items = []
    for key in ("binning", "reference"):
        if conventions.get(key):
            items.append(f"<li><b>{_e(key.capitalize())}</b>: {_e(conventions[key])}</li>")
    for name, test in (conventions.get("tests") or {}).items():
        details = "; ".join(f"{k}: {_text(v)}" for k, v in (test.get("conventions") or {}).items())
        items.append(f"<li><b>{_e(test.get('api_name') or name)}</b> — passes when {_e(test.get('condition'))}"
                     f"{'; ' + _e(details) if details else ''}</li>")
    return f'<section id="conventions"><h2>Conventions</h2><ul>{"".join(items)}</ul></section>'


# --- formatting -------------------------------------------------------------------------------------------

def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _badge(status: str) -> str:
    safe = status if status in ("PASS", "WARN", "FAIL", "SKIP") else "SKIP"
    return f'<span class="badge {safe}">{_e(status)}</span>'


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(_text, value))
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return str(value)


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    return str(value)


def _percent(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, (int, float)) and math.isfinite(value) else "—"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


json_ready = json_safe  # the one JSON cleaner, under the name preview and the tests know
