"""Drift tests on bin counts (training against production), so they work on counts accumulated in a stream.

Each test returns a ``TestResult`` that states its passing condition, threshold and conventions (smoothing, log
base, direction, which bins). Defaults live in ``DEFAULT_DRIFT_CONFIG`` (data, JSON-able), overridable per column.
Only "POPULATION STABILITY INDEX" is an observed DMM API spelling; the other ``api_name`` values are our guesses.
"""

from __future__ import annotations

import copy
import operator as op
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from dmm.errors import ConfigError

EPSILON = 1e-4

DEFAULT_DRIFT_CONFIG: dict = {
    "default_test": {"numerical": "PSI", "categorical": "PSI"},
    "epsilon": EPSILON,
    "tests": {
        "KL": {"api_name": "KULLBACK LEIBLER", "operator": "<", "threshold": 0.1},
        "PSI": {"api_name": "POPULATION STABILITY INDEX", "operator": "<", "threshold": 0.2},
        "CHI_SQUARE": {"api_name": "CHI SQUARE", "operator": ">", "threshold": 0.05},
        "KS": {"api_name": "KOLMOGOROV SMIRNOV", "operator": "<", "threshold": 0.1},
        "WASSERSTEIN": {"api_name": "WASSERSTEIN DISTANCE", "operator": "<", "threshold": 0.1},
        "ENERGY": {"api_name": "ENERGY DISTANCE", "operator": "<", "threshold": 0.1},
        "JS": {"api_name": "JENSEN SHANNON", "operator": "<", "threshold": 0.1},
    },
    # per column: {"<column>": {"test": "KL", "operator": "<", "threshold": 0.05}}
    "columns": {},
}

OPERATORS = {"<": op.lt, "<=": op.le, ">": op.gt, ">=": op.ge}

ALL_BINS = "all bins, guard bins included; bins empty on both sides dropped"
TRAINED_BINS = "trained bins only, in order (guard bins have no position); shares renormalised over them"


class DriftConfig:
    """Test defaults as data: ``DriftConfig(overrides)`` deep-merges ``overrides`` into ``DEFAULT_DRIFT_CONFIG``."""

    def __init__(self, overrides: dict | None = None) -> None:
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
        operators_named = ", ".join(OPERATORS)
        for name, spec in self.data["tests"].items():
            if name not in TESTS:
                raise ConfigError(f"The drift config names an unknown test {name!r}", f"Use one of {tests_named}")
            if spec.get("operator") not in OPERATORS:
                raise ConfigError(f"The drift test {name} has the operator {spec.get('operator')!r}",
                                  f"Use one of {operators_named}")
        for value_type, test in self.data["default_test"].items():
            if test not in TESTS:
                raise ConfigError(f"The default {value_type} drift test {test!r} is unknown",
                                  f"Use one of {tests_named}")
        for column, spec in self.data["columns"].items():
            test = spec.get("test")
            if test is not None and test not in TESTS:
                raise ConfigError(f"The drift config gives column {column} the unknown test {test!r}",
                                  f"Use one of {tests_named}")
            if spec.get("operator") is not None and spec["operator"] not in OPERATORS:
                raise ConfigError(f"The drift config gives column {column} the operator {spec['operator']!r}",
                                  f"Use one of {operators_named}")

    @property
    def epsilon(self) -> float:
        return float(self.data["epsilon"])

    def main_test(self, column: str, value_type: str) -> str:
        return self.data["columns"].get(column, {}).get("test") or self.data["default_test"][value_type]

    def condition(self, column: str, test: str) -> tuple[str, float]:
        spec = dict(self.data["tests"][test])
        override = self.data["columns"].get(column, {})
        if override.get("test", test) == test:
            spec.update({key: override[key] for key in ("operator", "threshold") if key in override})
        return spec["operator"], float(spec["threshold"])

    def to_dict(self) -> dict:
        return copy.deepcopy(self.data)


@dataclass
class TestResult:
    name: str
    api_name: str
    value: float | None
    operator: str
    threshold: float
    conventions: dict
    details: dict = field(default_factory=dict)
    reason: str = ""
    contributions: np.ndarray | None = field(default=None, repr=False)

    @property
    def passed(self) -> bool | None:
        if self.value is None or not np.isfinite(self.value):
            return None
        return bool(OPERATORS[self.operator](self.value, self.threshold))

    @property
    def severity(self) -> float:
        """How far the value is past its threshold: above 1 fails, larger is worse."""
        if self.value is None:
            return 0.0
        tiny, ceiling = 1e-12, 1e9
        if self.operator in ("<", "<="):
            return min(float(self.value) / max(self.threshold, tiny), ceiling)
        return min(max(self.threshold, tiny) / max(float(self.value), tiny), ceiling)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "api_name": self.api_name,
            "value": None if self.value is None else float(self.value),
            "operator": self.operator,
            "threshold": self.threshold,
            "condition": f"value {self.operator} {self.threshold:g}",
            "passed": self.passed,
            "details": self.details,
            "conventions": self.conventions,
            "reason": self.reason,
        }


def shares(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype="float64")
    total = counts.sum()
    return counts / total if total > 0 else counts


def smoothed_shares(reference: np.ndarray, production: np.ndarray, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """Drop bins empty on both sides, give empty bins ``epsilon`` of share, renormalise. Returns (p_prod, q_ref)."""
    keep = (np.asarray(reference) + np.asarray(production)) > 0
    p, q = shares(production)[keep], shares(reference)[keep]
    p = np.where(p == 0, epsilon, p)
    q = np.where(q == 0, epsilon, q)
    return p / p.sum(), q / q.sum()


def _expand(values: np.ndarray, reference: np.ndarray, production: np.ndarray) -> np.ndarray:
    """Per-bin contributions computed on the kept bins, spread back to all bins (0 where dropped)."""
    keep = (np.asarray(reference) + np.asarray(production)) > 0
    out = np.zeros(len(keep))
    out[keep] = values
    return out


def _smoothing_conventions(epsilon: float, direction: str) -> dict:
    return {"smoothing": f"epsilon {epsilon:g} replaces the share of each empty bin, then shares are renormalised",
            "epsilon": epsilon, "log_base": "e", "direction": direction, "bins": ALL_BINS}


def kl_divergence(reference, production, epsilon=EPSILON) -> tuple[float, np.ndarray, dict]:
    p, q = smoothed_shares(reference, production, epsilon)
    terms = p * np.log(p / q)
    conventions = _smoothing_conventions(epsilon, "KL(production || training) = sum p ln(p/q), "
                                                   "p = production share, q = training share")
    return float(terms.sum()), _expand(terms, reference, production), conventions


def population_stability_index(reference, production, epsilon=EPSILON) -> tuple[float, np.ndarray, dict]:
    p, q = smoothed_shares(reference, production, epsilon)
    terms = (p - q) * np.log(p / q)
    conventions = _smoothing_conventions(epsilon, "symmetric: sum (p - q) ln(p/q), "
                                                   "p = production share, q = training share")
    return float(terms.sum()), _expand(terms, reference, production), conventions


def jensen_shannon_distance(reference, production) -> tuple[float, np.ndarray, dict]:
    p, q = shares(production), shares(reference)
    m = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = 0.5 * (np.where(p > 0, p * np.log2(p / m), 0.0) + np.where(q > 0, q * np.log2(q / m), 0.0))
    conventions = {"smoothing": "none needed (the mixture is never empty where either side is not)",
                   "epsilon": 0.0, "log_base": 2, "bins": "all bins, guard bins included",
                   "direction": "symmetric; value is the distance sqrt(JS divergence), in [0, 1]"}
    return float(np.sqrt(max(terms.sum(), 0.0))), terms, conventions


def chi_square(reference, production) -> tuple[float | None, np.ndarray, dict, dict]:
    """Chi-square test of homogeneity on the 2 x k table (training, production) of bin counts."""
    table = np.vstack([np.asarray(reference, "float64"), np.asarray(production, "float64")])
    keep = table.sum(axis=0) > 0
    conventions = {"smoothing": "none; bins empty on both sides dropped", "epsilon": 0.0, "log_base": None,
                   "direction": "symmetric; test of homogeneity on the 2 x k table of counts, no continuity "
                                "correction; value is the p-value", "bins": ALL_BINS}
    kept = table[:, keep]
    if kept.shape[1] < 2:
        return None, np.zeros(table.shape[1]), conventions, {"reason": "fewer than two non-empty bins"}
    expected = kept.sum(axis=1, keepdims=True) * kept.sum(axis=0, keepdims=True) / kept.sum()
    cells = (kept - expected) ** 2 / expected
    statistic = float(cells.sum())
    dof = kept.shape[1] - 1
    p_value = float(stats.chi2.sf(statistic, dof))
    contributions = np.zeros(table.shape[1])
    contributions[keep] = cells.sum(axis=0)
    return p_value, contributions, conventions, {"statistic": statistic, "dof": dof, "p_value": p_value}


def _trained_cdfs(reference, production, trained: int) -> tuple[np.ndarray, np.ndarray] | None:
    ref, prod = np.asarray(reference[:trained], "float64"), np.asarray(production[:trained], "float64")
    if ref.sum() == 0 or prod.sum() == 0:
        return None
    return np.cumsum(shares(ref)), np.cumsum(shares(prod))


def kolmogorov_smirnov(reference, production, trained: int) -> tuple[float | None, np.ndarray, dict, str]:
    conventions = {"smoothing": "none", "epsilon": 0.0, "log_base": None, "bins": TRAINED_BINS,
                   "direction": "symmetric; max |F_production - F_training| over the ordered bin edges"}
    cdfs = _trained_cdfs(reference, production, trained)
    if cdfs is None:
        return None, np.zeros(len(reference)), conventions, "one side has no values inside the training range"
    gaps = np.abs(cdfs[0] - cdfs[1])
    contributions = np.zeros(len(reference))
    contributions[:trained] = np.abs(shares(production[:trained]) - shares(reference[:trained]))
    return float(gaps.max()), contributions, conventions, ""


def _cdf_distance(reference, production, centres: np.ndarray, power: int):
    cdfs = _trained_cdfs(reference, production, len(centres))
    if cdfs is None:
        return None
    widths = np.diff(centres)
    gaps = np.abs(cdfs[0] - cdfs[1])[:-1]
    if power == 1:
        return float(np.sum(gaps * widths))
    return float(np.sqrt(2.0 * np.sum(gaps ** 2 * widths)))


def wasserstein(reference, production, centres: np.ndarray) -> float | None:
    """Earth mover's distance between the two weighted sets of bin centres (scipy's wasserstein_distance)."""
    return _cdf_distance(reference, production, centres, 1)


def energy(reference, production, centres: np.ndarray) -> float | None:
    """Energy distance between the two weighted sets of bin centres (scipy's energy_distance convention)."""
    return _cdf_distance(reference, production, centres, 2)


def _distance_result(name, fn, reference, production, bins) -> tuple[float | None, np.ndarray, dict, dict, str]:
    scale = bins.training_std if bins.training_std > 0 else 1.0
    conventions = {"smoothing": "none", "epsilon": 0.0, "log_base": None, "bins": TRAINED_BINS + "; "
                   "each bin is a point mass at its centre",
                   "direction": "symmetric",
                   "scale": "divided by the training standard deviation" if bins.training_std > 0
                   else "raw (training standard deviation is 0)"}
    raw = fn(reference, production, bins.centres)
    if raw is None:
        return None, np.zeros(len(reference)), conventions, {}, "one side has no values inside the training range"
    contributions = np.zeros(len(reference))
    trained = bins.trained_bin_count
    contributions[:trained] = np.abs(shares(production[:trained]) - shares(reference[:trained]))
    return raw / scale, contributions, conventions, {"raw_value": raw, "scale": scale}, ""


TESTS = ("KL", "PSI", "CHI_SQUARE", "KS", "WASSERSTEIN", "ENERGY", "JS")
NUMERIC_ONLY = ("KS", "WASSERSTEIN", "ENERGY")


def run_test(name: str, reference: np.ndarray, production: np.ndarray, bins, config: DriftConfig,
             column: str = "") -> TestResult:
    """One drift test on bin counts; an edge case gives ``value=None`` and a ``reason``, never an exception."""
    operator, threshold = config.condition(column, name)
    api_name = config.data["tests"][name]["api_name"]
    result = TestResult(name=name, api_name=api_name, value=None, operator=operator, threshold=threshold,
                        conventions={})
    reference, production = np.asarray(reference), np.asarray(production)
    if name in NUMERIC_ONLY and bins.value_type != "numerical":
        result.reason = ("not applicable to categorical columns: classes have no order or distance "
                         "(the value would depend on an arbitrary class order)")
        return result
    if reference.sum() == 0:
        result.reason = "the training data has no rows for this column"
        return result
    if production.sum() == 0:
        result.reason = "no production rows in the window"
        return result
    if name == "KL":
        result.value, result.contributions, result.conventions = kl_divergence(reference, production, config.epsilon)
    elif name == "PSI":
        result.value, result.contributions, result.conventions = population_stability_index(
            reference, production, config.epsilon)
    elif name == "JS":
        result.value, result.contributions, result.conventions = jensen_shannon_distance(reference, production)
    elif name == "CHI_SQUARE":
        result.value, result.contributions, result.conventions, result.details = chi_square(reference, production)
        result.reason = result.details.pop("reason", "")
    elif name == "KS":
        result.value, result.contributions, result.conventions, result.reason = kolmogorov_smirnov(
            reference, production, bins.trained_bin_count)
    elif name in ("WASSERSTEIN", "ENERGY"):
        fn = wasserstein if name == "WASSERSTEIN" else energy
        result.value, result.contributions, result.conventions, result.details, result.reason = _distance_result(
            name, fn, reference, production, bins)
    else:
        raise ValueError(f"unknown drift test {name!r}; choose one of {list(TESTS)}")
    return result
