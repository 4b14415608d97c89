"""Step 6's preview with the Spark executor (dmm/analysis/spark_engine.py) equals the local engine's, value for value:
bin counts, every drift test, the join counts and every quality metric, on generated data with the awkward cases
(edge-hour partitions, a file without a column, missing and out-of-range values, unseen classes, ids spelled 1 and
1.0, duplicated predictions and labels)."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from test_checks import NOW, TARGET, World, write_predictions

from dmm.checks.chain import run_checks
from dmm.checks.scan import ScanPlan, plan_scan

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

IGNORED = {"engine", "generated_at"}


def assert_same(local, spark, path="report"):
    """Every key and value equal; numbers to 1e-9 (relative or absolute)."""
    if isinstance(local, dict):
        assert isinstance(spark, dict), path
        keys = set(local) - IGNORED
        assert keys == set(spark) - IGNORED, f"{path}: {sorted(keys ^ (set(spark) - IGNORED))}"
        for key in keys:
            assert_same(local[key], spark[key], f"{path}.{key}")
    elif isinstance(local, list):
        assert isinstance(spark, list) and len(local) == len(spark), path
        for i, (a, b) in enumerate(zip(local, spark, strict=True)):
            assert_same(a, b, f"{path}[{i}]")
    elif isinstance(local, float) and not isinstance(local, bool):
        assert isinstance(spark, (int, float)), path
        assert math.isclose(local, spark, rel_tol=1e-9, abs_tol=1e-9), f"{path}: {local} != {spark}"
    else:
        assert local == spark, f"{path}: {local!r} != {spark!r}"


def both_reports(world: World, engine_options=None) -> tuple[dict, dict]:
    from dmm import preview

    reports = []
    for engine in ("local", "spark"):
        ctx = world.context()
        plan_scan(ctx, ScanPlan(preview=True, engine=engine))
        reports.append(preview.build_report(ctx, run_checks(ctx)))
    return reports[0], reports[1]


@pytest.fixture
def generated(tmp_path) -> World:
    world = World(tmp_path)
    rng = np.random.default_rng(7)
    folder = world.prediction_dir.parent / "prediction_data"
    for hours_ago, n in ((30, 400), (5, 700), (3, 300)):
        ages = rng.normal(40, 15, n).round(1)
        ages[rng.random(n) < 0.05] = np.nan
        ages[:3] = [np.inf, -1000.0, 500.0]
        plans = rng.choice(["basic", "pro", "gold", " basic ", None], n, p=[0.4, 0.3, 0.1, 0.1, 0.1])
        ids = [f"evt-{i}" for i in rng.integers(0, 900, n)]  # duplicated predictions, across files too
        write_predictions(folder, ids, {"age": ages, "plan": plans, TARGET: rng.integers(0, 2, n)},
                          hour=NOW - timedelta(hours=hours_ago, minutes=-30))
    # a file without the "plan" column, in an edge hour of a window that ends mid-hour
    write_predictions(folder, [str(i) for i in range(60)], {"age": rng.normal(40, 5, 60), TARGET: [1] * 60},
                      hour=NOW - timedelta(hours=1))
    labels = pd.DataFrame({"event_id": [f"evt-{i}" for i in range(0, 1000, 2)] + ["1.0", "2", "evt-4", None],
                           "label": list(rng.integers(0, 2, 500)) + [1, 0, 1, 0]})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    world.ground_truth_file = tmp_path / "labels.csv"
    return world


def test_generated_data_gives_the_same_report_with_either_engine(generated, spark):
    local, remote = both_reports(generated)
    assert local["drift"]["status"] == "ok" and local["quality"]["status"] == "ok"
    assert local["drift"]["production_rows"] > 1000 and local["quality"]["join"]["duplicate_prediction_rows"] > 0
    assert remote["drift"]["engine"]["name"] == "spark" and local["drift"]["engine"]["name"] == "local"
    assert_same(local["drift"], remote["drift"], "drift")
    assert_same(local["quality"], remote["quality"], "quality")
    assert_same(local["checks"], remote["checks"], "checks")


@pytest.mark.parametrize("counting", ["native", "kernel"])
def test_both_ways_of_counting_bins_give_the_local_counts(generated, spark, counting):
    from dmm.analysis.spark_engine import run_spark_scan
    from dmm.checks.scan import run_scan

    ctx = generated.context()
    run_checks(ctx)
    plan = ScanPlan(preview=True)
    local, remote = run_scan(ctx, plan), run_spark_scan(ctx, plan, counting=counting, session=spark)
    assert remote.engine["counting"] == counting
    for name, counts in local.drift.production_counts.items():
        assert remote.drift.production_counts[name].tolist() == counts.tolist(), name
    assert remote.drift.unseen == local.drift.unseen
    assert (remote.drift.rows_seen, remote.drift.rows_with_column) == (local.drift.rows_seen,
                                                                         local.drift.rows_with_column)
    assert remote.join == local.join
