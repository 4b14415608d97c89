"""Benchmark step 4's traffic loop against a bare concurrent ``requests`` client, in the same run.

Starts a local sandbox, deploys the capture template (a schema-driven toy model that really captures), then sends
the same rows at the same concurrency through (a) ``dmm.traffic.generate_traffic`` as ``4_generate_predictions.py``
runs it (retries, validation, ground-truth CSV; no upload) and (b) a plain ``requests.Session`` on a thread pool.
Rounds alternate to share the machine's noise; the best round of each is compared. Goal: ratio >= 0.8.

    python bench/traffic.py [--count 2000] [--concurrency 4] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

from example.data import CATEGORICAL_FEATURES, CLASSES, TARGET, make_churn_data

PROJECT_ROOT = Path(__file__).resolve().parent.parent

GOAL = 0.8
FEATURES = ["age", "tenure_months", "monthly_charges", "contract"]


def write_inputs(folder: Path, rows: int) -> None:
    """A schema of a few of the example's features and test rows of the example's churn data."""
    from dmm.schema import Feature, MonitoringSchema

    features = tuple(Feature(name, "categorical" if name in CATEGORICAL_FEATURES else "numerical")
                     for name in FEATURES)
    MonitoringSchema("bench", 1, "classification", TARGET, features, class_labels=CLASSES).save(
        folder / "monitoring_schema.json")
    make_churn_data(rows, seed=0)[[*FEATURES, TARGET]].to_csv(folder / "test.csv", index=False)


def bare_client(url: str, token: str, payloads: list[dict], concurrency: int) -> float:
    """Requests per second of a plain session: same pool size, same body, JSON parsed, nothing else."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=concurrency, pool_maxsize=concurrency)
    session.mount("http://", adapter)
    session.auth = (token, token)

    def one(payload: dict) -> str:
        response = session.post(url, json={"data": payload}, timeout=30)
        response.raise_for_status()
        return response.json()["result"]["event_id"]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        ids = list(pool.map(one, payloads))
    elapsed = time.perf_counter() - started
    assert len(set(ids)) == len(payloads)
    return len(payloads) / elapsed


def step4(config_path: Path, count: int, concurrency: int, output: Path) -> float:
    from config_loader import load_config
    from dmm.traffic import TrafficOptions, generate_traffic

    result = generate_traffic(load_config(config_path), TrafficOptions(count=count, concurrency=concurrency, seed=1,
                                                                       upload=False, output_dir=str(output)))
    assert result.summary.failed == 0, result.errors[:3]
    return result.summary.throughput_rps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from sandbox.testing import RunningSandbox

    with tempfile.TemporaryDirectory(prefix="bench-traffic-") as tmp:
        folder = Path(tmp)
        write_inputs(folder, rows=500)
        with RunningSandbox(folder / "sandbox") as sandbox:
            script = str(PROJECT_ROOT / "prediction_capture_example.py")
            deployed = sandbox.admin("deploy", name="bench-traffic", script=script,
                                     env={"MONITORING_SCHEMA": str(folder / "monitoring_schema.json")})
            url, token = deployed["endpointUrl"], deployed["accessToken"]
            os.environ["BENCH_MODEL_API_TOKEN"] = token
            (folder / "monitoring_config.json").write_text(json.dumps({
                "domino": {"base_url": sandbox.url}, "model_monitor": {"model_id": "bench"},
                "model_api": {"endpoint_url": url, "token_env": "BENCH_MODEL_API_TOKEN"},
                "data_sources": {"ground_truth": "bench"},
                "test_data": {"path": "test.csv", "label_column": TARGET}}))

            import pandas as pd

            from dmm.traffic import feature_rows

            frame = pd.read_csv(folder / "test.csv").sample(n=args.count, replace=True, random_state=1)
            payloads = feature_rows(frame, FEATURES)
            bare_client(url, token, payloads[:50], args.concurrency)  # warm up the model process
            bare, ours = [], []
            for _ in range(args.rounds):
                bare.append(bare_client(url, token, payloads, args.concurrency))
                ours.append(step4(folder / "monitoring_config.json", args.count, args.concurrency, folder / "gt"))

    ratio = max(ours) / max(bare)
    print(f"requests: {args.count} per round, concurrency {args.concurrency}, rounds {args.rounds}")
    print(f"bare requests client: {', '.join(f'{r:.1f}' for r in bare)} req/s (best {max(bare):.1f})")
    print(f"step 4 traffic loop:  {', '.join(f'{r:.1f}' for r in ours)} req/s (best {max(ours):.1f})")
    print(f"ratio step4/bare: {ratio:.2f} (goal >= {GOAL})")
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
