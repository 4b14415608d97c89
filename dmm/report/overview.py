"""The headline (model, window, verdict, the three things to look at first), the checks, the time view, your own
metrics, and the details (inputs, conventions) at the end."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dmm.report.charts import COLOURS, bar_chart, legend, line_chart
from dmm.report.distributions import column_anchor, split_prediction
from dmm.report.fmt import badge, e, number, text
from dmm.report.quality import metric_status

FIRST_THINGS = 3


def model_title(report: dict[str, Any]) -> str:
    inputs = report.get("inputs") or {}
    model = inputs.get("model") or {}
    if model.get("name"):
        version = f" version {model['version']}" if model.get("version") not in (None, "") else ""
        return f"{model['name']}{version}"
    return str(inputs.get("model_monitor_id") or "Model monitoring report")


def _window(report: dict[str, Any]) -> str:
    window = (report.get("inputs") or {}).get("window") or {}
    if not window:
        return ""
    start, end = str(window.get("start", "?")), str(window.get("end", "?"))
    return f"{start.replace('T', ' ')[:16]} to {end.replace('T', ' ')[:16]} UTC"


def verdict(report: dict[str, Any]) -> tuple[str, str]:
    """(status, one line): the chain, then drift, then quality."""
    checks = report.get("checks") or []
    failed = [c for c in checks if c.get("status") == "FAIL"]
    parts, status = [], "PASS"
    if failed:
        parts.append(f"chain broken: {len(failed)} check(s) failed")
        status = "FAIL"
    else:
        parts.append("chain OK")
    drift = report.get("drift") or {}
    if drift.get("status") == "ok":
        features, prediction = split_prediction(drift)
        drifted = [c for c in features if c.get("passed") is False]
        parts.append(f"{len(drifted)} of {len(features)} feature(s) drifted" if drifted else "no feature drifted")
        if prediction is not None and prediction.get("passed") is False:
            parts.append("the prediction drifted")
        if drifted or (prediction is not None and prediction.get("passed") is False):
            status = "FAIL" if status == "FAIL" else "WARN"
    quality = report.get("quality") or {}
    if quality.get("status") == "ok":
        below = [m for m in quality.get("metrics") or [] if m.get("passed") is False]
        parts.append(f"quality below threshold on {len(below)} metric(s)" if below else "quality above thresholds")
        if below:
            status = "FAIL" if status == "FAIL" else "WARN"
    own = [m for m in (report.get("own_metrics") or {}).get("metrics") or [] if m.get("status") == "FAIL"]
    if own:
        parts.append(f"{len(own)} of your metric(s) failed")
        status = "FAIL" if status == "FAIL" else "WARN"
    return status, "; ".join(parts)


def first_things(report: dict[str, Any]) -> list[tuple[str, str]]:
    """Up to three (text, anchor): failed checks, drifted columns (worst first), failing metrics, warnings."""
    items: list[tuple[str, str]] = []
    for check in report.get("checks") or []:
        if check.get("status") == "FAIL":
            fix = f" — fix: {check['fix']}" if check.get("fix") else ""
            items.append((f"Check {check.get('name')} failed: {check.get('detail')}{fix}", "checks"))
    drift = report.get("drift") or {}
    features, prediction = split_prediction(drift)
    if prediction is not None and prediction.get("passed") is False:
        items.append((f"The prediction {prediction['column']} drifted ({prediction.get('main_test')} "
                      f"{number(prediction.get('value'))})", "prediction-drift"))
    for column in features:
        if column.get("passed") is False:
            items.append((f"Feature {column['column']} drifted ({column.get('main_test')} "
                          f"{number(column.get('value'))})", column_anchor(column["column"])))
    for metric in (report.get("quality") or {}).get("metrics") or []:
        if metric.get("passed") is False:
            items.append((f"{metric.get('api_name') or metric.get('name')} is {number(metric.get('value'))}, "
                          f"which fails value {metric.get('operator')} {number(metric.get('threshold'))}", "quality"))
    for own in (report.get("own_metrics") or {}).get("metrics") or []:
        if own.get("status") == "FAIL":
            items.append((f"Your metric {own['name']} failed ({number(own.get('value'))})", "own-metrics"))
    for check in report.get("checks") or []:
        if check.get("status") == "WARN":
            items.append((f"Check {check.get('name')}: {check.get('detail')}", "checks"))
    if not items and features:
        worst = features[0]
        items.append((f"Nothing failed; the closest to its threshold is {worst['column']} "
                      f"({worst.get('main_test')} {number(worst.get('value'))})", column_anchor(worst["column"])))
    return items[:FIRST_THINGS]


def headline(report: dict[str, Any]) -> str:
    status, line = verdict(report)
    things = "".join(f'<li><a href="#{e(anchor)}">{e(item)}</a></li>' for item, anchor in first_things(report))
    monitor = (report.get("inputs") or {}).get("model_monitor_id")
    sub = " · ".join(part for part in (_window(report), f"Model Monitor id {monitor}" if monitor else "",
                                       f"generated {report.get('generated_at', '')}") if part)
    return (f'<header id="headline"><h1>{e(model_title(report))}</h1><p class="meta">{e(sub)}</p>'
            f'<p id="verdict" class="verdict verdict-{status}">{badge(status)} {e(line)}</p>'
            + (f'<h2>Look at these first</h2><ol id="first-things">{things}</ol>' if things else "") + "</header>")


def checks_section(checks: Sequence[dict[str, Any]]) -> str:
    counts = {status: sum(1 for c in checks if c.get("status") == status)
              for status in ("PASS", "WARN", "FAIL", "SKIP")}
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    rows = []
    for check in checks:
        status = str(check.get("status", ""))
        fix = f'<div class="fix">Fix: {e(check["fix"])}</div>' if check.get("fix") and status != "PASS" else ""
        rows.append(f"<tr><td>{badge(status)}</td><td>{e(check.get('name'))}</td>"
                    f"<td>{e(check.get('detail'))}{fix}</td></tr>")
    body = "".join(rows) or '<tr><td colspan="3">No checks ran.</td></tr>'
    return (f'<section id="checks"><h2>Checks</h2><p class="meta">{e(summary)}</p>'
            f"<table><thead><tr><th>Status</th><th>Check</th><th>Detail and fix</th></tr></thead>"
            f"<tbody>{body}</tbody></table></section>")


def _period_label(start: str, period: str) -> str:
    return start[11:16] if period == "hour" else start[5:10]


def timeline_section(timeline: dict[str, Any], quality: dict[str, Any] | None) -> str:
    head = '<section id="over-time"><h2>Over time</h2>'
    if timeline.get("status") != "ok":
        return f'{head}<p class="meta">{e(timeline.get("reason") or "no time view was computed")}</p></section>'
    period, starts = timeline.get("period", "day"), timeline.get("periods") or []
    labels = [_period_label(s, period) for s in starts]
    x = list(range(len(starts)))
    ticks = [(float(i), labels[i]) for i in range(0, len(starts), max(len(starts) // 12, 1))]
    out = [head, f'<p class="meta">{e(timeline.get("rule", ""))}'
                 + (f"; {number(timeline['rows_without_timestamp'])} row(s) without a usable timestamp are left out"
                    if timeline.get("rows_without_timestamp") else "") + "</p>",
           f'<figure id="traffic"><figcaption>Predictions per {e(period)} ({e(starts[0][:10] if starts else "")} '
           "onwards)</figcaption>"
           + bar_chart(labels, [("predictions", "var(--prod)", [float(v) for v in timeline.get("traffic") or []])],
                       share=False, y_title="predictions", label="traffic") + "</figure>"]
    drift = timeline.get("drift") or []
    if drift:
        series = [(f"{d['column']} ({d['test']})", COLOURS[i % len(COLOURS)], d["values"]) for i, d in enumerate(drift)]
        thresholds = {(d.get("operator"), d.get("threshold")) for d in drift}
        hline = None
        if len(thresholds) == 1:
            operator, threshold = next(iter(thresholds))
            hline = (threshold, f"passes when value {operator} {threshold}") if threshold is not None else None
        out.append(f'<figure id="drift-over-time"><figcaption>Drift per {e(period)} of the top features and the '
                   "prediction" + (" (dashed: the threshold)" if hline else "") + "</figcaption>"
                   + legend([(s[0], s[1]) for s in series])
                   + line_chart(x, series, x_ticks=ticks, hline=hline, points=True, y_title="drift",
                                label="drift over time") + "</figure>")
    per_period = timeline.get("quality")
    if per_period and any(v is not None for v in per_period.get("values") or []):
        metrics = (quality or {}).get("metrics") or []
        metric: dict[str, Any] = next((m for m in metrics if m.get("name") == per_period["metric"]), {})
        hline = ((metric["threshold"], f"passes when value {metric.get('operator')} {metric['threshold']}")
                 if metric.get("threshold") is not None else None)
        out.append(f'<figure id="quality-over-time"><figcaption>{e(per_period["api_name"])} per {e(period)} over the '
                   "labelled predictions made then" + (" (dashed: the threshold)" if hline else "") + "</figcaption>"
                   + line_chart(x, [(per_period["api_name"], "var(--train)", per_period["values"])], x_ticks=ticks,
                                hline=hline, points=True, y_title=per_period["api_name"], label="quality over time")
                   + "</figure>")
    out.append("</section>")
    return "".join(out)


def own_metrics_section(own: dict[str, Any]) -> str:
    if own.get("status") != "ok":
        return (f'<section id="own-metrics"><h2>Your metrics</h2><p class="meta">'
                f'{e(own.get("reason") or "not computed")}</p></section>')
    rows = []
    for metric in own.get("metrics") or []:
        status = metric.get("status") or metric_status(metric)
        condition = (f"value {metric.get('operator')} {number(metric.get('threshold'))}"
                     if metric.get("threshold") is not None else "status returned by the function"
                     if metric.get("status") else "no threshold: shown as a value")
        rows.append(f'<tr><td><span class="badge {e(status)}">{e("value" if status == "INFO" else status)}</span></td>'
                    f"<td>{e(metric.get('name'))}<div class=\"reason\">{e(metric.get('module'))}</div></td>"
                    f"<td class=\"num\">{e(number(metric.get('value')))}</td><td>{e(condition)}</td></tr>")
    return (f'<section id="own-metrics"><h2>Your metrics</h2><p class="meta">{e(own.get("rule", ""))}; '
            f"{number(own.get('window_rows'))} row(s) in the window</p><table><thead><tr><th>Status</th>"
            f"<th>Metric</th><th>Value</th><th>Passes when</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
            "</section>")


def inputs_section(report: dict[str, Any]) -> str:
    inputs = dict(report.get("inputs") or {})
    window = inputs.pop("window", None) or {}
    model = inputs.pop("model", None) or {}
    rows = [("Generated", report.get("generated_at"))]
    if window:
        rows.append(("Window", f"{window.get('start', '?')} to {window.get('end', '?')}"))
    if model:
        rows.append(("Model", " ".join(str(v) for v in (model.get("name"), model.get("version")) if v)))
    rows += [(key.replace("_", " ").capitalize(), value) for key, value in inputs.items()]
    items = "".join(f"<dt>{e(label)}</dt><dd>{e(text(value))}</dd>" for label, value in rows
                    if value not in (None, "", []))
    return f'<section id="inputs"><h2>Inputs</h2><dl class="meta">{items}</dl></section>'


def conventions_section(conventions: dict[str, Any]) -> str:
    items = []
    for key in ("binning", "reference"):
        if conventions.get(key):
            items.append(f"<li><b>{e(key.capitalize())}</b>: {e(conventions[key])}</li>")
    for name, test in (conventions.get("tests") or {}).items():
        details = "; ".join(f"{k}: {text(v)}" for k, v in (test.get("conventions") or {}).items())
        items.append(f"<li><b>{e(test.get('api_name') or name)}</b> — passes when {e(test.get('condition'))}"
                     f"{'; ' + e(details) if details else ''}</li>")
    return f'<section id="conventions"><h2>Conventions</h2><ul>{"".join(items)}</ul></section>'
