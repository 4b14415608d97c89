"""Benchmark: the real 6_check_monitoring.py on generated hourly prediction_data, against a floor in the same run.

    .venv/bin/python bench/step6.py                                # 100k over 168 files; 1M over 168 and 672 files
    .venv/bin/python bench/step6.py --cases 100k/168,1M/168,10M/168,1M/672   # the issue's whole table (slow)
    .venv/bin/python bench/step6.py --cases 1M/168,1M/672 --repeat 3        # medians of 3 (a busy machine)

A sandbox (python -m sandbox) stands in for Domino: step 1 registers a small training set, an endpoint is deployed and
a DMM model attached, a data source created. Then, per case, ``rows`` predictions are written straight into the
``$$date$$=…Z/$$hour$$=…Z`` layout (one parquet file per hour, timestamps as text in the format
domino_data_capture writes, ``datetime.now(timezone.utc).isoformat()``), 10% of them labelled in a CSV, and step 6
runs as a subprocess with ``--prediction-data``/``--ground-truth`` and a window whose start and end fall inside an
hour (so two partitions straddle an edge). The floor, also a subprocess: a pyarrow read of the needed columns of
every file, one ``np.histogram``/``np.unique`` per column per side, and an indexed label join (``pd.Index``).
Wall time and peak RSS (``wait4``'s ``ru_maxrss``) are per subprocess; ratios are printed against the floor and
168 vs 672 files. Goals (issue 14): <= 2x the floor at 1M and 10M; 672 files <= 1.2x 168 files for the same rows;
cost linear in rows; peak RSS <= 600 MB at 10M.

Measured on the shared 2-core machine (load 8-20 from other work, so absolute times vary by ~2x between runs; ratios
are per run): before issue 14's slots, 1M/168 104.7 s (3.12x the floor) at 482 MB, 10M/168 819 s at 1.95 GB peak
RSS. With the slots, the shared label index and jemalloc (reports identical to the numbers): 1M/168 17.8 s (2.18x
the floor's 8.1 s) at 379 MB; 10M/168 106.5 s (1.62x the floor's 65.9 s) at 768 MB peak RSS; 1M over 672 vs 168
files 41.5 / 37.4 s (1.11x). Before the one pass: 100k/168 25.7 s (11x).
P2's pass (hash without factorising, joined timestamps as moments, the time view from the drift counts, read-ahead;
load 14-19): 1M/168 58.2 s (2.06x the floor's 28.3 s) at 357 MB; 10M/168 230.4 s (1.85x the floor's 124.2 s) at
685 MB peak RSS; 1M over 672 vs 168 files 1.01x; the time view 7-13% of step 6 (15.3 of 218.9 s at 10M).
Quiet-machine runs of main before F (load 1-2): 1M/168 1.81-2.20x the floor; 672 vs 168 files 1.27-1.34x; 10M 1.95x
at 583 MB. F's per-file cost (small whole-hour files read together by one Arrow call on the reader thread, handed
over a quarter batch at a time; the pass no longer waits for scikit-learn's import): ``--cases 1M/168,1M/672,
10M/168`` at load 5-7: 1M/168 8.0 s (2.63x the floor's 3.1 s) at 396 MB; 1M/672 8.1 s (1.82x) at 422 MB; 672 vs 168
files 1.01x; 10M/168 69.8 s (1.58x the floor's 44.2 s) at 608 MB peak RSS. The default cases at load 13-15 (before
the quarter-batch handoff): 1M/168 1.75x the floor, 672 vs 168 files 1.49x with the floor itself 2.07x (the load
moved between the cases). Alternating main and F on the same data (load 8-13, medians of 3): main 672/168 1.29x
wall, 1.40x CPU; F (100k-row groups) 0.98x wall, 1.15x CPU. F's reports equal main's in every drift, quality and
time-view number (only the run's own sandbox, paths and times differ).
Before F2 (quiet machine, load 1-2): 1M/168 1.81-2.20x the floor; 1M over 672 vs 168 files 1.27x and 1.34x (7.0-7.7
vs 5.3-6.1 s). F2's pass (one time-view period's files fed together, one chunk per fed window, no Arrow decode pool
under the reader thread; load 5-10, so ratios only): default cases 1M/168 1.76x the floor, 1M/672 1.66x, 672 vs 168
files 1.23x (single runs); --cases 1M/168,1M/672 --repeat 3: 1.93x and 1.36x the floor, 672 vs 168 files 0.79x;
10M/168 1.91x the floor at 585 MB peak RSS. CPU seconds of step 6 (wait4, two runs each, same load): 168 files
7.3/6.7, 672 files 7.6/6.3 (before: 8.0 and 10.7); the time view at 672 files 0.3 s (before: 1.3 s).
Q's quality metrics in numpy (no scikit-learn import; /work/notes/s6/run6.sh 1M/168, main and Q alternating on the
same base, 3 pairs at load 6.5-9.6, medians): step 6 wall 6.6 s vs main's 9.9 s, 1.58x the floor vs 1.95x; CPU 6.7
vs 8.6 s (1.75x vs 2.25x the floor's CPU); peak RSS 302 vs 363 MB; the reports' drift and quality numbers identical.
With Q's metrics, distinct ids counted by sort (numpy 2.4's np.unique hashes integers, ~50x slower) and labels keyed
once per distinct value, quiet machine (load 1-2), ``--repeat 3``: 1M/168 1.58x, 1.39x, 1.54x the floor (5.3-5.4 s
against 3.3-3.9 s); 672 vs 168 files 1.27x, 1.11x, 1.13x (the first run's floor itself took 1.8x as long over 672
files); 10M/168 1.32x the floor (21.2 s against 16.1 s) at 543 MB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from dmm.cli import run

ROOT = Path(__file__).resolve().parents[1]
TARGET = "churned"
NUMERIC = ["age", "income", "tenure", "balance", "usage"]
CATEGORICAL = ["plan", "region", "channel"]
CLASSES = {"plan": ["basic", "pro", "gold"], "region": [f"r{i}" for i in range(12)], "channel": ["web", "app", "shop"]}
LABELLED_SHARE = 0.10
FIRST_HOUR = datetime(2026, 1, 5, tzinfo=timezone.utc)
FLOOR_GOAL = 2.0
FILES_GOAL = 1.2
RSS_GOAL = 600 * 1000 ** 2
MODEL_SCRIPT = '''
def predict(**features):
    return {"churned": "0"}
'''


def features(rows: int, rng: np.random.Generator, shift: float) -> dict[str, np.ndarray]:
    data: dict[str, np.ndarray] = {
        "age": rng.integers(18, 80, rows).astype("int64"),
        "income": rng.lognormal(10 + shift, 0.5, rows),
        "tenure": rng.uniform(0, 120 + 30 * shift, rows),
        "balance": rng.normal(1000 * (1 + shift), 300, rows),
        "usage": rng.exponential(5, rows)}
    for name, classes in CLASSES.items():
        weights = np.linspace(1, 1 + 3 * shift, len(classes))
        data[name] = np.asarray(classes, dtype=object)[rng.choice(len(classes), rows, p=weights / weights.sum())]
    return data


def training_frame(rows: int = 5_000) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(features(rows, rng, 0.0))
    frame[TARGET] = np.where(frame["age"] > 50, "1", "0")
    return frame


def write_prediction_data(folder: Path, rows: int, files: int, seed: int = 2) -> tuple[list[str], np.ndarray]:
    """``rows`` predictions spread evenly over ``files`` hourly partitions; returns the labelled ids and labels."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    labelled_ids: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    bounds = np.linspace(0, rows, files + 1).astype(np.int64)
    for index in range(files):
        size = int(bounds[index + 1] - bounds[index])
        hour = FIRST_HOUR + timedelta(hours=index)
        data = features(size, rng, 0.3)
        probability = rng.uniform(size=size)
        data[TARGET] = np.where(probability > 0.5, "1", "0").astype(object)
        ids = np.char.add(f"{index:05d}-", rng.integers(0, 2 ** 62, size).astype(str)).astype(object)
        data["event_id"] = ids
        offsets = np.sort(rng.integers(0, 3_600_000_000, size)).astype("timedelta64[us]")
        moments = np.datetime64(hour.replace(tzinfo=None), "us") + offsets
        stamps = np.char.add(np.datetime_as_string(moments, unit="us"), "+00:00").astype(object)
        data["timestamp"] = stamps
        data["__domino_timestamp"] = stamps
        data["instance_id"] = np.full(size, "model-bench-0", dtype=object)
        table = pa.table(data)
        table = table.append_column("prediction_probability", pa.array(
            [[p, 1 - p] for p in probability.tolist()], type=pa.list_(pa.float64())))
        target = folder / f"$$date$$={hour:%Y-%m-%d}Z" / f"$$hour$$={hour:%H}Z"
        target.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target / f"predictions_{uuid.uuid4()}.parquet")
        pick = rng.uniform(size=size) < LABELLED_SHARE
        labelled_ids.append(ids[pick])
        labels.append(np.where(rng.uniform(size=int(pick.sum())) < 0.8, data[TARGET][pick], "1"))
    return list(np.concatenate(labelled_ids)), np.concatenate(labels)


def measure(command: list[str], env: dict[str, str], cwd: Path) -> dict:
    """Wall seconds and peak RSS of one subprocess (``wait4`` reports the child's own ``ru_maxrss``)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        output = out.read().decode(errors="replace")
    return {"seconds": seconds, "peak_rss": usage.ru_maxrss * 1024, "exit": process.returncode, "output": output}


def run_step6(timing_file: str, argv: list[str]) -> None:
    """6_check_monitoring.py itself (``runpy``, as ``python 6_check_monitoring.py`` runs it), with the time spent in
    the report's time view (``Timeline.add`` during the pass, ``preview_timeline`` after it) written to
    ``timing_file``."""
    import runpy

    import dmm.analysis.timeline as timeline
    import dmm.preview as preview

    spent = {"timeline_add": 0.0, "timeline_preview": 0.0}

    def timed(function, key):
        def call(*args, **kwargs):
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - began
        return call

    timeline.Timeline.add = timed(timeline.Timeline.add, "timeline_add")  # type: ignore[method-assign]
    preview.preview_timeline = timed(preview.preview_timeline, "timeline_preview")
    sys.argv = [str(ROOT / "6_check_monitoring.py"), *argv]
    began = time.perf_counter()
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    finally:
        Path(timing_file).write_text(json.dumps({**spent, "seconds": time.perf_counter() - began}))


def floor(folder: str, labels_file: str, training_file: str) -> dict:
    """The floor: read the needed columns, one histogram per column per side, an indexed label join."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    started = time.perf_counter()
    training = pd.read_csv(training_file)
    columns = NUMERIC + CATEGORICAL + [TARGET]
    edges = {name: np.histogram_bin_edges(training[name].to_numpy(dtype="float64"), bins=20) for name in NUMERIC}
    reference = {name: np.histogram(training[name].to_numpy(dtype="float64"), edges[name])[0] for name in NUMERIC}
    reference.update({name: np.unique(training[name].astype(str), return_counts=True)[1]
                      for name in CATEGORICAL + [TARGET]})
    labels = pd.read_csv(labels_file, dtype={"event_id": str})
    index = pd.Index(labels["event_id"].drop_duplicates(keep="last"))
    counts: dict[str, np.ndarray] = {}
    matched = rows = 0
    for path in sorted(Path(folder).rglob("*.parquet")):
        table = pq.read_table(path, columns=[*columns, "event_id", "timestamp", "prediction_probability"])
        rows += table.num_rows
        for name in NUMERIC:
            values = table[name].to_numpy().astype("float64")
            counts[name] = counts.get(name, 0) + np.histogram(values, edges[name])[0]
        for name in CATEGORICAL + [TARGET]:
            tally = pc.value_counts(table[name].combine_chunks())
            counts[name + "#"] = counts.get(name + "#", 0) + len(tally)
        hits = index.get_indexer(table["event_id"].to_numpy(zero_copy_only=False)) >= 0
        matched += int(hits.sum())
    return {"seconds": time.perf_counter() - started, "rows": rows, "matched": matched, "reference": len(reference)}


class Bench:
    """A sandbox with a training set, an endpoint, a DMM model and a data source; step 6 runs against it."""

    def __init__(self, work: Path) -> None:
        from sandbox.testing import RunningSandbox

        self.work = work
        self.sandbox = RunningSandbox(work / "sandbox-state").start()

    def set_up(self) -> None:
        import requests

        from config_loader import save_config

        training = training_frame()
        training.to_csv(self.work / "train.csv", index=False)
        name = f"bench-{uuid.uuid4().hex[:8]}"
        done = subprocess.run([sys.executable, str(ROOT / "1_register_training_set.py"), "--file", "train.csv",
                               "--name", name, "--target", TARGET, "--model-type", "classification",
                               "--categorical", ",".join(CATEGORICAL), "--yes"],
                              cwd=self.work, env=self.sandbox.env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"step 1 failed: {done.stdout}{done.stderr}")
        schema = json.loads((self.work / "monitoring_schema.json").read_text())
        (self.work / "model.py").write_text(MODEL_SCRIPT)
        endpoint = self.sandbox.admin("deploy", script=str(self.work / "model.py"), name="bench-model",
                                      workdir=str(self.work))
        attached = self.sandbox.admin("attach-training-set", modelId=endpoint["modelId"],
                                      trainingSetName=schema["training_set"]["name"],
                                      trainingSetVersion=schema["training_set"]["version"],
                                      modelType="classification")
        self.sandbox.admin("create-datasource", name="bench-gt", type="s3")
        requests.put(f"{self.sandbox.url}/model-monitor/v2/api/datasource", headers=self.sandbox.headers,
                     json={"name": "bench-gt", "type": "s3", "config": {"bucket": "gt", "region": "us-east-1"}},
                     timeout=60).raise_for_status()
        save_config({"domino": {"base_url": self.sandbox.url, "user_api_key_env": "DOMINO_USER_API_KEY"},
                     "model_monitor": {"model_id": attached["dmmModelId"], "base_url": ""},
                     "model_api": {"endpoint_url": endpoint["endpointUrl"], "token_env": "DOMINO_MODEL_API_TOKEN",
                                   "token": "", "timeout": 30},
                     "data_sources": {"ground_truth": "bench-gt", "ground_truth_type": "s3",
                                      "ground_truth_prefix": "ground_truth"},
                     "test_data": {"path": "", "label_column": ""},
                     "schema": {"path": "monitoring_schema.json"}}, self.work / "monitoring_config.json")
        self.env = {**self.sandbox.env, "DMM_CONFIG": str(self.work / "monitoring_config.json"),
                    "DOMINO_MODEL_API_TOKEN": endpoint["accessToken"], "PYTHONPATH": str(ROOT)}

    def case(self, rows: int, files: int, preview: bool = True, profile: str | None = None, repeat: int = 1) -> dict:
        data = self.work / f"data-{rows}-{files}"
        ids, labels = write_prediction_data(data, rows, files)
        labels_file = self.work / f"labels-{rows}-{files}.csv"
        pd.DataFrame({"event_id": ids, TARGET: labels}).to_csv(labels_file, index=False)
        os.sync()  # the files just written reach the disk now, not while step 6 or the floor is timed
        start = FIRST_HOUR + timedelta(minutes=30)
        end = FIRST_HOUR + timedelta(hours=files - 1, minutes=30)
        profiler = ["-m", "cProfile", "-o", f"{profile}-{rows}-{files}"] if profile else []
        timing = self.work / f"timing-{rows}-{files}.json"
        runs: list[tuple[dict, dict]] = []
        for turn in range(max(repeat, 1)):  # step 6 and the floor in turns; the median run of each is kept
            timing.unlink(missing_ok=True)
            profiled = profiler if turn == 0 else []  # the first run's profile; the others run at full speed
            runs.append((measure([sys.executable, *profiled, str(Path(__file__).resolve()), "--step6", str(timing),
                                  "--", "--prediction-data", str(data), "--ground-truth", str(labels_file),
                                  "--start", start.isoformat(), "--end", end.isoformat(),
                                  "--output-dir", str(self.work / "out"), "--json",
                                  *([] if preview else ["--no-preview"])], self.env, self.work),
                         measure([sys.executable, str(Path(__file__).resolve()), "--floor", str(data),
                                  str(labels_file), str(self.work / "train.csv")], self.env, ROOT)))
            runs[-1][0]["timing"] = json.loads(timing.read_text()) if timing.exists() else {}
        failed = [run for run, _ in runs if run["exit"] not in (0, 1)]
        step6 = failed[0] if failed else sorted((run[0] for run in runs), key=lambda r: r["seconds"])[len(runs) // 2]
        base = sorted((run[1] for run in runs), key=lambda r: r["seconds"])[len(runs) // 2]
        result = {"rows": rows, "files": files, "step6": step6, "floor": base, "timing": step6.pop("timing")}
        if step6["exit"] not in (0, 1):
            result["error"] = step6["output"][-2000:]
        else:
            report = json.loads(step6["output"][step6["output"].index("{"):])
            result["drift_rows"] = report.get("drift", {}).get("production_rows")
            result["matched"] = report.get("quality", {}).get("matched_rows")
        subprocess.run(["rm", "-rf", str(data)], check=False)
        return result

    def close(self) -> None:
        self.sandbox.stop()


def parse_case(text: str) -> tuple[int, int]:
    rows, _, files = text.partition("/")
    scale = {"k": 1_000, "m": 1_000_000}.get(rows[-1].lower(), 1)
    return int(float(rows[:-1] if scale > 1 else rows) * scale), int(files or 168)


def report(results: list[dict]) -> None:
    print(f"{'rows':>12} {'files':>6} {'step 6':>9} {'peak RSS':>9} {'floor':>8} {'ratio':>6}  drift rows / matched")
    for r in results:
        if "error" in r:
            print(f"{r['rows']:>12,} {r['files']:>6} failed: {r['error']}")
            continue
        s, f = r["step6"], r["floor"]
        print(f"{r['rows']:>12,} {r['files']:>6} {s['seconds']:>8.1f}s {s['peak_rss'] / 1e6:>7.0f}MB "
              f"{f['seconds']:>7.1f}s {s['seconds'] / f['seconds']:>5.2f}x  {r['drift_rows']:,} / {r['matched']:,}")
    ok = [r for r in results if "error" not in r]
    for r in ok:
        timing = r.get("timing") or {}
        if timing.get("seconds"):
            view = timing["timeline_add"] + timing["timeline_preview"]
            print(f"  {r['rows']:,} rows / {r['files']} files: the time view took {view:.1f} s of step 6's "
                  f"{timing['seconds']:.1f} s ({view / timing['seconds']:.0%}; {timing['timeline_add']:.1f} s "
                  f"counting in the pass)")
    for r in ok:
        if r["rows"] >= 1_000_000:
            ratio = r["step6"]["seconds"] / r["floor"]["seconds"]
            print(f"  {r['rows']:,} rows / {r['files']} files: {ratio:.2f}x the floor "
                  f"(goal <= {FLOOR_GOAL:g}x: {'met' if ratio <= FLOOR_GOAL else 'NOT met'})")
        if r["rows"] >= 10_000_000:
            rss = r["step6"]["peak_rss"]
            print(f"  peak RSS at {r['rows']:,} rows: {rss / 1e6:.0f} MB (goal <= {RSS_GOAL / 1e6:.0f} MB: "
                  f"{'met' if rss <= RSS_GOAL else 'NOT met'})")
    by_rows: dict[int, dict[int, float]] = {}
    for r in ok:
        by_rows.setdefault(r["rows"], {})[r["files"]] = r["step6"]["seconds"]
    for rows, times in by_rows.items():
        if 168 in times and 672 in times:
            ratio = times[672] / times[168]
            print(f"  {rows:,} rows over 672 vs 168 files: {ratio:.2f}x (goal <= {FILES_GOAL:g}x: "
                  f"{'met' if ratio <= FILES_GOAL else 'NOT met'})")
    per_168 = sorted((r["rows"], r["step6"]["seconds"]) for r in ok if r["files"] == 168)
    for (small, t_small), (large, t_large) in zip(per_168, per_168[1:], strict=False):
        print(f"  {small:,} -> {large:,} rows ({large / small:g}x): step 6 took {t_large / t_small:.2f}x as long")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="100k/168,1M/168,1M/672",
                        help="comma-separated ROWS/FILES cases (default 100k/168,1M/168,1M/672; the issue's table "
                             "adds 10M/168, which needs ~10 minutes and 2 GB of disk)")
    parser.add_argument("--no-preview", action="store_true", help="time step 6 with --no-preview")
    parser.add_argument("--profile", metavar="PREFIX", help="write step 6's cProfile stats to PREFIX-ROWS-FILES")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run step 6 and the floor N times in turns per case and keep the median of each "
                             "(a busy machine's noise; default 1)")
    parser.add_argument("--floor", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--step6", help=argparse.SUPPRESS)
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--step6"]:
        run_step6(argv[1], argv[3:])
        return 0
    args = parser.parse_args(argv)
    if args.floor:
        print(json.dumps(floor(*args.floor)))
        return 0
    cases = [parse_case(text.strip()) for text in args.cases.split(",") if text.strip()]
    print(f"Step 6 (6_check_monitoring.py{' --no-preview' if args.no_preview else ''}) on hourly prediction_data, "
          f"{LABELLED_SHARE:.0%} labelled, {len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical features, "
          f"against the floor measured in the same run; {os.cpu_count()} CPU(s)")
    with tempfile.TemporaryDirectory(prefix="dmm-bench-step6-") as folder:
        bench = Bench(Path(folder))
        try:
            bench.set_up()
            results = [bench.case(rows, files, not args.no_preview, args.profile, args.repeat)
                       for rows, files in cases]
        finally:
            bench.close()
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
