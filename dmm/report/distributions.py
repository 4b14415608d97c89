"""The drift sections: the features' table and distributions, and the prediction's drift on its own.

Bin counts are DMM's (``dmm/analysis/binning.py``: Freedman-Diaconis on the training data for numbers); only the
labels change for reading. A column whose training values are all whole numbers gets its bins labelled by the whole
numbers they hold ("3", "4–6"), and bins that can hold none and are empty on both sides are not drawn; the note
under the chart says how DMM labels the same bins. Guard bins are drawn only when they hold rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from dmm.report.charts import bar_chart, legend
from dmm.report.fmt import badge, e, number, percent

TOP_BINS_SHOWN = 3
GUARD_NAMES = {"Untrained Classes": "outside training", "Invalid": "missing/invalid"}


def _g(value: float) -> str:
    return f"{value:.3g}"


def display_bins(column: dict[str, Any]) -> tuple[list[str], list[int], list[int], str]:
    """(labels, training counts, production counts, note) as drawn: integer-aware labels, empty guard bins left
    out. DMM's own label of each bin stays in the JSON (``bins``)."""
    labels = [str(label) for label in column.get("bins") or []]
    reference = list(column.get("reference_counts") or [])
    production = list(column.get("production_counts") or [])
    n = min(len(labels), len(reference), len(production))
    edges = (column.get("binning") or {}).get("edges") or []
    numeric = column.get("value_type") == "numerical" and len(edges) >= 2
    trained = len(edges) - 1 if numeric else n - 2
    shown: list[tuple[str, int, int]] = []
    hidden, note = 0, ""
    for i in range(n):
        ref, prod = int(reference[i]), int(production[i])
        label = labels[i]
        if i >= trained:  # the guard bins
            if ref or prod:
                shown.append((GUARD_NAMES.get(label, label), ref, prod))
            continue
        if numeric:
            lo, hi = float(edges[i]), float(edges[i + 1])
            if column.get("integer"):
                first = math.ceil(lo)
                last = math.floor(hi) if i == trained - 1 else math.ceil(hi) - 1
                if first > last:
                    if not (ref or prod):
                        hidden += 1
                        continue
                    label = f"{_g(lo)}–{_g(hi)} (no whole number)"
                else:
                    label = str(first) if first == last else f"{first}–{last}"
            else:
                label = f"{_g(lo)}–{_g(hi)}"
        shown.append((label, ref, prod))
    if numeric and column.get("integer"):
        note = ("whole numbers: each bar is labelled by the whole numbers its bin holds; DMM labels the same bins by "
                f"their edges ({labels[0] if labels else ''} …)")
        if hidden:
            note += f" and also shows {hidden} bin(s) that can hold no whole number (empty here, not drawn)"
    elif numeric:
        note = "each bin is [from, to), the last one closed; DMM's bins (Freedman-Diaconis on the training data)"
    return [s[0] for s in shown], [s[1] for s in shown], [s[2] for s in shown], note


def distribution_figure(column: dict[str, Any], anchor: str = "") -> str:
    labels, reference, production = display_bins(column)[:3]
    note = display_bins(column)[3]
    ref_total, prod_total = sum(reference) or 1, sum(production) or 1
    chart = bar_chart(labels, [("training", "var(--train)", [r / ref_total for r in reference]),
                               ("production", "var(--prod)", [p / prod_total for p in production])],
                      y_title="share of rows", label=f"{column.get('column')}: training and production distributions")
    passed = column.get("passed")
    status = "PASS" if passed is True else "FAIL" if passed is False else "SKIP"
    value = f"{column.get('main_test')} {number(column.get('value'))}" if column.get("value") is not None else ""
    ident = f' id="{e(anchor)}"' if anchor else ""
    return (f'<figure class="dist"{ident}><figcaption>{badge(status)} {e(column.get("column"))} '
            f'<span class="reason">{e(column.get("value_type"))}{" · " + e(value) if value else ""} · '
            f"{number(column.get('reference_rows'))} training, {number(column.get('production_rows'))} production "
            f"rows</span></figcaption>{chart}"
            + (f'<p class="reason">{e(note)}</p>' if note else "") + "</figure>")


def column_anchor(name: Any) -> str:
    """A fragment id for a column: a digest of its name, so no text from the data reaches an attribute."""
    import hashlib

    return "col-" + hashlib.sha1(str(name).encode("utf-8")).hexdigest()[:12]


TEST_SOURCES = {"monitor": "as set in Model Monitor", "flag": "from --drift-test/--drift-threshold",
                "default": "the toolkit's default"}


def drift_table(columns: Sequence[dict[str, Any]]) -> str:
    rows = []
    for column in columns:
        passed = column.get("passed")
        status = "PASS" if passed is True else "FAIL" if passed is False else "SKIP"
        main: dict[str, Any] = next(
            (t for t in column.get("tests") or [] if t.get("name") == column.get("main_test")), {})
        top = "<br>".join(
            f"{e(b.get('bin'))}: {percent(b.get('reference_share'))} → {percent(b.get('production_share'))}"
            for b in (column.get("top_bins") or [])[:TOP_BINS_SHOWN])
        reason = f'<div class="reason">{e(column["reason"])}</div>' if column.get("reason") else ""
        # where the test and threshold came from (dmm/drift_settings.py): Model Monitor's, a flag's, or the default
        source = (f'<div class="reason">{e(TEST_SOURCES.get(column["source"], column["source"]))}</div>'
                  if column.get("source") else "")
        rows.append(f"<tr><td>{badge(status)}</td><td><a href=\"#{column_anchor(column.get('column'))}\">"
                    f"{e(column.get('column'))}</a>{reason}</td><td>{e(column.get('value_type'))}</td>"
                    f"<td>{e(main.get('api_name') or column.get('main_test'))}{source}</td>"
                    f"<td class=\"num\">{e(number(column.get('value')))}</td>"
                    f"<td>{e(main.get('condition', ''))}</td><td>{top}</td></tr>")
    return ("<table><thead><tr><th>Status</th><th>Column</th><th>Type</th><th>Test</th><th>Value</th>"
            "<th>Passes when</th><th>Bins contributing most (training → production)</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


LEGEND = legend([("training", "var(--train)"), ("production (share of rows per bin)", "var(--prod)")])


def split_prediction(drift: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    columns = list(drift.get("columns") or [])
    name = drift.get("prediction_column")
    prediction = next((c for c in columns if name is not None and c.get("column") == name), None)
    return [c for c in columns if c is not prediction], prediction


def drift_section(drift: dict[str, Any]) -> str:
    features, _ = split_prediction(drift)
    head = '<section id="drift"><h2>Feature drift: training set against the captured predictions</h2>'
    if drift.get("status") not in ("ok", None) or not features:
        reason = drift.get("reason") or "no drift was computed"
        extra = drift_table(features) if features else ""
        return f'{head}<p class="meta">{e(reason)}</p>{extra}</section>'
    failing = [c for c in features if c.get("passed") is False]
    summary = (f"{len(failing)} of {len(features)} feature(s) drifted over {number(drift.get('production_rows'))} "
               f"production row(s); sorted by severity")
    drifted = "".join(distribution_figure(c, column_anchor(c.get("column"))) for c in features
                      if c.get("passed") is False)
    others = [c for c in features if c.get("passed") is not False]
    rest = "".join(distribution_figure(c, column_anchor(c.get("column"))) for c in others)
    rest_block = (f"<details{' open' if not failing else ''}><summary>Distributions of the {len(others)} feature(s) "
                  f"that did not drift</summary>{rest}</details>") if others else ""
    return (f'{head}<p class="meta">{e(summary)}</p>{drift_table(features)}<h3>Distributions</h3>{LEGEND}'
            f"{drifted}{rest_block}</section>")


def prediction_section(drift: dict[str, Any]) -> str:
    _, prediction = split_prediction(drift)
    if prediction is None:
        return ""
    passed = prediction.get("passed")
    verdict = ("the predictions' distribution moved away from the training labels" if passed is False else
               "the predictions' distribution matches the training labels" if passed is True else
               "no verdict")
    return (f'<section id="prediction-drift"><h2>Prediction drift: {e(prediction.get("column"))}</h2>'
            f'<p class="meta">{e(verdict)}; the reference is the training set\'s target column</p>'
            f"{drift_table([prediction])}{LEGEND}{distribution_figure(prediction, column_anchor(prediction['column']))}"
            "</section>")
