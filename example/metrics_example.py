"""Your own metrics for step 6, the README's example (``make demo`` runs it):

    python 6_check_monitoring.py --metric example/metrics_example.py [--push-metrics]

Every public function here is one metric. Step 6 calls it with two pandas DataFrames: ``baseline`` (the training
set) and ``window`` (the predictions captured in the window: the features, the prediction, ``event_id`` and the
timestamp, with the ground-truth label where one matched). It returns a number, ``(number, status)`` with a status
of PASS, WARN or FAIL, or a dict with ``value`` and optionally ``status``, ``operator`` and ``threshold``. With
``--push-metrics`` each value is logged to Model Monitor as a custom metric under the function's name, and one
that fails its threshold raises an alert. Names starting with ``_`` are helpers, not metrics.
"""

from __future__ import annotations

import pandas as pd


def _mean(frame: pd.DataFrame, column: str) -> float | None:
    values = pd.to_numeric(frame[column], errors="coerce").dropna() if column in frame.columns else pd.Series([])
    return float(values.mean()) if len(values) else None


def monthly_charges_shift(baseline: pd.DataFrame, window: pd.DataFrame) -> dict:
    """How far the mean monthly charge moved from training, as a fraction; fails beyond 20%."""
    before, now = _mean(baseline, "monthly_charges"), _mean(window, "monthly_charges")
    if before is None or now is None or before == 0:
        return {"value": None}
    return {"value": abs(now / before - 1), "operator": "<=", "threshold": 0.2}


def heavy_support_share(baseline: pd.DataFrame, window: pd.DataFrame) -> tuple[float, str]:
    """Share of predictions for customers with 4 or more support calls; a warning above twice the training share."""
    calls = pd.to_numeric(window.get("support_calls", pd.Series([], dtype=float)), errors="coerce")
    trained = pd.to_numeric(baseline.get("support_calls", pd.Series([], dtype=float)), errors="coerce")
    share = float((calls >= 4).mean()) if len(calls) else 0.0
    usual = float((trained >= 4).mean()) if len(trained) else 0.0
    return share, "WARN" if share > 2 * usual else "PASS"


def predictions_in_window(baseline: pd.DataFrame, window: pd.DataFrame) -> int:
    """How many predictions the window holds (a value, no verdict)."""
    return len(window)
