"""Drift tests on bin counts (training against production), so they work on counts accumulated in a stream.

``run_test`` looks a test up in the registry (``drift_tests.DRIFT_TESTS``) and returns a ``TestResult`` that
states its passing condition, threshold and conventions (smoothing, log base, direction, which bins). Defaults
live in ``DEFAULT_DRIFT_CONFIG`` (data, JSON-able), overridable per column; every condition is a validated
``Threshold``. Tests that look only inside the training range (KS, Wasserstein, energy) carry the share of
production values outside it, with a verdict of its own (``out_of_range`` in the config).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dmm.analysis.drift_tests import (  # noqa: F401 - the kernels are part of this module's public face
    ALL_BINS,
    DRIFT_TESTS,
    EPSILON,
    NUMERIC_ONLY,
    TESTS,
    TRAINED_BINS,
    Bins,
    DriftTest,
    Measurement,
    chi_square,
    energy,
    jensen_shannon_distance,
    kl_divergence,
    kolmogorov_smirnov,
    population_stability_index,
    shares,
    smoothed_shares,
    wasserstein,
)
from dmm.analysis.thresholds import OPERATORS, Threshold  # noqa: F401
from dmm.errors import ConfigError

OUT_OF_RANGE_MEANING = ("share of valid production values outside the training range; KS, Wasserstein and energy "
                        "compare only the values inside it, so this share is their verdict's other half")

DEFAULT_DRIFT_CONFIG: dict[str, Any] = {
    "default_test": {"numerical": "PSI", "categorical": "PSI"},
    "epsilon": EPSILON,
    "tests": {name: {"api_name": test.api_name, **test.default.to_dict()} for name, test in DRIFT_TESTS.items()},
    # beside KS, Wasserstein and energy: fails when more than 10% of the valid production values are out of range
    "out_of_range": {"operator": "<=", "threshold": 0.1},
    # per column: {"<column>": {"test": "KL", "operator": "<", "threshold": 0.05}}
    "columns": {},
}


class DriftConfig:
    """Test defaults as data: ``DriftConfig(overrides)`` deep-merges ``overrides`` into ``DEFAULT_DRIFT_CONFIG``."""

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        data = copy.deepcopy(DEFAULT_DRIFT_CONFIG)
        for key, value in (overrides or {}).items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                for inner_key, inner_value in value.items():
                    if isinstance(inner_value, dict) and isinstance(data[key].get(inner_key), dict):
                        data[key][inner_key].update(inner_value)
                    else:
                        data[key][inner_key] = inner_value
            else:
                data[key] = value
        self.data = data
        self._validate()

    def _validate(self) -> None:
        tests_named = ", ".join(TESTS)
        for name, spec in self.data["tests"].items():
            if name not in DRIFT_TESTS:
                raise ConfigError(f"The drift config names an unknown test {name!r}", f"Use one of {tests_named}")
            Threshold.parse({k: spec.get(k) for k in ("operator", "threshold")}, f"drift test {name}")
        for value_type, test in self.data["default_test"].items():
            if test not in DRIFT_TESTS:
                raise ConfigError(f"The default {value_type} drift test {test!r} is unknown",
                                  f"Use one of {tests_named}")
        self.out_of_range = Threshold.parse(self.data["out_of_range"], "drift out-of-range share")
        for column, spec in self.data["columns"].items():
            test = spec.get("test")
            if test is not None and test not in DRIFT_TESTS:
                raise ConfigError(f"The drift config gives column {column} the unknown test {test!r}",
                                  f"Use one of {tests_named}")
            if spec.get("operator") is not None and spec["operator"] not in OPERATORS:
                raise ConfigError(f"The drift config gives column {column} the operator {spec['operator']!r}",
                                  f"Use one of {', '.join(OPERATORS)}")
            if "threshold" in spec:
                Threshold.parse({"operator": spec.get("operator") or "<", "threshold": spec["threshold"]},
                                f"drift config column {column}")
        try:
            float(self.data["epsilon"])
        except (TypeError, ValueError):
            raise ConfigError(f"The drift config's epsilon {self.data['epsilon']!r} is not a number",
                              "Give a small positive number such as 0.0001") from None

    @property
    def epsilon(self) -> float:
        return float(self.data["epsilon"])

    def main_test(self, column: str, value_type: str) -> str:
        return self.data["columns"].get(column, {}).get("test") or self.data["default_test"][value_type]

    def condition(self, column: str, test: str) -> Threshold:
        spec = dict(self.data["tests"][test])
        override = self.data["columns"].get(column, {})
        if override.get("test", test) == test:
            spec.update({key: override[key] for key in ("operator", "threshold") if key in override})
        return Threshold.parse({"operator": spec["operator"], "threshold": spec["threshold"]},
                               f"drift test {test} of column {column or '(any)'}")

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.data)


@dataclass(frozen=True)
class OutOfRange:
    """How many valid production values fell outside the training range, and the verdict on that share."""

    count: int
    valid: int
    condition: Threshold

    @property
    def share(self) -> float:
        return self.count / self.valid if self.valid else 0.0

    @property
    def passed(self) -> bool | None:
        return self.condition.passes(self.share) if self.valid else None

    def to_dict(self) -> dict[str, Any]:
        return {"share": self.share, "count": self.count, "valid_values": self.valid, **self.condition.to_dict(),
                "condition": f"share {self.condition.operator} {self.condition.threshold:g}",
                "passed": self.passed, "meaning": OUT_OF_RANGE_MEANING}


@dataclass
class TestResult:
    name: str
    api_name: str
    condition: Threshold
    measurement: Measurement
    out_of_range: OutOfRange | None = None
    reason_override: str = field(default="", repr=False)

    @property
    def value(self) -> float | None:
        return self.measurement.value

    @property
    def operator(self) -> str:
        return self.condition.operator

    @property
    def threshold(self) -> float | None:
        return self.condition.threshold

    @property
    def conventions(self) -> dict[str, Any]:
        return self.measurement.conventions

    @property
    def details(self) -> dict[str, Any]:
        return self.measurement.details

    @property
    def contributions(self) -> np.ndarray:
        return self.measurement.contributions

    @property
    def reason(self) -> str:
        return self.reason_override or self.measurement.reason

    @property
    def passed(self) -> bool | None:
        """The value's verdict; False as well when too many values lie outside the training range."""
        if self.out_of_range is not None and self.out_of_range.passed is False:
            return False
        return self.condition.passes(self.value)

    @property
    def severity(self) -> float:
        """How far the value is past its threshold: above 1 fails, larger is worse."""
        own = self.condition.severity(self.value)
        if self.out_of_range is not None and self.out_of_range.valid:
            return max(own, self.out_of_range.condition.severity(self.out_of_range.share))
        return own

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "api_name": self.api_name,
            "value": None if self.value is None else float(self.value),
            "operator": self.operator,
            "threshold": self.threshold,
            "condition": self.condition.condition,
            "passed": self.passed,
            "details": self.details,
            "conventions": self.conventions,
            "reason": self.reason,
        }
        if self.out_of_range is not None:
            out["value_passed"] = self.condition.passes(self.value)
            out["out_of_range"] = self.out_of_range.to_dict()
        return out


def _empty(reference: np.ndarray) -> Measurement:
    return Measurement(None, np.zeros(len(reference)), {})


def run_test(name: str, reference: np.ndarray, production: np.ndarray, bins: Bins, config: DriftConfig,
             column: str = "") -> TestResult:
    """One drift test on bin counts; an edge case gives ``value=None`` and a ``reason``, never an exception."""
    if name not in DRIFT_TESTS:
        raise ValueError(f"unknown drift test {name!r}; choose one of {list(TESTS)}")
    test: DriftTest = DRIFT_TESTS[name]
    reference, production = np.asarray(reference), np.asarray(production)
    result = TestResult(name=name, api_name=config.data["tests"][name]["api_name"],
                        condition=config.condition(column, name), measurement=_empty(reference))
    if not test.applies_to(bins.value_type):
        result.reason_override = ("not applicable to categorical columns: classes have no order or distance "
                                  "(the value would depend on an arbitrary class order)")
        return result
    if reference.sum() == 0:
        result.reason_override = "the training data has no rows for this column"
        return result
    if production.sum() == 0:
        result.reason_override = "no production rows in the window"
        return result
    result.measurement = test.measure(reference, production, bins, config.epsilon)
    if test.trained_bins_only:
        trained = bins.trained_bin_count
        result.out_of_range = OutOfRange(count=int(production[trained]), valid=int(production[:trained + 1].sum()),
                                         condition=config.out_of_range)
    return result
