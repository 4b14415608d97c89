"""The drift and quality engine shared by step 6 and the sandbox: numpy/scipy/scikit-learn kernels with no I/O
(binning, divergence, drift, quality) and the readers that stream data into them."""

from dmm.analysis.binning import (GUARD_BINS, INVALID, UNTRAINED, CategoricalBins, NumericBins,
                                  fit_categorical_bins, fit_numeric_bins)
from dmm.analysis.divergence import DEFAULT_DRIFT_CONFIG, TESTS, DriftConfig, TestResult, run_test
from dmm.analysis.drift import ColumnDrift, DriftCalculator
from dmm.analysis.quality import DEFAULT_QUALITY_THRESHOLDS, JoinResult, join_ground_truth, quality_metrics
from dmm.analysis.readers import count_parquet_rows, iter_parquet_batches, read_table_file

__all__ = [
    "GUARD_BINS", "INVALID", "UNTRAINED", "CategoricalBins", "NumericBins", "fit_categorical_bins",
    "fit_numeric_bins", "DEFAULT_DRIFT_CONFIG", "TESTS", "DriftConfig", "TestResult", "run_test",
    "ColumnDrift", "DriftCalculator", "DEFAULT_QUALITY_THRESHOLDS", "JoinResult", "join_ground_truth",
    "quality_metrics", "count_parquet_rows", "iter_parquet_batches", "read_table_file",
]
