"""Benchmark (issue 13): step 6's preview with the local engine and with Spark in local mode, on the same data.

    .venv/bin/python bench/scale.py                      # 1M and 10M captured rows x 20 features
    .venv/bin/python bench/scale.py --sizes 1M,10M,50M   # the issue's whole table (50M needs ~10 GB of disk)
    .venv/bin/python bench/scale.py --sizes 200k --counting native,kernel   # both ways of counting bins in Spark

The preview is the whole of it: every column's drift (20 features and the prediction, bins fitted on a 50,000-row
training set) and the quality with the label join (10% of the predictions labelled, 1% of them twice; 1% of the
predictions repeated). Rows are written in the ``$$date$$=…Z/$$hour$$=…Z`` layout, one file per hour over 48 hours,
and the window's start and end fall inside an hour so two partitions are filtered by row. Each engine runs in its
own subprocess (``run_scan`` or ``run_spark_scan`` on a ``CheckContext`` stand-in, then ``quality_metrics`` on the
joined rows, as ``dmm.preview`` does); the time includes starting Spark. Peak memory is the largest total RSS of the
subprocess and its descendants (the JVM and the Python workers for Spark), sampled every 0.1 s from /proc.

Printed: time and peak memory of each, the ratio Spark/local (goal: within 3x at 50M on 2 cores), rows per second,
whether every value is identical (drift counts and values, join counts, quality metrics to 1e-9), and a PROJECTION
of the time on a cluster from the measured rows per CPU second of Spark's whole process tree, start-up included
(not a measurement).

Measured (issue 13, fourth round: ``kernel`` with the tasks reading their files with pyarrow, sums per task, the
fed-id hashes and matched rows as Arrow blobs, dmm/analysis/spark_pass.py) on the shared 2-core machine, the other
engineers' test runs keeping the load average at 5 to 16 (wall times are inflated by that load; the CPU columns are
the steadier figure; "JVM / workers / driver" is the CPU split of Spark's process tree, printed by this script):

    rows  engine                time s  CPU s  peak MB  vs local  CPU vs  identical  JVM/workers/driver CPU s  load
    1M    local                    6.4    6.7      391      1.00    1.00                                       14-16
    1M    spark/kernel           141.1   56.5     1737     22       8.4     yes        41.8 / 9.6 / 5.2        14-16
    4M    local                   32.2   16.3      571      1.00    1.00                                       14
    4M    spark/kernel           239.3   84.7     2573      7.4     5.2     yes        48.1 / 27.1 / 9.4       14
    10M   local                   55.0   38.8      775      1.00    1.00                                       11-15
    10M   spark/kernel           269.1  132.7     3597      4.9     3.4     yes        57.6 / 54.1 / 21.0      7-15

With the driver JVM's C1-only JIT and serial GC (``spark_engine.LOCAL_JVM``, now the default of a local master; the
10M run shared the machine with a Spark test run, load 5-9):

    1M    spark/kernel+C1         71.6   36.6     1432     11       5.5     yes        20.8 / 10.6 / 5.1       5-9
    4M    local                   25.2   17.9      572      1.00    1.00                                       5-8
    4M    spark/kernel+C1         86.9   56.1     2196      3.4     3.1     yes        24.2 / 23.4 / 8.5       5-8
    10M   local                  115.6   41.0      762      1.00    1.00                                       5-9
    10M   spark/kernel+C1        187.4  117.5     3442      1.6     2.9     yes        36.6 / 64.3 / 16.6      2-9

Same-run comparisons at 4M (load ~8-10): the Python read took 88.7 CPU s (JVM 52.3) against 125.3 (JVM 97.0) for
Spark's own parquet reader (``--counting kernel-jvmread``); at 1M 46.6 against 57.1. The third round (Spark's reader,
a row per batch count and per fed id) took 79 CPU s at 1M and 252.5 at 10M (load 4-11). At 1M, the driver JVM with
``-XX:TieredStopAtLevel=1 -XX:+UseSerialGC`` (``--spark-conf spark.driver.extraJavaOptions=...``) took 20.8 JVM CPU s
against 34.6 with its defaults, measured one after the other (load ~5-9): its JIT is most of its fixed cost.

Cost per row from 1M to 10M (C1 rows): local ~3.9 CPU s per million rows, Spark ~6.5 to 9 (was ~19; at 10M: Python
workers ~6.4, JVM ~1.6, driver ~1.6 collecting and joining the labelled rows) over a fixed ~30 CPU s (start-up,
JIT). 50M, measured on a quiet machine (load ~1-2; ``--sizes 50M --counting kernel --data DIR``, 7 GB of data):

    rows  engine         time s  CPU s  peak MB  vs local  CPU vs  identical  CPU JVM / driver / workers
    50M   local            97.7  129.1     2099      1.00    1.00
    50M   spark/kernel    246.7  379.7    12067      2.53    2.94  yes        100.2 / 84.4 / 195.1

Within the 3x goal. Then the tasks' sums took their distinct hashes by sort instead of np.unique (numpy 2.4 hashes
integers, ~50x slower), on the same data and a quiet machine:

    50M   local           112.0  150.6     2116      1.00    1.00
    50M   spark/kernel    182.7  274.9    11808      1.63    1.83  yes        90.7 / 73.2 / 111.1
 Two runs before it failed in the driver's JVM, at Spark's default 1 GB heap: collect() of the
matched rows ran out of memory, then, streamed with toLocalIterator, a partition's result was lost from the block
manager; a local master's driver now gets a quarter of the machine's memory (``local_driver_memory``: 5 GB here),
which is most of Spark's 12 GB peak. The local engine's peak memory followed the labels (10% of the rows here: 5M
at 50M): 366 MB at 1M, 729 MB at 10M, 2.1 GB at 50M.

The local engine's peak memory after the labels' values stayed Arrow text, a text prediction's slots held one string
per distinct value, a large file was read in quarter batches, and the two curves shared one sort (``--counting
none``, with and without ``--label-rows 100k``; another engineer's tests kept the load at 2-5):

    rows  peak MB, 10% labelled (labels)   peak MB, 100k labels   time s (10% / 100k)
    1M        328   (101,867)                  323                   3.3 / 2.9
    10M       520   (1,010,623)                386                  25.7 / 17.1
    50M      1497   (5,048,573)                395                 185.1 / 94.4

Flat in the captured rows: 1.22x the memory for 50x the rows at a fixed label count. It grows with the labels alone,
about 200 bytes per distinct labelled id (the ground-truth frame ~45, the id index's hashes, hash table and Arrow
text ~65, the slots of the matched predictions ~60, the labels' winning rows ~25).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
NUMERIC = [f"num_{i:02d}" for i in range(15)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
TARGET = "churned"
FIRST_HOUR = datetime(2026, 1, 5, tzinfo=timezone.utc)
HOURS = 48
GOAL = 3.0
CLUSTER = (8, 4)  # executors x cores of the projected cluster
LABELS_ENV = "DMM_BENCH_LABELS"


def features(rows: int, rng: np.random.Generator, shift: float) -> dict[str, np.ndarray]:
    data: dict[str, np.ndarray] = {}
    for i, name in enumerate(NUMERIC):
        data[name] = rng.normal(shift * (i % 2), 1.0 + i / 10, rows)
    for i, name in enumerate(CATEGORICAL):
        classes = np.array([f"c{j}" for j in range(4 + 3 * i)], dtype=object)
        data[name] = classes[rng.integers(0, len(classes) + (1 if shift else 0), rows) % len(classes)]
    return data


def write_data(folder: Path, rows: int, seed: int = 3) -> None:
    """Training set, labels and the hourly prediction files (written in chunks: memory stays flat)."""
    rng = np.random.default_rng(seed)
    training = pd.DataFrame(features(50_000, rng, 0.0))
    training[TARGET] = rng.choice(np.array(["no", "yes"], dtype=object), 50_000)
    training.to_parquet(folder / "training.parquet")
    labelled: list[np.ndarray] = []
    per_hour = math.ceil(rows / HOURS)
    written = 0
    for hour in range(HOURS):
        n = min(per_hour, rows - written)
        if n <= 0:
            break
        moment = FIRST_HOUR + timedelta(hours=hour)
        part = folder / "prediction_data" / f"$$date$$={moment:%Y-%m-%d}Z" / f"$$hour$$={moment:%H}Z"
        part.mkdir(parents=True, exist_ok=True)
        ids = np.arange(written, written + n)
        ids[rng.random(n) < 0.01] -= 1  # about 1% of predictions repeat an id
        columns = features(n, rng, 0.2)  # built in Arrow, in the column order and types pandas would give
        proba = rng.random(n)
        columns[TARGET] = np.where(proba > 0.5, "yes", "no").astype(object)
        seconds = rng.integers(0, 3600, n)
        table = pa.table({name: pa.array(values, type=pa.large_string() if values.dtype == object else None)
                          for name, values in columns.items()})
        pairs = pa.FixedSizeListArray.from_arrays(np.column_stack([1 - proba, proba]).ravel(), 2)
        table = table.append_column("prediction_probability", pairs.cast(pa.list_(pa.float64())))
        table = table.append_column("event_id", pc.binary_join_element_wise(
            pa.scalar("e", pa.large_string()), pc.cast(pa.array(ids), pa.large_string()),
            pa.scalar("", pa.large_string())))
        when = pa.array(np.datetime64(moment.replace(tzinfo=None), "s") + seconds.astype("timedelta64[s]"))
        table = table.append_column("timestamp", pc.cast(  # moment.isoformat() per row
            pc.strftime(when, format="%Y-%m-%dT%H:%M:%S+00:00"), pa.large_string()))
        pq.write_table(table, part / "predictions_0.parquet")
        labelled.append(ids[rng.random(n) < 0.10])
        written += n
    ids = np.concatenate(labelled)
    ids = np.concatenate([ids, ids[: len(ids) // 100]])  # 1% labelled twice
    labels = pd.DataFrame({"event_id": [f"e{i}" for i in ids],
                           "label": rng.choice(np.array(["no", "yes"], dtype=object), len(ids))})
    labels.to_parquet(folder / "labels.parquet")


def write_fixed_labels(folder: Path, rows: int, count: int, seed: int = 5) -> str:
    """``count`` labels of ids drawn from the ``rows`` predicted (about 1% of them name an id that a repeated
    prediction took, so they match nothing), for a run whose label count does not grow with the rows."""
    name = f"labels-{count}.parquet"
    if not (folder / name).exists():
        rng = np.random.default_rng(seed)
        ids = rng.choice(rows, size=min(count, rows), replace=False)
        pd.DataFrame({"event_id": [f"e{i}" for i in ids],
                      "label": rng.choice(np.array(["no", "yes"], dtype=object), len(ids))}).to_parquet(folder / name)
    return name


def context(folder: Path):
    """What ``run_scan`` reads from a ``CheckContext``, without Domino."""
    from dmm.checks.context import Memo
    from dmm.checks.ground_truth import GroundTruth
    from dmm.prediction_files import list_prediction_files
    from dmm.schema import Feature, MonitoringSchema

    start, end = FIRST_HOUR + timedelta(minutes=30), FIRST_HOUR + timedelta(hours=HOURS - 1, minutes=30)
    schema = MonitoringSchema(
        training_set_name="bench", training_set_version=1, model_type="classification", target=TARGET,
        features=tuple(Feature(n, "numerical", "float64", 0.0) for n in NUMERIC)
        + tuple(Feature(n, "categorical", "str", "c0") for n in CATEGORICAL), class_labels=("no", "yes"))
    labels = os.environ.get(LABELS_ENV, "labels.parquet")  # --label-rows N: labels-N.parquet
    truth = GroundTruth(frame=pd.read_parquet(folder / labels), id_column="event_id",
                        label_column="label", sources=(labels,))
    files = list_prediction_files(folder / "prediction_data", start - timedelta(hours=1), end + timedelta(hours=1))
    return SimpleNamespace(schema=schema, training_frame=pd.read_parquet(folder / "training.parquet"),
                           ground_truth=truth, prediction_files=files, prediction_footers={}, start=start, end=end,
                           results={}, memo=Memo())


def worker(folder: str, engine: str, counting: str) -> dict:
    """One preview in this process: the drift and quality dicts as the report holds them, and the time taken."""
    from dmm.analysis import quality_metrics
    from dmm.checks.scan import PROBABILITY_COLUMN, ScanPlan, run_scan
    from dmm.files import json_safe
    from dmm.preview import _probabilities

    began = time.perf_counter()
    ctx = context(Path(folder))
    plan = ScanPlan(preview=True)
    timings: dict[str, float] = {}
    if engine == "spark":
        from dmm.analysis.spark_engine import run_spark_scan, spark_session

        os.environ.setdefault("DMM_SPARK_MASTER", "local[2]")
        extra = json.loads(os.environ.get("DMM_BENCH_SPARK_CONF", "{}"))  # --spark-conf
        session = spark_session({"spark.ui.showConsoleProgress": "false", **extra})
        timings["startup_s"] = time.perf_counter() - began
        way, _, option = counting.partition("-")  # "native-nocache": without caching the read frame
        read = "spark" if option == "jvmread" else "python"  # "kernel-jvmread": Spark's parquet reader
        scan = run_spark_scan(ctx, plan, counting=way, session=session, cache=option != "nocache", read=read)
    else:
        scan = run_scan(ctx, plan)
    joined = scan.result("quality")
    metrics = quality_metrics("classification", joined.column("label"), joined.column(TARGET),
                              proba=_probabilities(joined.columns.get(PROBABILITY_COLUMN)), labels=["no", "yes"],
                              ids=joined.columns.get("event_id"))  # as dmm.preview.preview_quality calls it
    return {"seconds": time.perf_counter() - began, **timings,
            "drift": json_safe(scan.result("drift").to_dict()), "join": json_safe(joined.to_dict()),
            "quality": json_safe(metrics.to_dict()), "rows_read": scan.result("drift").rows_seen}


def tree_rss(pid: int, cpu: dict[int, float] | None = None, names: dict[int, str] | None = None) -> int:
    """Total resident memory of a process and all its descendants, from /proc (bytes); ``cpu``: each one's CPU
    seconds so far (user + system), updated."""
    total, stack = 0, [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while stack:
        current = stack.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            if cpu is not None:
                fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
                cpu[current] = max(cpu.get(current, 0.0), (int(fields[11]) + int(fields[12])) / tick)
                if names is not None:  # read each time: a child is named "python" until it execs the JVM
                    names[current] = Path(f"/proc/{current}/comm").read_text().strip()
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def measure(folder: Path, engine: str, counting: str) -> dict:
    out = folder / f"result-{engine}-{counting}.json"
    command = [sys.executable, __file__, "--worker", str(folder), engine, counting, str(out)]
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    peak = [0]
    cpu: dict[int, float] = {}
    names: dict[int, str] = {}

    def sample() -> None:
        while process.poll() is None:
            peak[0] = max(peak[0], tree_rss(process.pid, cpu, names))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if process.wait() != 0:
        raise SystemExit(f"the {engine} run failed (exit {process.returncode})")
    sampler.join()
    jvm = sum(seconds for pid, seconds in cpu.items() if names.get(pid) == "java")
    return {**json.loads(out.read_text()), "peak_bytes": peak[0], "cpu_s": sum(cpu.values()), "jvm_cpu_s": jvm,
            "driver_cpu_s": cpu.get(process.pid, 0.0)}


def same(a, b, path="") -> list[str]:
    """Where two results differ (numbers to 1e-9); an empty list when every value is the same."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = set(a) | set(b)
        return [d for key in sorted(keys) for d in same(a.get(key), b.get(key), f"{path}.{key}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in same(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return [] if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9) else [path]
    return [] if a == b else [path]


def parse_size(text: str) -> int:
    text = text.strip().lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * factor)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1M,10M", help="captured rows per case, e.g. 1M,10M,50M")
    parser.add_argument("--counting", default="native,kernel",
                        help="Spark's ways of counting bins: native,kernel, or none: the local engine alone "
                             "(native-nocache: the read frame not cached; kernel-jvmread: Spark's parquet reader, "
                             "not pyarrow in the tasks)")
    parser.add_argument("--data", type=Path, help="keep the generated data in DATA/<rows> and reuse it next time")
    parser.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for the Spark session (repeatable), e.g. spark.driver.extraJavaOptions=...")
    parser.add_argument("--label-rows", type=parse_size, metavar="N",
                        help="N labels whatever the rows (default: 10%% of the predictions, 1%% of them twice): the "
                             "local engine's memory follows the labels, so this shows how it grows with the rows alone")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.spark_conf:
        if any("=" not in item for item in args.spark_conf):
            parser.error("--spark-conf takes KEY=VALUE")
        os.environ["DMM_BENCH_SPARK_CONF"] = json.dumps(dict(item.split("=", 1) for item in args.spark_conf))
    if args.worker:
        folder, engine, counting, out = args.worker
        Path(out).write_text(json.dumps(worker(folder, engine, counting)))
        return 0
    print(f"{'rows':>6} {'engine':<14} {'time s':>8} {'CPU s':>8} {'peak MB':>8} {'rows/s':>10} {'vs local':>8} "
          f"{'CPU vs':>7}  identical")
    for text in args.sizes.split(","):
        rows = parse_size(text)
        with tempfile.TemporaryDirectory(prefix="dmm-scale-") as tmp:
            folder = Path(tmp) if args.data is None else args.data / str(rows)
            if not (folder / "labels.parquet").exists():  # written last
                folder.mkdir(parents=True, exist_ok=True)
                write_data(folder, rows)
            if args.label_rows:
                os.environ[LABELS_ENV] = write_fixed_labels(folder, rows, args.label_rows)
            local = measure(folder, "local", "-")
            print(f"{text:>6} {'local':<14} {local['seconds']:8.1f} {local['cpu_s']:8.1f} "
                  f"{local['peak_bytes'] / 1e6:8.0f} {local['rows_read'] / local['seconds']:10.0f} {1.0:8.2f} "
                  f"{1.0:7.2f}   ({local['join']['ground_truth_rows']:,} label rows)", flush=True)
            for counting in [] if args.counting == "none" else args.counting.split(","):
                spark = measure(folder, "spark", counting)
                ratio = spark["seconds"] / local["seconds"]
                differ = same({k: local[k] for k in ("drift", "join", "quality")},
                              {k: spark[k] for k in ("drift", "join", "quality")})
                print(f"{text:>6} {'spark/' + counting:<14} {spark['seconds']:8.1f} {spark['cpu_s']:8.1f} "
                      f"{spark['peak_bytes'] / 1e6:8.0f} {spark['rows_read'] / spark['seconds']:10.0f} {ratio:8.2f} "
                      f"{spark['cpu_s'] / local['cpu_s']:7.2f}  "
                      f"{'yes' if not differ else 'NO: ' + ', '.join(differ[:5])}"
                      + (f"   (goal at 50M: <= {GOAL:g}x)" if rows >= 50_000_000 else ""), flush=True)
                print(f"{'':>6} CPU split: JVM {spark['jvm_cpu_s']:.1f} s, driver {spark['driver_cpu_s']:.1f} s, "
                      f"Python workers {spark['cpu_s'] - spark['jvm_cpu_s'] - spark['driver_cpu_s']:.1f} s; "
                      f"start-up {spark['startup_s']:.1f} s wall", flush=True)
                # per core: rows per CPU second of the whole process tree (JVM start-up included: conservative)
                per_core = spark["rows_read"] / spark["cpu_s"]
                executors, cores = CLUSTER
                billion = spark["startup_s"] + 1e9 / (per_core * executors * cores)  # start-up counted twice: cautious
                print(f"{'':>6} PROJECTION (not measured): {per_core:,.0f} rows per CPU second; 1e9 rows on "
                      f"{executors} executors x {cores} cores ~ {billion / 60:.0f} min after a "
                      f"{spark['startup_s']:.0f} s start, if throughput scales with cores and files split evenly",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
