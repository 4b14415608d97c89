"""Benchmark: what the report's time view (dmm/analysis/timeline.py) adds to step 6's pass over the window.

    .venv/bin/python bench/timeline.py [--rows 1000000] [--days 7]

The same frames (hourly timestamps as text in the form domino_data_capture writes, 5 numeric and 3 categorical
columns) are fed to a fitted ``DriftCalculator.update`` (the baseline: the drift counting step 6 always does) and to
``Timeline.add`` (per-day rows and per-day bin counts of every column), in batches of 100k rows as the scan feeds
them. Prints both times and their ratio, measured in the same run, and the time view as step 6 feeds it (given
each frame's drift counts, ``WindowScan.batch_counts``, so only the rows outside a frame's busiest period are binned
again).

Issue 14 (500k rows over 7 days, loaded 2-core machine): 3.3x before; 1.5x with one parse and one bincount per
frame; as step 6 feeds it, see the last ratio printed.
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

    def best(run) -> float:  # the fastest of three runs (the shared machine's load swings), after a warm-up
        run()
        times = []
        for _ in range(3):
            began = time.perf_counter()
            run()
            times.append(time.perf_counter() - began)
        return min(times)

    def drift() -> None:
        for batch in batches:
            calculator.update(batch)

    def view() -> None:
        nonlocal timeline
        timeline = Timeline(start, start + timedelta(days=args.days))
        for batch in batches:
            timeline.add(batch, Scan)

    timeline = Timeline(start, start + timedelta(days=args.days))
    drift_seconds = best(drift)
    timeline_seconds = best(view)
    assert int(timeline.traffic.sum()) == args.rows

    class Fed:  # as step 6's pass feeds it: the drift counts of the frame handed over (WindowScan.batch_counts)
        drift = calculator
        batch_counts: dict | None = None

    counted = [{name: calculator.bins[name].counts(batch[name]) for name in COLUMNS} for batch in batches]

    def fed_view() -> None:
        nonlocal fed
        fed = Timeline(start, start + timedelta(days=args.days))
        for batch, counts in zip(batches, counted, strict=True):
            Fed.batch_counts = counts
            fed.add(batch, Fed)

    fed = Timeline(start, start + timedelta(days=args.days))
    fed_seconds = best(fed_view)
    assert all((fed.counts[name] == timeline.counts[name]).all() for name in COLUMNS)
    print(f"{args.rows:,} rows over {args.days:g} days ({timeline.n} {timeline.period}s): drift counting "
          f"{drift_seconds:.2f} s, time view {timeline_seconds:.2f} s, ratio {timeline_seconds / drift_seconds:.2f}x; "
          f"with the drift pass's counts (as in step 6, their counting not timed) {fed_seconds:.2f} s, ratio "
          f"{fed_seconds / drift_seconds:.2f}x")


if __name__ == "__main__":
    main()
