"""``--fail-on``: which findings of step 6's preview fail the run (exit 1), for a scheduler that acts on exit codes.

By default only the chain's checks fail a run. ``drift`` also fails it when a column (feature or prediction) drifted
beyond its threshold, ``quality`` when a quality metric is below its threshold, ``any`` on either. A preview that
could not be computed (no predictions in the window, no labels, an error) fails a run that asked for it: a daily Job
must not pass silently because the thing it watches was not measured. Standard library only (read before pandas).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dmm.errors import UsageError

FAIL_ON_CHOICES = ("drift", "quality", "any")


def check_fail_on(fail_on: str | None, preview: bool) -> None:
    if fail_on is None:
        return
    if fail_on not in FAIL_ON_CHOICES:
        raise UsageError(f"--fail-on {fail_on!r} is not one of {', '.join(FAIL_ON_CHOICES)}",
                         "Use --fail-on drift, --fail-on quality or --fail-on any", code="flag-invalid")
    if not preview:
        raise UsageError("--fail-on needs the preview, which --no-preview turns off",
                         "Drop --no-preview, or drop --fail-on", code="flag-conflict")


def fail_on_reasons(report: Mapping[str, Any], fail_on: str | None) -> list[str]:
    """One sentence per finding that fails the run under ``fail_on``; empty when it passes."""
    if fail_on is None:
        return []
    reasons = []
    if fail_on in ("drift", "any"):
        reasons += _drift_reasons(report.get("drift") or {})
    if fail_on in ("quality", "any"):
        reasons += _quality_reasons(report.get("quality") or {})
    if fail_on == "any" and report.get("own_metrics"):  # your own metrics (--metric), when asked for
        reasons += _own_reasons(report["own_metrics"])
    return reasons


def _own_reasons(own: Mapping[str, Any]) -> list[str]:
    if own.get("status") != "ok":  # e.g. not run by the Spark executor: a Job must not pass on what it did not run
        return [f"your metrics were not computed ({own.get('reason') or own.get('status')})"]
    failing = [m["name"] for m in own.get("metrics") or [] if m.get("status") == "FAIL"]
    return [f"your metric(s) failed: {', '.join(failing)}"] if failing else []


def _drift_reasons(drift: Mapping[str, Any]) -> list[str]:
    if drift.get("status") != "ok":
        return [f"drift was not measured ({drift.get('reason') or drift.get('status') or 'no preview'})"]
    failing = [c["column"] for c in drift.get("columns") or [] if c.get("passed") is False]
    if failing:
        return [f"{len(failing)} column(s) drifted: {', '.join(failing)}"]
    return []


def _quality_reasons(quality: Mapping[str, Any]) -> list[str]:
    if quality.get("status") != "ok":
        return [f"quality was not measured ({quality.get('reason') or quality.get('status') or 'no preview'})"]
    below = [m.get("api_name") or m["name"] for m in quality.get("metrics") or [] if m.get("passed") is False]
    if below:
        return [f"quality below threshold: {', '.join(below)}"]
    return []
