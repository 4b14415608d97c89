"""Benchmark: what the report's time view (dmm/analysis/timeline.py) adds to step 6's pass over the window.

    .venv/bin/python bench/timeline.py [--rows 1000000] [--days 7]

The same frames (hourly timestamps as text in the form domino_data_capture writes, 5 numeric and 3 categorical
columns) are fed to a fitted ``DriftCalculator.update`` (the baseline: the drift counting step 6 always does) and to
``Timeline.add`` (per-day rows and per-day bin counts of every column), in batches of 100k rows as the scan feeds
them. Prints both times and their ratio, measured in the same run.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from dmm.analysis.drift import DriftCalculator
from dmm.analysis.timeline import Timeline

COLUMNS = {**{f"n{i}": "numerical" for i in range(5)}, **{f"c{i}": "categorical" for i in range(3)}}


def frame(rows: int, rng: np.random.Generator, start: datetime, days: float) -> pd.DataFrame:
    data = {f"n{i}": rng.normal(i, 1 + i, rows) for i in range(5)}
    data.update({f"c{i}": rng.choice([f"k{j}" for j in range(4 + 4 * i)], rows) for i in range(3)})
    seconds = np.sort(rng.uniform(0, days * 86400, rows))
    data["timestamp"] = [(start + timedelta(seconds=float(s))).isoformat() for s in seconds]
    return pd.DataFrame(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    start = datetime(2026, 1, 5, tzinfo=timezone.utc)
    calculator = DriftCalculator().fit(frame(20_000, rng, start, 1), COLUMNS)
    window = frame(args.rows, rng, start, args.days)
    batches = [window.iloc[i:i + 100_000] for i in range(0, len(window), 100_000)]

    class Scan:
        drift = calculator

    began = time.perf_counter()
    for batch in batches:
        calculator.update(batch)
    drift_seconds = time.perf_counter() - began
    timeline = Timeline(start, start + timedelta(days=args.days))
    began = time.perf_counter()
    for batch in batches:
        timeline.add(batch, Scan)
    timeline_seconds = time.perf_counter() - began
    assert int(timeline.traffic.sum()) == args.rows
    print(f"{args.rows:,} rows over {args.days:g} days ({timeline.n} {timeline.period}s): drift counting "
          f"{drift_seconds:.2f} s, time view {timeline_seconds:.2f} s, ratio {timeline_seconds / drift_seconds:.2f}x")


if __name__ == "__main__":
    main()
