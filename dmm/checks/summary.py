"""Step 6's summary for the terminal: one line per check (with its fix when it failed or warned), a line each for
drift and quality, what publishing did, and where the report is."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dmm.checks.result import FAIL, WARN


def summary_lines(report: Mapping[str, Any], notes: Sequence[str], html_path: Path, json_path: Path) -> list[str]:
    return [*report_lines(report), *notes, "", f"Report: {html_path} (source: {json_path})"]


def report_lines(report: Mapping[str, Any]) -> list[str]:
    """The checks (with their fixes) and the preview's drift and quality lines, secrets and signatures masked."""
    from dmm.redact import redact

    lines = []
    for check in report["checks"]:
        lines.append(f"{check['status']:<5} {check['name']} — {check['detail']}")
        if check.get("fix") and check["status"] in (FAIL, WARN):
            lines.append(f"      fix: {check['fix']}")
    drift, quality = report.get("drift"), report.get("quality")
    if drift is not None:
        lines += ["", drift_line(drift)]
    if quality is not None:
        lines.append(quality_line(quality))
    if report.get("own_metrics"):
        lines.append(own_metrics_line(report["own_metrics"]))
    return [redact(line) for line in lines]


def drift_line(drift: Mapping[str, Any]) -> str:
    columns = drift.get("columns") or []
    if drift.get("status") != "ok":
        return f"Drift: {drift.get('reason', 'not computed')}"
    failing = [c for c in columns if c.get("passed") is False]
    worst = ", ".join(f"{c['column']} {c['main_test']} {c['value']:.3g}" for c in failing[:5])
    small = [c for c in columns if c.get("small_sample")]
    caution = (f" (caution: too few predictions for {len(small)} column(s)' bins, so their drift values are mostly "
               f"noise; send at least {max(c['reliable_rows'] for c in small):,} for a reliable preview)"
               if small else "")
    probes = drift.get("probe_rows") or 0
    apart = f" ({probes:,} probe prediction(s) left out)" if probes else ""
    sources = [c.get("source") for c in columns if c.get("source")]
    origin = (" (tests: " + ", ".join(f"{sources.count(s)} {SOURCE_WORDS[s]}" for s in SOURCE_WORDS if s in sources)
              + ")") if sources else ""
    return (f"Drift: {len(failing)} of {len(columns)} column(s) drifted over {drift.get('production_rows', 0):,} "
            f"prediction(s){apart}" + (f": {worst}" if worst else "") + origin + caution)


SOURCE_WORDS = {"monitor": "as set in Model Monitor", "flag": "from flags", "default": "default"}


def quality_line(quality: Mapping[str, Any]) -> str:
    if quality.get("status") != "ok":
        return f"Quality: {quality.get('reason', 'not computed')}"
    shown = ", ".join(f"{m.get('api_name') or m['name']} {m['value']:.3g}"
                      for m in quality.get("metrics") or [] if m.get("value") is not None)
    return f"Quality over {quality.get('matched_rows', 0):,} matched row(s): {shown or 'no metric has a value'}"


def own_metrics_line(own: Mapping[str, Any]) -> str:
    """Your own metrics (--metric): name, value and verdict of each."""
    if own.get("status", "ok") != "ok":
        return f"Your metrics: {own.get('reason', 'not computed')}"
    shown = ", ".join(
        f"{m['name']} " + ("no value" if m.get("value") is None else f"{m['value']:.4g}")
        + (f" {m['status']}" if m.get("status") else "") for m in own.get("metrics") or [])
    return f"Your metrics over {own.get('window_rows', 0):,} prediction(s): {shown or 'none'}"
