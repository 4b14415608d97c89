"""Your own metrics: ``6_check_monitoring.py --metric path/to/metrics.py`` (repeatable).

The module is a Python file of the user's own project, loaded with importlib from the path given on the command
line (never code sent over the network, unlike the original toolkit's app, which ran a web form's text with
``exec()``). Each public function defined in it (a name without a leading ``_``) is one metric:

    def default_rate(baseline: pd.DataFrame, window: pd.DataFrame):
        return window["churned"].eq("1").mean()                       # a value
        return value, "WARN"                                          # (value, status)
        return {"value": v, "operator": "<=", "threshold": 0.2}       # a dict: value, status, operator, threshold

``baseline`` is the training set; ``window`` the predictions captured in the window (features, the prediction,
``event_id`` and the timestamp where captured), with the label column where ground truth matched. The window is
held in memory while the functions run, so ``--metric`` costs memory proportional to the window's rows. A status
is PASS, WARN or FAIL; without one, a threshold gives the verdict (``value <operator> threshold``, operator
default ``>=``); with neither, the value is shown and pushed without a verdict.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dmm.errors import UsageError

STATUSES = ("PASS", "WARN", "FAIL")
DICT_KEYS = {"value", "status", "threshold", "operator"}
METRIC_RULE = ("each public function of a --metric module, called as f(baseline, window): baseline is the training "
               "set, window the predictions captured in the window with the label where ground truth matched")


@dataclass(frozen=True)
class OwnMetric:
    """One metric function and where it came from."""

    name: str
    path: str
    function: Callable[..., Any] = field(compare=False)

    @property
    def where(self) -> str:
        return f"{self.name} in {self.path}"


def _invalid(message: str, advice: str) -> UsageError:
    return UsageError(message, advice, code="metric-module-invalid")


def load_metric_module(path: str) -> list[OwnMetric]:
    """The public functions of the Python file at ``path``, each checked to take (baseline, window)."""
    from dmm.paths import check_readable_file

    file = check_readable_file(path, "The --metric module", flag="--metric")
    if Path(file).suffix != ".py":
        raise _invalid(f"The --metric module {path} is not a Python file (.py)", "Pass the path of a .py file")
    module_name = "dmm_own_metrics_" + re.sub(r"\W", "_", Path(file).stem)
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise _invalid(f"The --metric module {path} cannot be loaded", "Pass the path of a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling inside the module look themselves up there
    try:
        spec.loader.exec_module(module)
    except BaseException as error:  # noqa: BLE001 - the user's code: any failure is a plain error naming it
        sys.modules.pop(module_name, None)
        if isinstance(error, KeyboardInterrupt):
            raise
        raise _invalid(f"The --metric module {path} failed to load ({type(error).__name__}: {error})",
                       "Fix the module so that `python " + str(path) + "` runs") from None
    metrics = []
    for name, value in vars(module).items():
        if name.startswith("_") or not inspect.isfunction(value) or value.__module__ != module_name:
            continue
        try:
            inspect.signature(value).bind(None, None)
        except TypeError:
            raise _invalid(f"The metric function {name} in {path} does not take two arguments",
                           f"Define it as def {name}(baseline, window) or make it private (_{name})") from None
        metrics.append(OwnMetric(name, str(path), value))
    if not metrics:
        raise _invalid(f"The --metric module {path} defines no public function",
                       "Define def my_metric(baseline, window) returning a number")
    return metrics


STEP6_METRIC_PREFIXES = ("drift_", "quality_")


def load_metric_modules(paths: Sequence[str]) -> tuple[OwnMetric, ...]:
    """Every metric of every module; the same function name twice is an error (the custom metrics would clash)."""
    metrics: list[OwnMetric] = []
    for path in paths:
        for metric in load_metric_module(path):
            if metric.name.startswith(STEP6_METRIC_PREFIXES):  # dmm/publish.py pushes drift_<col>, quality_<name>
                raise _invalid(f"The metric function {metric.name} in {metric.path} has the name of one of step 6's "
                               "own custom metrics", f"Rename it (for example my_{metric.name})")
            clash = next((m for m in metrics if m.name == metric.name), None)
            if clash:
                raise _invalid(f"The metric function {metric.name} is defined in {clash.path} and {metric.path}",
                               "Rename one of them")
            metrics.append(metric)
    return tuple(metrics)


def _number(value: Any, metric: OwnMetric, what: str) -> float | None:
    if value is None:
        return None
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.item()  # a numpy or pandas scalar
        except (ValueError, TypeError):
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UsageError(f"The metric function {metric.where} returned {what} {value!r}, not a finite number",
                         "Return a number, (number, status) or {'value': number, ...}", code="metric-failed")
    return float(value)


def interpret(result: Any, metric: OwnMetric) -> dict[str, Any]:
    """A function's return value as {name, value, status, operator, threshold, passed, module}."""
    status = operator = threshold = None
    if isinstance(result, dict):
        unknown = sorted(set(map(str, result)) - DICT_KEYS)
        if unknown or "value" not in result:
            raise UsageError(f"The metric function {metric.where} returned a dict with "
                             + (f"unknown key(s) {', '.join(unknown)}" if unknown else "no 'value'"),
                             f"Use the keys {', '.join(sorted(DICT_KEYS))}", code="metric-failed")
        value, status = result["value"], result.get("status")
        operator, threshold = result.get("operator"), result.get("threshold")
    elif isinstance(result, tuple):
        if len(result) != 2:
            raise UsageError(f"The metric function {metric.where} returned a tuple of {len(result)} items",
                             "Return (value, status)", code="metric-failed")
        value, status = result
    else:
        value = result
    number = _number(value, metric, "the value")
    limit = _number(threshold, metric, "the threshold")
    if status is not None:
        status = str(status).upper()
        if status not in STATUSES:
            raise UsageError(f"The metric function {metric.where} returned the status {status!r}",
                             f"Use one of {', '.join(STATUSES)}", code="metric-failed")
    if limit is not None:
        from dmm.analysis.thresholds import Threshold

        try:
            condition = Threshold(operator or ">=", limit)
        except UsageError as error:
            raise UsageError(f"The metric function {metric.where} returned the operator {operator!r}",
                             error.advice, code="metric-failed") from None
        operator = condition.operator
        if status is None:
            verdict = condition.passes(number)
            status = None if verdict is None else "PASS" if verdict else "FAIL"
    return {"name": metric.name, "module": metric.path, "value": number, "status": status,
            "operator": operator, "threshold": limit,
            "passed": None if status is None else status != "FAIL"}


def run_metrics(metrics: Sequence[OwnMetric], baseline: Any, window: Any) -> list[dict[str, Any]]:
    """Every metric on (baseline, window); a function that raises or returns something unusable is a
    ``UsageError`` (``metric-failed``) naming it. Each function gets its own copies, so none sees another's edits."""
    results = []
    for metric in metrics:
        try:
            returned = metric.function(baseline.copy(), window.copy())
        except Exception as error:
            raise UsageError(f"The metric function {metric.where} failed ({type(error).__name__}: {error})",
                             "Fix the function; it is called as f(baseline, window) with two pandas DataFrames",
                             code="metric-failed") from None
        results.append(interpret(returned, metric))
    return results


class WindowRows:
    """A watcher of step 6's pass (``dmm/checks/scan.py``) that keeps the window's rows for the metric functions."""

    name = "own_metrics"
    columns: tuple[str, ...] = ("event_id", "timestamp", "__domino_timestamp")

    def __init__(self) -> None:
        self.frames: list[Any] = []

    def add(self, frame: Any, scan: Any = None) -> None:
        self.frames.append(frame)

    def frame(self) -> Any:
        import pandas as pd

        return pd.concat(self.frames, ignore_index=True) if self.frames else pd.DataFrame()
