"""Benchmark: the capture template's cost per prediction against the bare capture-client call, in one run.

    .venv/bin/python bench/capture.py                 # 20,000 predictions per side
    .venv/bin/python bench/capture.py --calls 5000

Both sides run in deployed mode (``HOSTNAME=model-<id>-…``, ``PREDICTION_DATA_DIRECTORY`` a temporary folder), each
in its own subprocess because domino_data_capture's logger is a process singleton:

- bare: ``DataCaptureClient.capturePrediction`` called with values that are already plain Python, an event id and
  a timestamp (what any caller must pass at least);
- template: ``prediction_capture_example.MonitoredModel.respond`` with numpy values (convert, capture, build the
  answer), the model itself excluded.

Goal (issue 14): template <= 1.15x the bare call.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from dmm.cli import run

GOAL = 1.15
FEATURES = [f"f{i}" for i in range(10)]


def worker(side: str, calls: int) -> dict:
    import datetime
    import uuid

    import numpy as np

    values = [float(i) + 0.5 for i in range(len(FEATURES))]
    if side == "bare":
        from domino_data_capture.data_capture_client import DataCaptureClient

        client = DataCaptureClient(FEATURES, ["label"])
        client.capturePrediction(values, ["yes"], event_id="warm-up")
        started = time.perf_counter()
        for _ in range(calls):
            client.capturePrediction(values, ["yes"], event_id=str(uuid.uuid4()),
                                     timestamp=datetime.datetime.now(datetime.timezone.utc).isoformat(),
                                     prediction_probability=[0.3, 0.7])
    else:
        import prediction_capture_example as template

        monitored = template.MonitoredModel({"features": [{"name": f} for f in FEATURES],
                                             "target": {"name": "label", "class_labels": ["no", "yes"]},
                                             "model_type": "classification"})
        row = {name: np.float64(v) for name, v in zip(FEATURES, values, strict=True)}
        probabilities = np.array([[0.3, 0.7]])
        monitored.respond(row, np.array(["yes"]), probabilities)
        started = time.perf_counter()
        for _ in range(calls):
            monitored.respond(row, np.array(["yes"]), probabilities)
    return {"side": side, "seconds": time.perf_counter() - started, "calls": calls}


def measure(side: str, calls: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="dmm-bench-capture-") as folder:
        env = {**os.environ, "HOSTNAME": "model-bench-0", "PREDICTION_DATA_DIRECTORY": folder}
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", side, "--calls",
                               str(calls)], env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"the {side} worker failed: {done.stderr.strip()[-500:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["lines"] = sum(1 for _ in open(Path(folder) / "model-bench-0.log"))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--worker", choices=["bare", "template"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.calls)))
        return 0
    print(f"Capture, {args.calls:,} predictions of {len(FEATURES)} features per side (deployed mode):")
    results = {side: measure(side, args.calls) for side in ("bare", "template")}
    for side, result in results.items():
        print(f"  {side:9s} {result['seconds'] / result['calls'] * 1e6:8.1f} us per prediction "
              f"({result['lines']:,} lines written)")
    ratio = results["template"]["seconds"] / results["bare"]["seconds"]
    print(f"  template vs bare client call: {ratio:.2f}x (goal <= {GOAL:g}x: {'met' if ratio <= GOAL else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
