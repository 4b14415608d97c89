"""The quality section: the metrics with their averaging and condition, per-class table, confusion matrix, ROC and
precision-recall curves and predicted probabilities (classification), residuals and predicted against actual
(regression). The data come from ``QualityResult.details`` (``dmm/analysis/curves.py``)."""

from __future__ import annotations

from typing import Any

from dmm.report.charts import COLOURS, bar_chart, legend, line_chart, scatter
from dmm.report.fmt import badge, e, number


def metric_status(metric: dict[str, Any]) -> str:
    """PASS/FAIL against the threshold; INFO for a value with no threshold; SKIP for no value."""
    passed = metric.get("passed")
    if passed is not None:
        return "PASS" if passed else "FAIL"
    return "INFO" if metric.get("value") is not None else "SKIP"


def _metrics_table(quality: dict[str, Any]) -> str:
    rows = []
    for metric in quality.get("metrics") or []:
        status = metric_status(metric)
        shown = "value" if status == "INFO" else status
        condition = (f"value {metric.get('operator')} {number(metric.get('threshold'))}"
                     if metric.get("threshold") is not None else "no threshold: shown as a value")
        note = metric.get("note") or ""
        reason = f'<div class="reason">{e(metric["reason"])}</div>' if metric.get("reason") else ""
        rows.append(f'<tr><td><span class="badge {status}">{e(shown)}</span></td>'
                    f"<td>{e(metric.get('api_name') or metric.get('name'))}{reason}</td>"
                    f"<td class=\"num\">{e(number(metric.get('value')))}</td><td>{e(note)}</td>"
                    f"<td>{e(condition)}</td></tr>")
    return ("<table><thead><tr><th>Status</th><th>Metric</th><th>Value</th><th>How it is averaged</th>"
            f"<th>Passes when</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _per_class(details: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td>{e(row['label'])}</td><td class=\"num\">{number(row['precision'])}</td>"
                   f"<td class=\"num\">{number(row['recall'])}</td><td class=\"num\">{number(row['f1'])}</td>"
                   f"<td class=\"num\">{number(row['support'])}</td></tr>" for row in details.get("per_class") or [])
    if not rows:
        return ""
    return (f'<h3>Per class</h3><p class="meta">{e(details.get("per_class_rule", ""))}</p>'
            '<table id="per-class"><thead><tr><th>Class</th><th class="num">Precision</th><th class="num">Recall</th>'
            f'<th class="num">F1</th><th class="num">Support</th></tr></thead><tbody>{rows}</tbody></table>')


def _confusion(confusion: dict[str, Any] | None) -> str:
    if not confusion or not confusion.get("matrix"):
        return ""
    labels = [str(label) for label in confusion.get("labels") or []]
    header = "".join(f"<th>{e(label)}</th>" for label in labels)
    rows = []
    for i, row in enumerate(confusion["matrix"]):
        cells = "".join(f'<td class="{"diag" if i == j else ""}">{e(number(v))}</td>' for j, v in enumerate(row))
        rows.append(f"<tr><th>{e(labels[i] if i < len(labels) else i)}</th>{cells}</tr>")
    return (f"<h3>Confusion matrix</h3><p class=\"meta\">rows: {e(confusion.get('rows', 'true label'))}; "
            f"columns: {e(confusion.get('columns', 'predicted label'))}</p>"
            f'<table class="confusion"><thead><tr><th></th>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _curves(details: dict[str, Any]) -> str:
    curves = details.get("curves") or []
    if not curves:
        return ""
    series_roc, series_pr, names = [], [], []
    for i, curve in enumerate(curves):
        colour = COLOURS[(i + 1) % len(COLOURS)]
        names.append((f"{curve['label']} (AUC {number(curve['roc']['auc'])}, AP "
                      f"{number(curve['pr']['average_precision'])})", colour))
        series_roc.append((curve["label"], colour, curve["roc"]))
        series_pr.append((curve["label"], colour, curve["pr"]))

    def draw(series: list[tuple[str, str, dict[str, Any]]], x_title: str, y_title: str, diagonal: bool) -> str:
        charts = []
        for name, colour, points in series:  # one polyline per class on a shared 0..1 square
            charts.append(line_chart(points["x"], [(name, colour, points["y"])], x_range=(0, 1), y_range=(0, 1),
                                     x_title=x_title, y_title=y_title, diagonal=diagonal, label=y_title))
        if len(charts) == 1:
            return charts[0]
        first, rest = charts[0], "".join(c[c.index(">") + 1:c.rindex("</svg>")] for c in charts[1:])
        return first.replace("</svg>", rest + "</svg>")

    one_vs_rest = "one class against the rest, " if len(curves) > 1 else ""
    return (f'<h3>ROC and precision-recall curves</h3><p class="meta">{e(one_vs_rest)}'
            f'{e(details.get("curve_rule", ""))}</p>{legend(names)}'
            f'<figure id="roc-curve"><figcaption>ROC: true positive rate against false positive rate</figcaption>'
            f'{draw(series_roc, "false positive rate", "true positive rate", True)}</figure>'
            f'<figure id="pr-curve"><figcaption>Precision against recall</figcaption>'
            f'{draw(series_pr, "recall", "precision", False)}</figure>')


def _probabilities(details: dict[str, Any]) -> str:
    probabilities = details.get("probabilities")
    if not probabilities:
        return ""
    edges = probabilities["edges"]
    labels = [f"{edges[i]:.2f}" for i in range(len(edges) - 1)]
    series = [(s["label"], COLOURS[i % len(COLOURS)], [float(c) for c in s["counts"]])
              for i, s in enumerate(probabilities["series"])]
    return (f'<figure id="probabilities"><figcaption>Predicted probability of {e(probabilities["of"])} '
            f"(rows per bin; the label is the bin's lower edge)</figcaption>"
            f"{legend([(s[0], s[1]) for s in series])}"
            f'{bar_chart(labels, series, share=False, y_title="rows", label="predicted probabilities")}</figure>')


def _regression(details: dict[str, Any]) -> str:
    out = []
    residuals = details.get("residuals")
    if residuals:
        edges = residuals["edges"]
        labels = [f"{edges[i]:.3g}" for i in range(len(edges) - 1)]
        out.append(f'<figure id="residuals"><figcaption>Residuals ({e(residuals["rule"])}; mean '
                   f"{number(residuals['mean'])}; the label is the bin's lower edge)</figcaption>"
                   + bar_chart(labels, [("rows", "var(--prod)", [float(c) for c in residuals["counts"]])],
                               share=False, y_title="rows", label="residuals") + "</figure>")
    pairs = details.get("predicted_vs_actual")
    if pairs and pairs.get("actual"):
        out.append(f'<figure id="predicted-vs-actual"><figcaption>Predicted against actual ({number(pairs["sampled"])}'
                   f" of {number(pairs['rows'])} rows, evenly spaced by actual value; the line is predicted = "
                   "actual)</figcaption>" + scatter(pairs["actual"], pairs["predicted"], x_title="actual (label)",
                                                    y_title="predicted", label="predicted against actual")
                   + "</figure>")
    return "".join(out)


def quality_section(quality: dict[str, Any]) -> str:
    head = '<section id="quality"><h2>Model quality over the labelled predictions</h2>'
    if quality.get("status") != "ok":
        return f'{head}<p class="meta">{e(quality.get("reason") or "no quality was computed")}</p></section>'
    summary = (f"{number(quality.get('matched_rows'))} matched row(s); label column "
               f"{quality.get('label_column')}, prediction column {quality.get('prediction_column')}")
    if quality.get("reason"):
        summary += f"; {quality['reason']}"
    details = quality.get("details") or {}
    return (f'{head}<p class="meta">{e(summary)}</p>{_metrics_table(quality)}{_per_class(details)}'
            f'{_confusion(quality.get("confusion_matrix"))}{_curves(details)}{_probabilities(details)}'
            f"{_regression(details)}</section>")


__all__ = ["quality_section", "metric_status", "badge"]
