"""Drift of each column: fit bins on the training data, accumulate production counts chunk by chunk, test.

    calculator = DriftCalculator().fit(training_df, {"age": "numerical", "state": "categorical"})
    for chunk in iter_parquet_batches(folder):
        calculator.update(chunk)
    report = [column.to_dict() for column in calculator.results()]

``DriftCalculator(config, tests=("KS",))`` computes each column's main test and only the named others (``tests=()``:
the main test alone); the default computes every test that applies. Bins and counts are the same either way.

Memory stays bounded: only bin counts (and a capped tally of unseen classes) are kept between chunks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dmm.analysis.binning import (
    CategoricalBins,
    NumericBins,
    as_numbers,
    fit_counted_categorical_bins,
    fit_numeric_bins,
)
from dmm.analysis.divergence import DriftConfig, TestResult, run_test
from dmm.analysis.drift_tests import DRIFT_TESTS, TESTS, shares
from dmm.errors import ConfigError, UsageError

VALUE_TYPES = ("numerical", "categorical")
TOP_BINS = 3
UNSEEN_TRACKED = 1000
UNSEEN_LISTED = 10
# The chi-square rule of thumb: about five values per bin before a binned distribution is worth comparing.
MIN_ROWS_PER_BIN = 5


def reliable_rows(bins: NumericBins | CategoricalBins) -> int:
    """How many production values a column's bins need before its drift values stop being mostly noise."""
    return MIN_ROWS_PER_BIN * max(bins.trained_bin_count, 1)


@dataclass
class ColumnDrift:
    column: str
    value_type: str
    bins: NumericBins | CategoricalBins
    reference_counts: np.ndarray
    production_counts: np.ndarray
    main_test: str
    tests: list[TestResult]
    reasons: list[str] = field(default_factory=list)
    unseen_classes: dict = field(default_factory=dict)
    integer: bool = False  # every training value is a whole number (the report labels its bins as integers)

    @property
    def main(self) -> TestResult:
        return next(test for test in self.tests if test.name == self.main_test)

    @property
    def passed(self) -> bool | None:
        return self.main.passed

    @property
    def reason(self) -> str:
        reasons = self.reasons + [self.main.reason]
        outside = self.main.out_of_range
        if outside is not None and outside.passed is False:
            reasons.append(f"{outside.share:.1%} of the values lie outside the training range, which {self.main_test} "
                           f"does not see: fails the condition share {outside.condition.operator} "
                           f"{outside.condition.threshold:g} on its own")
        return "; ".join(dict.fromkeys(reason for reason in reasons if reason))

    def top_bins(self) -> list[dict]:
        contributions = self.main.contributions
        if contributions is None or self.main.value is None:
            return []
        labels = self.bins.labels
        ref_share, prod_share = shares(self.reference_counts), shares(self.production_counts)
        order = np.argsort(-np.abs(contributions), kind="stable")[:TOP_BINS]
        return [{"bin": labels[i], "contribution": float(contributions[i]),
                 "reference_share": float(ref_share[i]), "production_share": float(prod_share[i])}
                for i in order if contributions[i] != 0]

    def sort_key(self) -> tuple:
        rank = {False: 0, None: 1, True: 2}[self.passed]
        return rank, -self.main.severity, self.column

    def to_dict(self) -> dict:
        return {
            "column": self.column,
            "value_type": self.value_type,
            "bins": self.bins.labels,
            "binning": self.bins.to_dict(),
            "reference_counts": [int(c) for c in self.reference_counts],
            "production_counts": [int(c) for c in self.production_counts],
            "reference_rows": int(self.reference_counts.sum()),
            "production_rows": int(self.production_counts.sum()),
            "main_test": self.main_test,
            "value": self.main.to_dict()["value"],
            "passed": self.passed,
            "severity": self.main.severity,
            "tests": [test.to_dict() for test in self.tests],
            "out_of_range": None if self.main.out_of_range is None else self.main.out_of_range.to_dict(),
            "top_bins": self.top_bins(),
            "unseen_classes": self.unseen_classes,
            "reliable_rows": reliable_rows(self.bins),
            "small_sample": 0 < int(self.production_counts.sum()) < reliable_rows(self.bins),
            "reason": self.reason,
            "integer": self.integer,
        }


def _whole_numbers(numbers: np.ndarray) -> bool:
    """True when the column has finite numbers and every one is whole (an integer column, or floats like 3.0)."""
    numbers = numbers[np.isfinite(numbers)]
    return bool(numbers.size) and bool(np.all(numbers == np.round(numbers)))


class DriftCalculator:
    """Fitted on a reference (training) frame; fed production chunks; produces one ``ColumnDrift`` per column."""

    def __init__(self, config: DriftConfig | dict | None = None, tests: Iterable[str] | None = None) -> None:
        self.config = config if isinstance(config, DriftConfig) else DriftConfig(config)
        self.tests = None if tests is None else tuple(dict.fromkeys(tests))  # None: every test that applies
        unknown = [name for name in self.tests or () if name not in DRIFT_TESTS]
        if unknown:
            raise ConfigError(f"The drift tests to compute name an unknown test {unknown[0]!r}",
                              f"Use one of {', '.join(TESTS)}")
        self.columns: dict[str, str] = {}
        self.bins: dict[str, NumericBins | CategoricalBins] = {}
        self.reference_counts: dict[str, np.ndarray] = {}
        self.production_counts: dict[str, np.ndarray] = {}
        self.unseen: dict[str, Counter] = {}
        self.rows_seen = 0
        self.rows_with_column: dict[str, int] = {}
        self.integer: dict[str, bool] = {}

    def fit(self, reference_df: pd.DataFrame, columns: dict[str, str]) -> DriftCalculator:
        columns = {name: str(value_type).lower() for name, value_type in columns.items()}
        for name, value_type in columns.items():
            if value_type not in VALUE_TYPES:
                raise UsageError(f"Column {name} has the value type {value_type!r}",
                                 "Use numerical or categorical")
        self.columns = dict(columns)
        for name, value_type in self.columns.items():
            values = reference_df[name] if name in reference_df.columns else pd.Series([], dtype="float64")
            bins: NumericBins | CategoricalBins
            if value_type == "numerical":  # one conversion to numbers for the bins, the counts and the integer check
                numbers = as_numbers(values)
                bins = fit_numeric_bins(numbers)
                self.reference_counts[name] = bins.counts(numbers)
                self.integer[name] = _whole_numbers(numbers)
            else:  # one factorisation for the classes and their counts
                bins, self.reference_counts[name] = fit_counted_categorical_bins(values)
                self.integer[name] = False
            self.bins[name] = bins
            self.production_counts[name] = np.zeros_like(self.reference_counts[name])
            self.unseen[name] = Counter()
            self.rows_with_column[name] = 0
        self._reference_has = {name: name in reference_df.columns for name in self.columns}
        self.rows_seen = 0
        return self

    def update(self, chunk_df: pd.DataFrame) -> DriftCalculator:
        if not self.bins:
            raise RuntimeError("call fit() before update()")
        self.rows_seen += len(chunk_df)
        for name, bins in self.bins.items():
            if name not in chunk_df.columns:
                continue
            values = chunk_df[name]
            if isinstance(bins, CategoricalBins):
                counts, unseen = bins.counts_and_unseen(values)
                self._remember_unseen(name, unseen)
            else:
                counts = bins.counts(values)
            self.production_counts[name] += counts
            self.rows_with_column[name] += len(chunk_df)
        return self

    def _remember_unseen(self, name: str, unseen: Counter) -> None:
        tally = self.unseen[name]
        tally.update(unseen)
        if len(tally) > UNSEEN_TRACKED:
            self.unseen[name] = Counter(dict(tally.most_common(UNSEEN_TRACKED)))

    def _column_result(self, name: str) -> ColumnDrift:
        bins, value_type = self.bins[name], self.columns[name]
        reference, production = self.reference_counts[name], self.production_counts[name]
        main_test = self.config.main_test(name, value_type)
        wanted = TESTS if self.tests is None else self.tests
        names = [main_test] + [t for t in TESTS
                               if t != main_test and t in wanted and DRIFT_TESTS[t].applies_to(value_type)]
        tests = [run_test(test, reference, production, bins, self.config, name) for test in names]
        drift = ColumnDrift(column=name, value_type=value_type, bins=bins, reference_counts=reference.copy(),
                            production_counts=production.copy(), main_test=main_test, tests=tests,
                            reasons=self._edge_case_reasons(name), integer=self.integer.get(name, False))
        if self.unseen[name]:
            listed = self.unseen[name].most_common(UNSEEN_LISTED)
            drift.unseen_classes = {"distinct": len(self.unseen[name]), "count": int(sum(self.unseen[name].values())),
                                    "examples": {str(k): int(v) for k, v in listed},
                                    "distinct_capped_at": UNSEEN_TRACKED}
        return drift

    def _edge_case_reasons(self, name: str) -> list[str]:
        bins = self.bins[name]
        reference, production = self.reference_counts[name], self.production_counts[name]
        trained, untrained, invalid = bins.trained_bin_count, -2, -1
        reasons = []
        if not self._reference_has[name]:
            reasons.append("column not found in the training data")
        elif trained <= 1:
            reasons.append(bins.note)
        if self.rows_seen == 0:
            reasons.append("no production rows in the window")
        elif self.rows_with_column[name] == 0:
            reasons.append(f"column not found in the production data ({self.rows_seen} rows read)")
        elif production[invalid] == production.sum():
            reasons.append("every production value is missing or invalid")
        if production.sum() and production[untrained]:
            what = "classes unseen in training" if isinstance(bins, CategoricalBins) else \
                "values outside the training range"
            share = production[untrained] / production.sum()
            reasons.append(f"{int(production[untrained])} production values ({share:.1%}) are {what}")
        if 0 < production.sum() < reliable_rows(bins):
            reasons.append(f"only {int(production.sum())} production values for {trained} bins: drift values from so "
                           f"small a sample are noisy (aim for at least {reliable_rows(bins)})")
        if trained and reference[invalid]:
            reasons.append(f"{int(reference[invalid])} training values are missing or invalid")
        return reasons

    def results(self) -> list[ColumnDrift]:
        """One result per column, failing columns first, then by how far past their threshold."""
        return sorted((self._column_result(name) for name in self.columns), key=ColumnDrift.sort_key)

    def to_dict(self) -> dict:
        return {"config": self.config.to_dict(), "production_rows_read": self.rows_seen,
                "columns": [result.to_dict() for result in self.results()]}
