"""The drift tests: pure kernels on bin counts (training against production), and the registry that names them.

Every test in ``DRIFT_TESTS`` has an engine name, its DMM API spelling, the value types it applies to, a default
passing condition and one ``measure`` function that returns a ``Measurement``. Only "POPULATION STABILITY INDEX"
is an observed DMM API spelling; the other ``api_name`` values are our guesses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special

from dmm.analysis.binning import CategoricalBins, NumericBins
from dmm.analysis.thresholds import Threshold

Bins = NumericBins | CategoricalBins
Counts = np.ndarray
EPSILON = 1e-4

ALL_BINS = "all bins, guard bins included; bins empty on both sides dropped"
TRAINED_BINS = "trained bins only, in order (guard bins have no position); shares renormalised over them"
OUTSIDE_RANGE = "one side has no values inside the training range"


@dataclass
class Measurement:
    """What one test measured: a value (or None and a reason), per-bin contributions and the conventions used."""

    value: float | None
    contributions: np.ndarray
    conventions: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


def shares(counts: Counts) -> np.ndarray:
    counts = np.asarray(counts, dtype="float64")
    total = counts.sum()
    return counts / total if total > 0 else counts


def smoothed_shares(reference: Counts, production: Counts, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """Drop bins empty on both sides, give empty bins ``epsilon`` of share, renormalise. Returns (p_prod, q_ref)."""
    keep = (np.asarray(reference) + np.asarray(production)) > 0
    p, q = shares(production)[keep], shares(reference)[keep]
    p = np.where(p == 0, epsilon, p)
    q = np.where(q == 0, epsilon, q)
    return p / p.sum(), q / q.sum()


def _expand(values: np.ndarray, reference: Counts, production: Counts) -> np.ndarray:
    """Per-bin contributions computed on the kept bins, spread back to all bins (0 where dropped)."""
    keep = (np.asarray(reference) + np.asarray(production)) > 0
    out = np.zeros(len(keep))
    out[keep] = values
    return out


def _smoothing_conventions(epsilon: float, direction: str) -> dict[str, Any]:
    return {"smoothing": f"epsilon {epsilon:g} replaces the share of each empty bin, then shares are renormalised",
            "epsilon": epsilon, "log_base": "e", "direction": direction, "bins": ALL_BINS}


def kl_divergence(reference: Counts, production: Counts,
                  epsilon: float = EPSILON) -> tuple[float, np.ndarray, dict[str, Any]]:
    p, q = smoothed_shares(reference, production, epsilon)
    terms = p * np.log(p / q)
    conventions = _smoothing_conventions(epsilon, "KL(production || training) = sum p ln(p/q), "
                                                   "p = production share, q = training share")
    return float(terms.sum()), _expand(terms, reference, production), conventions


def population_stability_index(reference: Counts, production: Counts,
                               epsilon: float = EPSILON) -> tuple[float, np.ndarray, dict[str, Any]]:
    p, q = smoothed_shares(reference, production, epsilon)
    terms = (p - q) * np.log(p / q)
    conventions = _smoothing_conventions(epsilon, "symmetric: sum (p - q) ln(p/q), "
                                                   "p = production share, q = training share")
    return float(terms.sum()), _expand(terms, reference, production), conventions


def jensen_shannon_distance(reference: Counts, production: Counts) -> tuple[float, np.ndarray, dict[str, Any]]:
    p, q = shares(production), shares(reference)
    m = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = 0.5 * (np.where(p > 0, p * np.log2(p / m), 0.0) + np.where(q > 0, q * np.log2(q / m), 0.0))
    conventions = {"smoothing": "none needed (the mixture is never empty where either side is not)",
                   "epsilon": 0.0, "log_base": 2, "bins": "all bins, guard bins included",
                   "direction": "symmetric; value is the distance sqrt(JS divergence), in [0, 1]"}
    return float(np.sqrt(max(terms.sum(), 0.0))), terms, conventions


def chi_square(reference: Counts, production: Counts) -> tuple[float | None, np.ndarray, dict[str, Any],
                                                                dict[str, Any]]:
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
    # what scipy.stats.chi2.sf(statistic, dof) computes, without importing scipy.stats (~1 s): dof >= 1 here
    p_value = float(special.chdtrc(dof, statistic))
    contributions = np.zeros(table.shape[1])
    contributions[keep] = cells.sum(axis=0)
    return p_value, contributions, conventions, {"statistic": statistic, "dof": dof, "p_value": p_value}


def _trained_cdfs(reference: Counts, production: Counts, trained: int) -> tuple[np.ndarray, np.ndarray] | None:
    ref, prod = np.asarray(reference[:trained], "float64"), np.asarray(production[:trained], "float64")
    if ref.sum() == 0 or prod.sum() == 0:
        return None
    return np.cumsum(shares(ref)), np.cumsum(shares(prod))


def kolmogorov_smirnov(reference: Counts, production: Counts,
                       trained: int) -> tuple[float | None, np.ndarray, dict[str, Any], str]:
    conventions = {"smoothing": "none", "epsilon": 0.0, "log_base": None, "bins": TRAINED_BINS,
                   "direction": "symmetric; max |F_production - F_training| over the ordered bin edges"}
    cdfs = _trained_cdfs(reference, production, trained)
    if cdfs is None:
        return None, np.zeros(len(reference)), conventions, OUTSIDE_RANGE
    gaps = np.abs(cdfs[0] - cdfs[1])
    contributions = np.zeros(len(reference))
    contributions[:trained] = np.abs(shares(production[:trained]) - shares(reference[:trained]))
    return float(gaps.max()), contributions, conventions, ""


def _cdf_distance(reference: Counts, production: Counts, centres: np.ndarray, power: int) -> float | None:
    cdfs = _trained_cdfs(reference, production, len(centres))
    if cdfs is None:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        widths = np.diff(centres)
        gaps = np.abs(cdfs[0] - cdfs[1])[:-1]
        if power == 1:
            return float(np.sum(gaps * widths))
        return float(np.sqrt(2.0 * np.sum(gaps ** 2 * widths)))


def wasserstein(reference: Counts, production: Counts, centres: np.ndarray) -> float | None:
    """Earth mover's distance between the two weighted sets of bin centres (scipy's wasserstein_distance)."""
    return _cdf_distance(reference, production, centres, 1)


def energy(reference: Counts, production: Counts, centres: np.ndarray) -> float | None:
    """Energy distance between the two weighted sets of bin centres (scipy's energy_distance convention)."""
    return _cdf_distance(reference, production, centres, 2)


# --- the registry: one measure per test, same signature ---

Measure = Callable[[Counts, Counts, Bins, float], Measurement]


def _measure_kl(reference: Counts, production: Counts, bins: Bins, epsilon: float) -> Measurement:
    return Measurement(*kl_divergence(reference, production, epsilon))


def _measure_psi(reference: Counts, production: Counts, bins: Bins, epsilon: float) -> Measurement:
    return Measurement(*population_stability_index(reference, production, epsilon))


def _measure_js(reference: Counts, production: Counts, bins: Bins, epsilon: float) -> Measurement:
    return Measurement(*jensen_shannon_distance(reference, production))


def _measure_chi_square(reference: Counts, production: Counts, bins: Bins, epsilon: float) -> Measurement:
    value, contributions, conventions, details = chi_square(reference, production)
    reason = details.pop("reason", "")
    return Measurement(value, contributions, conventions, details, reason)


def _measure_ks(reference: Counts, production: Counts, bins: Bins, epsilon: float) -> Measurement:
    value, contributions, conventions, reason = kolmogorov_smirnov(reference, production, bins.trained_bin_count)
    return Measurement(value, contributions, conventions, reason=reason)


def _distance(fn: Callable[[Counts, Counts, np.ndarray], float | None], power: int) -> Measure:
    """Wasserstein (power 1) or energy (power 2) of standardised values, so the value has no unit: Wasserstein
    scales with the units, so it is divided by the training standard deviation; energy distance scales with
    their square root, so it is divided by the square root of that standard deviation."""

    def measure(reference: Counts, production: Counts, bins: Bins, epsilon: float) -> Measurement:
        std = getattr(bins, "training_std", 0.0)
        scale = (std if power == 1 else float(np.sqrt(std))) if std > 0 else 1.0
        divided = "the training standard deviation" if power == 1 else \
            "the square root of the training standard deviation"
        conventions = {"smoothing": "none", "epsilon": 0.0, "log_base": None,
                       "bins": TRAINED_BINS + "; each bin is a point mass at its centre", "direction": "symmetric",
                       "scale": (f"raw distance divided by {divided} (ddof=0): the distance between standardised "
                                 "values, unit-free") if std > 0 else "raw (training standard deviation is 0)",
                       "ddof": 0}
        contributions = np.zeros(len(reference))
        raw = fn(reference, production, bins.centres) if isinstance(bins, NumericBins) else None
        if raw is None:
            return Measurement(None, contributions, conventions, reason=OUTSIDE_RANGE)
        trained = bins.trained_bin_count
        contributions[:trained] = np.abs(shares(production[:trained]) - shares(reference[:trained]))
        return Measurement(raw / scale, contributions, conventions, {"raw_value": raw, "scale": scale})

    return measure


@dataclass(frozen=True)
class DriftTest:
    """One drift test: its engine name, DMM's spelling, where it applies, its default condition, its measure."""

    name: str
    api_name: str
    value_types: tuple[str, ...]
    default: Threshold
    measure: Measure
    trained_bins_only: bool = False  # ignores the guard bins, so the out-of-range share is shown beside it

    def applies_to(self, value_type: str) -> bool:
        return value_type in self.value_types


BOTH = ("numerical", "categorical")
NUMERICAL = ("numerical",)
DRIFT_TESTS: dict[str, DriftTest] = {test.name: test for test in (
    DriftTest("KL", "KULLBACK LEIBLER", BOTH, Threshold("<", 0.1), _measure_kl),
    DriftTest("PSI", "POPULATION STABILITY INDEX", BOTH, Threshold("<", 0.2), _measure_psi),
    DriftTest("CHI_SQUARE", "CHI SQUARE", BOTH, Threshold(">", 0.05), _measure_chi_square),
    DriftTest("KS", "KOLMOGOROV SMIRNOV", NUMERICAL, Threshold("<", 0.1), _measure_ks, trained_bins_only=True),
    DriftTest("WASSERSTEIN", "WASSERSTEIN DISTANCE", NUMERICAL, Threshold("<", 0.1), _distance(wasserstein, 1),
              trained_bins_only=True),
    DriftTest("ENERGY", "ENERGY DISTANCE", NUMERICAL, Threshold("<", 0.1), _distance(energy, 2),
              trained_bins_only=True),
    DriftTest("JS", "JENSEN SHANNON", BOTH, Threshold("<", 0.1), _measure_js),
)}
TESTS = tuple(DRIFT_TESTS)
NUMERIC_ONLY = tuple(name for name, test in DRIFT_TESTS.items() if "categorical" not in test.value_types)
