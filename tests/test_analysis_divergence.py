"""Drift tests on bin counts, checked against scipy computed independently on the same bins."""

import numpy as np
import pytest
from scipy import spatial, stats

from dmm.analysis.binning import fit_categorical_bins, fit_numeric_bins
from dmm.analysis.divergence import (
    DriftConfig,
    chi_square,
    energy,
    jensen_shannon_distance,
    kl_divergence,
    kolmogorov_smirnov,
    population_stability_index,
    run_test,
    smoothed_shares,
    wasserstein,
)
from dmm.analysis.thresholds import Threshold
from dmm.errors import ConfigError


@pytest.fixture
def binned():
    rng = np.random.default_rng(7)
    training = rng.normal(size=5000)
    bins = fit_numeric_bins(training)
    reference = bins.counts(training)
    production = bins.counts(np.r_[rng.normal(0.4, 1.2, size=3000), [50.0, np.nan]])
    return bins, reference, production


def test_kl_and_psi_match_scipy_on_smoothed_shares(binned):
    _, reference, production = binned
    p, q = smoothed_shares(reference, production, 1e-4)
    kl, kl_terms, conventions = kl_divergence(reference, production)
    assert kl == pytest.approx(stats.entropy(p, q))
    assert kl_terms.sum() == pytest.approx(kl)
    psi, _, _ = population_stability_index(reference, production)
    assert psi == pytest.approx(stats.entropy(p, q) + stats.entropy(q, p))
    assert conventions["epsilon"] == 1e-4 and conventions["log_base"] == "e"
    assert "production" in conventions["direction"]


def test_smoothing_gives_empty_bins_epsilon():
    p, q = smoothed_shares(np.array([10, 0, 5, 0]), np.array([0, 4, 4, 0]), 1e-4)
    assert len(p) == 3  # the bin empty on both sides is dropped
    assert p.sum() == pytest.approx(1) and q.sum() == pytest.approx(1)
    assert p[0] == pytest.approx(1e-4 / (1 + 1e-4))


def test_js_matches_scipy(binned):
    _, reference, production = binned
    value, terms, conventions = jensen_shannon_distance(reference, production)
    expected = spatial.distance.jensenshannon(reference / reference.sum(), production / production.sum(), base=2)
    assert value == pytest.approx(expected)
    assert conventions["log_base"] == 2


def test_chi_square_matches_chi2_contingency(binned):
    _, reference, production = binned
    p_value, contributions, _, details = chi_square(reference, production)
    keep = (reference + production) > 0
    expected = stats.chi2_contingency(np.vstack([reference[keep], production[keep]]), correction=False)
    assert details["statistic"] == pytest.approx(expected.statistic)
    assert p_value == pytest.approx(expected.pvalue)
    assert details["dof"] == expected.dof
    assert contributions.sum() == pytest.approx(expected.statistic)


def test_ks_is_max_cdf_gap_of_trained_bins(binned):
    bins, reference, production = binned
    n = bins.trained_bin_count
    value, _, conventions, reason = kolmogorov_smirnov(reference, production, n)
    ref_cdf = np.cumsum(reference[:n]) / reference[:n].sum()
    prod_cdf = np.cumsum(production[:n]) / production[:n].sum()
    assert value == pytest.approx(np.max(np.abs(ref_cdf - prod_cdf))) and not reason
    # the same as scipy's two-sample KS on the bin centres, weighted by counts
    centres = bins.centres
    reference_sample = np.repeat(centres, reference[:n])
    production_sample = np.repeat(centres, production[:n])
    assert value == pytest.approx(stats.ks_2samp(reference_sample, production_sample).statistic)
    assert "trained bins" in conventions["bins"]


def test_wasserstein_and_energy_match_scipy_weighted_centres(binned):
    bins, reference, production = binned
    n = bins.trained_bin_count
    centres = bins.centres
    expected_w = stats.wasserstein_distance(centres, centres, u_weights=production[:n], v_weights=reference[:n])
    expected_e = stats.energy_distance(centres, centres, u_weights=production[:n], v_weights=reference[:n])
    assert wasserstein(reference, production, centres) == pytest.approx(expected_w)
    assert energy(reference, production, centres) == pytest.approx(expected_e)
    result = run_test("WASSERSTEIN", reference, production, bins, DriftConfig())
    assert result.value == pytest.approx(expected_w / bins.training_std)
    assert result.details["raw_value"] == pytest.approx(expected_w)


def test_run_test_states_condition_and_passes():
    bins = fit_numeric_bins(np.arange(100.0))
    same = bins.counts(np.arange(100.0))
    result = run_test("PSI", same, same, bins, DriftConfig())
    assert result.value == pytest.approx(0) and result.passed is True
    payload = result.to_dict()
    assert payload["api_name"] == "POPULATION STABILITY INDEX"
    assert payload["operator"] == "<" and payload["threshold"] == 0.2 and payload["condition"] == "value < 0.2"
    assert {"epsilon", "log_base", "direction", "bins"} <= set(payload["conventions"])


def test_chi_square_passing_condition_is_on_p_value():
    bins = fit_categorical_bins(["a", "b"])
    result = run_test("CHI_SQUARE", np.array([500, 500, 0, 0]), np.array([900, 100, 0, 0]), bins, DriftConfig())
    assert result.operator == ">" and result.value < 0.05 and result.passed is False


def test_numeric_only_tests_are_not_applicable_to_categories():
    bins = fit_categorical_bins(["a", "b"])
    for name in ("KS", "WASSERSTEIN", "ENERGY"):
        result = run_test(name, np.array([5, 5, 0, 0]), np.array([1, 9, 0, 0]), bins, DriftConfig())
        assert result.value is None and result.passed is None and "not applicable" in result.reason


def test_empty_production_gives_reason_not_exception():
    bins = fit_numeric_bins(np.arange(10.0))
    reference = bins.counts(np.arange(10.0))
    for name in ("KL", "PSI", "CHI_SQUARE", "KS", "WASSERSTEIN", "ENERGY", "JS"):
        result = run_test(name, reference, np.zeros_like(reference), bins, DriftConfig())
        assert result.value is None and result.reason


def test_out_of_range_only_production_still_gives_psi_and_reason_for_ks():
    bins = fit_numeric_bins(np.arange(10.0))
    reference = bins.counts(np.arange(10.0))
    production = bins.counts(np.full(20, 99.0))
    assert run_test("PSI", reference, production, bins, DriftConfig()).passed is False
    ks = run_test("KS", reference, production, bins, DriftConfig())
    assert ks.value is None and "training range" in ks.reason


def test_config_overrides_per_column_and_validates():
    config = DriftConfig({"tests": {"PSI": {"threshold": 0.5}}, "default_test": {"numerical": "KL"},
                          "columns": {"age": {"test": "JS", "threshold": 0.01}}})
    assert config.condition("other", "PSI") == Threshold("<", 0.5)
    assert config.main_test("other", "numerical") == "KL"
    assert config.main_test("age", "numerical") == "JS" and config.condition("age", "JS") == Threshold("<", 0.01)
    assert config.condition("age", "PSI") == Threshold("<", 0.5)
    with pytest.raises(ConfigError, match="NOPE"):
        DriftConfig({"columns": {"age": {"test": "NOPE"}}})
    with pytest.raises(ConfigError, match="operator"):
        DriftConfig({"tests": {"KL": {"operator": "~"}}})
