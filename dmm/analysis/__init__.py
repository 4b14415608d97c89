"""The drift and quality engine shared by step 6 and the sandbox: numpy/scipy kernels with no I/O (binning, drift
tests, divergence, drift, quality with scikit-learn's metrics mirrored in numpy, the ground-truth join) and the
readers that stream data into them.

Importing this package loads none of numpy, pandas, scipy or scikit-learn: each name below is imported from its
module the first time it is used (``dmm.analysis.DriftCalculator``), so a script's usage error prints at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "GUARD_BINS": "binning", "INVALID": "binning", "UNTRAINED": "binning", "CLASS_KEY_RULE": "keys",
    "CategoricalBins": "binning", "NumericBins": "binning", "class_key": "keys", "class_keys": "keys",
    "fit_categorical_bins": "binning", "fit_numeric_bins": "binning",
    "OPERATORS": "thresholds", "Threshold": "thresholds",
    "DRIFT_TESTS": "drift_tests", "DriftTest": "drift_tests", "Measurement": "drift_tests",
    "DEFAULT_DRIFT_CONFIG": "divergence", "TESTS": "divergence", "DriftConfig": "divergence",
    "TestResult": "divergence", "OutOfRange": "divergence", "run_test": "divergence",
    "ColumnDrift": "drift", "DriftCalculator": "drift",
    "DEFAULT_QUALITY_THRESHOLDS": "quality", "QualityResult": "quality", "quality_metrics": "quality",
    "quality_thresholds": "quality",
    "GroundTruthJoiner": "join", "JoinResult": "join", "join_ground_truth": "join", "normalise_ids": "join",
    "count_parquet_rows": "readers", "iter_parquet_batches": "readers", "read_table_file": "readers",
}
_MODULES = ("binning", "keys", "thresholds", "drift_tests", "divergence", "drift", "metrics", "quality", "join",
            "readers")

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | set(_MODULES))


if TYPE_CHECKING:  # for type checkers and editors; at run time the names load on first use
    from dmm.analysis.binning import (  # noqa: F401
        GUARD_BINS,
        INVALID,
        UNTRAINED,
        CategoricalBins,
        NumericBins,
        fit_categorical_bins,
        fit_numeric_bins,
    )
    from dmm.analysis.divergence import DEFAULT_DRIFT_CONFIG, TESTS, DriftConfig, OutOfRange, TestResult, run_test  # noqa: F401
    from dmm.analysis.drift import ColumnDrift, DriftCalculator  # noqa: F401
    from dmm.analysis.drift_tests import DRIFT_TESTS, DriftTest, Measurement  # noqa: F401
    from dmm.analysis.join import GroundTruthJoiner, JoinResult, join_ground_truth, normalise_ids  # noqa: F401
    from dmm.analysis.keys import CLASS_KEY_RULE, class_key, class_keys  # noqa: F401
    from dmm.analysis.quality import DEFAULT_QUALITY_THRESHOLDS, QualityResult, quality_metrics, quality_thresholds  # noqa: F401
    from dmm.analysis.readers import count_parquet_rows, iter_parquet_batches, read_table_file  # noqa: F401
    from dmm.analysis.thresholds import OPERATORS, Threshold  # noqa: F401
