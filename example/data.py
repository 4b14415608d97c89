"""Synthetic customer data: 8 numeric and 2 categorical features, deterministic by seed, with the target of a task:
classification predicts "churned" ("yes"/"no"), regression predicts "next_month_spend" (a positive amount).

``python -m example.data --out DIR [--task regression]`` writes ``train.csv`` and ``test.csv`` (add ``--drifted``
for ``test_drifted.csv``, a copy of the test set whose customers behave differently).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from dmm.cli import run
from dmm.errors import UsageError

NUMERIC_FEATURES = ["age", "tenure_months", "monthly_charges", "total_charges", "support_calls",
                    "num_products", "avg_session_minutes", "days_since_last_login"]
CATEGORICAL_FEATURES = ["contract", "payment_method"]
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES
TARGET = "churned"
CLASSES = ("no", "yes")
REGRESSION_TARGET = "next_month_spend"
TASKS = ("classification", "regression")
TARGETS = {"classification": TARGET, "regression": REGRESSION_TARGET}
CONTRACTS = ("month-to-month", "one-year", "two-year")
PAYMENT_METHODS = ("card", "bank-transfer", "electronic-check")


def make_churn_data(n_rows: int = 2000, seed: int = 42) -> pd.DataFrame:
    """Customers with a churn label that depends on contract, tenure, charges, support calls and activity."""
    rng = np.random.default_rng(seed)
    contract = rng.choice(CONTRACTS, size=n_rows, p=[0.55, 0.25, 0.20])
    payment = rng.choice(PAYMENT_METHODS, size=n_rows, p=[0.4, 0.35, 0.25])
    tenure = np.clip(rng.gamma(2.0, 14.0, n_rows), 1, 72).round().astype(int)
    monthly = np.clip(rng.normal(65, 25, n_rows), 18, 120).round(2)
    frame = pd.DataFrame({
        "age": np.clip(rng.normal(45, 14, n_rows), 18, 90).round().astype(int),
        "tenure_months": tenure,
        "monthly_charges": monthly,
        "total_charges": (monthly * tenure * rng.uniform(0.9, 1.1, n_rows)).round(2),
        "support_calls": rng.poisson(1.5, n_rows),
        "num_products": rng.integers(1, 6, n_rows),
        "avg_session_minutes": np.clip(rng.normal(30, 12, n_rows), 0, None).round(1),
        "days_since_last_login": np.clip(rng.exponential(12, n_rows), 0, 365).round().astype(int),
        "contract": contract,
        "payment_method": payment,
    })
    logit = (-1.0
             + 1.4 * (contract == "month-to-month") - 0.9 * (contract == "two-year")
             + 0.6 * (payment == "electronic-check")
             - 0.045 * frame["tenure_months"] + 0.02 * (frame["monthly_charges"] - 65)
             + 0.45 * frame["support_calls"] - 0.25 * frame["num_products"]
             - 0.03 * (frame["avg_session_minutes"] - 30) + 0.04 * frame["days_since_last_login"])
    churn = rng.random(n_rows) < 1.0 / (1.0 + np.exp(-logit))
    frame[TARGET] = np.where(churn, "yes", "no")
    return frame


def make_spend_data(n_rows: int = 2000, seed: int = 42) -> pd.DataFrame:
    """The same customers as ``make_churn_data``, with next month's spend instead of the churn label: it grows with
    the monthly charges, products and activity, shrinks with support calls and days away, plus noise."""
    frame = make_churn_data(n_rows, seed).drop(columns=TARGET)
    rng = np.random.default_rng(seed + 1)
    spend = (1.05 * frame["monthly_charges"] + 6.0 * frame["num_products"]
             + 0.25 * frame["avg_session_minutes"] - 3.0 * frame["support_calls"]
             - 0.3 * frame["days_since_last_login"]
             + 8.0 * (frame["contract"] == "two-year") - 4.0 * (frame["contract"] == "month-to-month")
             + rng.normal(0, 6, len(frame)))
    frame[REGRESSION_TARGET] = np.clip(spend, 5, None).round(2)
    return frame


def make_data(task: str = "classification", n_rows: int = 2000, seed: int = 42) -> pd.DataFrame:
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; use one of {', '.join(TASKS)}")
    return make_churn_data(n_rows, seed) if task == "classification" else make_spend_data(n_rows, seed)


def split(frame: pd.DataFrame, test_fraction: float = 0.3, seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frame))
    n_test = int(round(len(frame) * test_fraction))
    test, train = frame.iloc[order[:n_test]], frame.iloc[order[n_test:]]
    return train.reset_index(drop=True), test.reset_index(drop=True)


def drift(frame: pd.DataFrame, strength: float = 1.0, seed: int = 7) -> pd.DataFrame:
    """A copy whose customers pay more, call support more, log in less and move to month-to-month contracts.

    ``strength`` 0 returns an unchanged copy; 1 is a clear drift on several features.
    """
    rng = np.random.default_rng(seed)
    drifted = frame.copy()
    n = len(drifted)
    drifted["monthly_charges"] = (drifted["monthly_charges"] * (1 + 0.35 * strength)).round(2)
    drifted["support_calls"] = drifted["support_calls"] + rng.poisson(2.0 * strength, n)
    drifted["days_since_last_login"] = (drifted["days_since_last_login"] * (1 + strength)).round().astype(int)
    switch = rng.random(n) < 0.5 * strength
    drifted["contract"] = drifted["contract"].where(~switch, "month-to-month")
    return drifted


def write_dataset(folder: str | Path, n_rows: int = 2000, seed: int = 42, drifted: bool = False,
                  task: str = "classification") -> dict[str, Path]:
    """Write train.csv and test.csv (and test_drifted.csv) of ``task`` to ``folder``; returns their paths by name."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    train, test = split(make_data(task, n_rows, seed), seed=seed)
    paths = {"train": folder / "train.csv", "test": folder / "test.csv"}
    train.to_csv(paths["train"], index=False)
    test.to_csv(paths["test"], index=False)
    if drifted:
        paths["test_drifted"] = folder / "test_drifted.csv"
        drift(test, seed=seed).to_csv(paths["test_drifted"], index=False)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m example.data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write the CSV files to")
    parser.add_argument("--rows", type=int, default=2000, help="rows before the 70/30 split (default 2000)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--drifted", action="store_true", help="also write test_drifted.csv")
    parser.add_argument("--task", choices=TASKS, default="classification",
                        help=f"classification (target {TARGET}, the default) or regression "
                             f"(target {REGRESSION_TARGET})")
    args = parser.parse_args(argv)
    if args.rows < 2:
        raise UsageError(f"--rows must be at least 2 (got {args.rows})", "Pass --rows N with N >= 2")
    try:
        paths = write_dataset(args.out, args.rows, args.seed, args.drifted, args.task)
    except OSError as error:
        raise UsageError(f"Cannot write the CSV files to {args.out} ({error.strerror})",
                         "Pass --out with a folder you can write to") from error
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
