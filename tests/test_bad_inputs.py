"""Every script, every bad input of issue 2: one ``Error:`` sentence, the right exit code and error code, no
traceback, no secret, and nothing written or sent.

Two layers. The whole table runs in-process through ``dmm.cli.run(main, argv)`` (each numbered script's ``main``
loaded from its file), asserting on the error's stable ``code`` rather than its wording, plus the exit code,
exactly one ``Error:`` line, no traceback, no secret in the output, an empty working folder and unchanged inputs.
Then one case per script runs again as a real subprocess (``SMOKE``), which is what a user sees: the interpreter
exit code, stderr, stdin that is not a terminal, and a process that has registered no secrets before.

In-process, each case gets a fresh environment (monkeypatch), a fresh working folder, a stdin that is not a
terminal (as the subprocesses' /dev/null) and an empty registry of redacted secrets, so a secret registered by an
earlier case cannot hide a leak in this one. Service-touching cases point at http://127.0.0.1:9 (refused at once)
or an ``.invalid`` host (never resolves), so nothing can be sent anywhere.
"""

from __future__ import annotations

import hashlib
import http.server
import importlib.metadata
import importlib.util
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from dmm.cli import run
from dmm.config import save_config
from dmm.errors import DmmError
from dmm.training_set import RegisteredVersion, plan_training_set, schema_from_plan
from example.data import write_dataset

ROOT = Path(__file__).resolve().parent.parent
KEY, TOKEN = "bad-inputs-api-key-0a1b2c3d", "bad-inputs-token-4e5f6a7b"
REFUSED = "http://127.0.0.1:9"
UNRESOLVABLE = "http://domino.invalid"
# What dmm.mlflow_export sets with os.environ.setdefault; pinned here so monkeypatch restores them after a case.
MLFLOW_QUICK = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, mlflow_store) -> Path:
    folder = tmp_path_factory.mktemp("bad-inputs")
    # the store "2-unknown-experiment" names, migrated as a first call would leave it (a copy: conftest.py), so that
    # case runs step 2's experiment lookup rather than MLflow's ~60 migrations of a new sqlite file
    mlflow_store(folder)
    write_dataset(folder, n_rows=300, seed=3)  # train.csv and test.csv
    frame = pd.read_csv(folder / "train.csv")
    (folder / "empty.csv").write_text("")
    (folder / "header_only.csv").write_text(",".join(frame.columns) + "\n")
    (folder / "dups.csv").write_text("a,b,a,churned\n1,2,3,no\n4,5,6,yes\n")
    (folder / "garbage.parquet").write_bytes(bytes(range(256)) * 2)
    (folder / "a_folder.csv").mkdir()
    single = frame.copy()
    single["churned"] = "no"
    single.to_csv(folder / "single_class.csv", index=False)
    (folder / "gt_no_id.csv").write_text("id,churned\ne1,yes\n")
    (folder / "gt_dup_ids.csv").write_text("event_id,churned\ne1,yes\ne1,no\n")
    (folder / "gt_bad_label.csv").write_text("event_id,churned\ne1,maybe\ne2,no\n")
    # issue 11: text that is not UTF-8, links that loop, a regular file the kernel refuses to read (even to root),
    # and folders where files are expected
    (folder / "latin1_header.csv").write_bytes(b"caf\xe9,churned\n1,no\n2,yes\n")
    (folder / "latin1_body.csv").write_bytes((folder / "train.csv").read_bytes() + b"caf\xe9" + b",1" * 5 + b"\n")
    (folder / "gt_latin1.csv").write_bytes(b"event_id,churned\ne\xe91,yes\n")
    (folder / "loop.csv").symlink_to(folder / "loop.csv")
    (folder / "loop.json").symlink_to(folder / "loop.json")
    (folder / "unreadable.json").symlink_to("/proc/self/mem")
    (folder / "a_folder.json").mkdir()
    (folder / "no_parquet").mkdir()
    (folder / "no_parquet" / "part-0.csv").write_text("a,b\n1,2\n")
    (folder / "empty_dir").mkdir()
    (folder / "bad_parquet").mkdir()
    (folder / "bad_parquet" / "part-0.parquet").write_bytes(b"not parquet at all")

    plan = plan_training_set(frame, name="churn-baseline", target="churned", model_type="classification")
    schema_from_plan(plan, RegisteredVersion("churn-baseline", 1, "/x")).save(folder / "monitoring_schema.json")
    good = {
        "domino": {"base_url": REFUSED, "user_api_key_env": "DOMINO_USER_API_KEY"},
        "model_monitor": {"model_id": "abc123", "base_url": ""},
        "model_api": {"endpoint_url": f"{REFUSED}/models/m1/latest/model", "token_env": "DOMINO_MODEL_API_TOKEN",
                      "token": "", "timeout": 5},
        "data_sources": {"ground_truth": "gt-store", "ground_truth_type": "s3", "ground_truth_prefix": "ground_truth"},
        "test_data": {"path": str(folder / "test.csv"), "label_column": "churned"},
        "schema": {"path": str(folder / "monitoring_schema.json")},
    }
    save_config(good, folder / "cfg_good.json")
    unresolvable = json.loads(json.dumps(good))
    unresolvable["domino"]["base_url"] = UNRESOLVABLE
    unresolvable["model_api"]["endpoint_url"] = f"{UNRESOLVABLE}/models/m1/latest/model"
    save_config(unresolvable, folder / "cfg_unresolvable.json")
    placeholder = json.loads(json.dumps(good))
    placeholder["model_monitor"]["model_id"] = "YOUR_MODEL_MONITOR_ID"
    (folder / "cfg_placeholder.json").write_text(json.dumps(placeholder))
    unknown = json.loads(json.dumps(good))
    unknown["model_api"]["tokne"] = "x"
    (folder / "cfg_unknown.json").write_text(json.dumps(unknown))
    (folder / "cfg_broken.json").write_text("{not json")
    (folder / "cfg_latin1.json").write_bytes(json.dumps(good).replace("abc123", "abc\\u00e9").encode()
                                              .replace(b"abc\\u00e9", b"abc\xe9"))
    variants = {
        "cfg_schema_latin1.json": ("schema", "path", str(folder / "schema_latin1.json")),
        "cfg_schema_truncated.json": ("schema", "path", str(folder / "schema_truncated.json")),
        "cfg_schema_not_schema.json": ("schema", "path", str(folder / "schema_not_schema.json")),
        "cfg_schema_folder.json": ("schema", "path", str(folder / "a_folder.json")),
        "cfg_schema_loop.json": ("schema", "path", str(folder / "loop.json")),
        "cfg_schema_unreadable.json": ("schema", "path", str(folder / "unreadable.json")),
        "cfg_test_latin1.json": ("test_data", "path", str(folder / "latin1_body.csv")),
        "cfg_test_loop.json": ("test_data", "path", str(folder / "loop.csv")),
        "cfg_bad_ds_type.json": ("data_sources", "ground_truth_type", "ftp"),
        "cfg_huge_timeout.json": ("model_api", "timeout", 10 ** 9),
    }
    for name, (section, key, value) in variants.items():
        variant = json.loads(json.dumps(good))
        variant[section][key] = value
        (folder / name).write_text(json.dumps(variant))  # as a user's editor would; save_config refuses some
    schema_text = (folder / "monitoring_schema.json").read_text()
    (folder / "schema_latin1.json").write_bytes(schema_text.replace("churned", "churn\\u00e9", 1).encode()
                                                .replace(b"churn\\u00e9", b"churn\xe9"))
    (folder / "schema_truncated.json").write_text(schema_text[: len(schema_text) // 2])
    (folder / "schema_not_schema.json").write_text(json.dumps({"hello": "world"}))
    for name in ("ledger_folder", "ledger_latin1"):
        (folder / name).mkdir()
        save_config(good, folder / name / "monitoring_config.json")
    (folder / "ledger_folder" / "monitoring_ledger.json").mkdir()
    (folder / "ledger_latin1" / "monitoring_ledger.json").write_bytes(b'{"uploads": {"caf\xe9": {}}}')
    return folder


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOMINO", "DMM_", "MLFLOW"))}
    env.update(DOMINO_USER_API_KEY=KEY, DOMINO_MODEL_API_TOKEN=TOKEN, DOMINO_API_HOST=REFUSED,
               DOMINO_PROJECT_ID="p1", DOMINO_DATASOURCE_PROXY_HOST=REFUSED,
               DOMINO_DATASOURCE_PROXY_FLIGHT_HOST="grpc://127.0.0.1:9",
               DMM_RETRY_MAX_SECONDS="1")  # a refused host is retried for a second, not a minute
    return env


S1, S2, S3 = "1_register_training_set.py", "2_export_model.py", "3_setup_monitoring.py"
S4, S5, S6 = "4_generate_predictions.py", "5_upload_ground_truth.py", "6_check_monitoring.py"
NO_KEY = {"DOMINO_USER_API_KEY": None}
WIZARD = ["--yes", "--base-url", REFUSED, "--model-id", "m", "--endpoint-url", f"{REFUSED}/models/x/latest/model",
          "--datasource", "gt", "--schema", "{in}/monitoring_schema.json"]


def step1(file: str, *extra: str, target: str = "churned", name: str = "churn-baseline") -> list[str]:
    return [S1, "--file", file, "--name", name, "--target", target, *extra, "--yes"]


# (id, argv ({in} is the inputs folder), env tweaks (None removes), exit code, error code, words in the message).
# The error code is what tests match on; the words pin the few phrases a user relies on (flag names, fixes).
# An error code of None is not asserted: the wizard (step 3) and step 6's checks are being restructured by their
# owners, who give their own raise sites codes; the exit code and the words still guard those cases.
CASES = [
    ("1-missing-file", step1("{in}/nope.csv"), {}, 2, "file-missing", ["--file"]),
    ("1-empty-file", step1("{in}/empty.csv"), {}, 2, "file-empty", []),
    ("1-header-only", step1("{in}/header_only.csv"), {}, 2, "file-no-rows", []),
    ("1-target-not-a-column", step1("{in}/train.csv", target="churn"), {}, 2, "column-missing",
     ["'churn'", "--target"]),
    ("1-invalid-name", step1("{in}/train.csv", name="churn baseline!"), {}, 2, "training-set-name",
     ["--name churn_baseline"]),
    ("1-string-target-regression", step1("{in}/train.csv", "--model-type", "regression"), {}, 2, "target-not-numeric",
     ["--model-type classification"]),
    ("1-single-class", step1("{in}/single_class.csv"), {}, 2, "target-single-class", []),
    ("1-duplicate-columns", step1("{in}/dups.csv"), {}, 2, "column-duplicate", ["'a'"]),
    ("1-folder-as-file", step1("{in}/a_folder.csv"), {}, 2, "file-not-a-file", []),
    ("1-garbage-parquet", step1("{in}/garbage.parquet"), {}, 2, "file-unreadable", ["Parquet"]),
    ("1-schema-out-is-a-folder", step1("{in}/train.csv", "--schema-out", "{in}/a_folder.csv"), {}, 2,
     "schema-path-is-a-folder", ["--schema-out"]),
    # cheap checks come first: the schema path before the (possibly large) file is read
    ("1-schema-out-before-file", step1("{in}/nope.csv", "--schema-out", "{in}/a_folder.csv"), {}, 2,
     "schema-path-is-a-folder", []),
    ("1-missing-api-key", step1("{in}/train.csv"), NO_KEY, 2, "api-key-missing", ["DOMINO_USER_API_KEY"]),
    ("1-no-host", step1("{in}/train.csv"), {"DOMINO_API_HOST": None}, 2, "domino-host-missing", ["DOMINO_API_HOST"]),
    ("1-refused-host", step1("{in}/train.csv"), {}, 3, "unreachable", ["DOMINO_API_HOST"]),
    ("1-unresolvable-host", step1("{in}/train.csv"), {"DOMINO_API_HOST": UNRESOLVABLE}, 3, "unreachable", []),
    ("2-no-selector", [S2], {}, 2, "model-selection", ["--run-id", "--experiment"]),
    ("2-version-and-alias", [S2, "--model-name", "churn", "--version", "1", "--alias", "champion"], {}, 2,
     "model-selection", ["--version", "--alias"]),
    ("2-unknown-experiment", [S2, "--experiment", "nope", "--metric", "auc"],
     {"MLFLOW_TRACKING_URI": "sqlite:///{in}/mlflow.db"}, 2, "mlflow-experiment-missing", ["'nope'"]),
    ("2-refused-tracking-server", [S2, "--experiment", "nope", "--metric", "auc"],
     {"MLFLOW_TRACKING_URI": REFUSED}, 3, "unreachable", ["MLFLOW_TRACKING_URI"]),
    # refused before MLflow is contacted: the tracking server is unreachable, yet the answer is about the folder
    ("2-output-dir-is-a-file", [S2, "--experiment", "churn", "--metric", "roc_auc", "--output-dir",
                                "{in}/train.csv"], {"MLFLOW_TRACKING_URI": REFUSED}, 2, "output-dir-not-a-folder",
     ["not a folder", "--output-dir"]),
    ("3-placeholder-offline", [S3, "--offline", *WIZARD[:4], "YOUR_MODEL_MONITOR_ID", *WIZARD[5:]], {}, 2, None,
     ["placeholder", "--model-id"]),
    ("3-no-scheme-offline", [S3, "--offline", "--yes", "--base-url", "domino.example.com", *WIZARD[3:]], {}, 2, None,
     ["http(s) URL", "--base-url"]),
    ("3-missing-schema-offline", [S3, "--offline", *WIZARD[:-1], "{in}/nope.json"], {}, 2, None,
     ["No monitoring schema", "1_register_training_set.py"]),
    ("3-test-data-header-only", [S3, "--offline", *WIZARD, "--test-data", "{in}/header_only.csv"], {}, 2, None,
     ["no data rows"]),
    ("3-refused-host", [S3, *WIZARD], {}, 3, None, ["Could not reach Domino"]),
    ("3-unresolvable-host", [S3, "--yes", "--base-url", UNRESOLVABLE, *WIZARD[3:]], {}, 3, None,
     ["Could not reach Domino"]),
    ("3-missing-api-key", [S3, *WIZARD], NO_KEY, 2, None, ["DOMINO_USER_API_KEY", "--offline"]),
    ("3-broken-config", [S3, "--offline", "--yes", "--config", "{in}/cfg_broken.json"], {}, 2, None,
     ["not valid JSON"]),
    ("3-no-terminal", [S3, "--offline"], {}, 2, None, ["--yes"]),
    ("4-missing-token", [S4, "--count", "3", "--config", "{in}/cfg_good.json"], {"DOMINO_MODEL_API_TOKEN": None}, 2,
     "model-api-token-missing", ["DOMINO_MODEL_API_TOKEN"]),
    ("4-missing-api-key", [S4, "--count", "3", "--config", "{in}/cfg_good.json"], NO_KEY, 2, "api-key-missing",
     ["DOMINO_USER_API_KEY"]),
    ("4-no-datasource-proxy", [S4, "--count", "3", "--config", "{in}/cfg_good.json"],
     {"DOMINO_DATASOURCE_PROXY_FLIGHT_HOST": None}, 2, "domino-env-missing", ["DOMINO_DATASOURCE_PROXY_FLIGHT_HOST"]),
    ("4-token-before-file", [S4, "--count", "3", "--config", "{in}/cfg_good.json", "--file", "{in}/nope.csv"],
     {"DOMINO_MODEL_API_TOKEN": None}, 2, "model-api-token-missing", []),
    ("4-refused-host", [S4, "--count", "3", "--config", "{in}/cfg_good.json"], {}, 3, "unreachable",
     ["Could not reach Domino"]),
    ("4-header-only", [S4, "--count", "3", "--config", "{in}/cfg_good.json", "--file", "{in}/header_only.csv"], {},
     2, "file-no-rows", []),
    ("4-duplicate-columns", [S4, "--count", "3", "--config", "{in}/cfg_good.json", "--file", "{in}/dups.csv"], {},
     2, "column-duplicate", []),
    ("4-label-not-a-column", [S4, "--count", "3", "--config", "{in}/cfg_good.json", "--label-column", "nope"], {},
     2, "column-missing", ["'nope'", "--label-column"]),
    ("4-count-zero", [S4, "--count", "0", "--config", "{in}/cfg_good.json"], {}, 2, "flag-out-of-range", ["--count"]),
    ("5-file-dup-ids", [S5, "--config", "{in}/cfg_good.json", "--file", "{in}/gt_dup_ids.csv"], {}, 2,
     "event-id-duplicate", ["event id"]),
    ("5-file-no-id-column", [S5, "--config", "{in}/cfg_good.json", "--file", "{in}/gt_no_id.csv"], {}, 2,
     "column-missing", ["'event_id'", "--id-column"]),
    ("5-file-bad-label", [S5, "--config", "{in}/cfg_good.json", "--file", "{in}/gt_bad_label.csv"], {}, 2,
     "label-unknown-class", ["maybe"]),
    ("5-file-garbage", [S5, "--config", "{in}/cfg_good.json", "--file", "{in}/garbage.parquet"], {}, 2,
     "file-unreadable", ["Parquet"]),
    ("5-bad-date", [S5, "--config", "{in}/cfg_good.json", "--start-date", "2024-13-01"], {}, 2, "date-invalid",
     ["YYYY-MM-DD"]),
    ("5-api-key-before-file", [S5, "--config", "{in}/cfg_good.json", "--file", "{in}/garbage.parquet"], NO_KEY, 2,
     "api-key-missing", []),
    ("5-refused-host", [S5, "--config", "{in}/cfg_good.json"], {}, 3, "unreachable", ["Could not reach Domino"]),
    ("6-output-dir-is-a-file", [S6, "--config", "{in}/cfg_good.json", "--no-preview", "--output-dir",
                                "{in}/train.csv"], {}, 2, None, ["not a folder", "--output-dir"]),
    ("6-bad-start", [S6, "--config", "{in}/cfg_good.json", "--start", "yesterday"], {}, 2, None, ["--start"]),
]
for script, extra in ((S4, ["--count", "3"]), (S5, [])):
    number = script[0]
    CASES += [
        (f"{number}-no-config", [script, *extra], {}, 2, "config-missing", ["3_setup_monitoring.py"]),
        (f"{number}-placeholder-config", [script, *extra], {"DMM_CONFIG": "{in}/cfg_placeholder.json"}, 2,
         "config-placeholder", ["model_monitor.model_id"]),
        (f"{number}-unknown-key-config", [script, *extra, "--config", "{in}/cfg_unknown.json"], {}, 2,
         "config-unknown-key", ["model_api.tokne"]),
        (f"{number}-broken-config", [script, *extra, "--config", "{in}/cfg_broken.json"], {}, 2,
         "config-invalid-json", []),
        (f"{number}-unresolvable-host", [script, *extra, "--config", "{in}/cfg_unresolvable.json"],
         {"DOMINO_API_HOST": UNRESOLVABLE, "DOMINO_DATASOURCE_PROXY_HOST": UNRESOLVABLE}, 3, "unreachable",
         ["Could not reach"]),
    ]
C = "{in}/cfg_good.json"
CASES += [  # issue 11
    # text that is not UTF-8
    ("1-latin1-header", step1("{in}/latin1_header.csv"), {}, 2, "file-not-utf8", ["UTF-8"]),
    ("1-latin1-body", step1("{in}/latin1_body.csv"), {}, 2, "file-not-utf8", ["UTF-8"]),
    ("4-latin1-file", [S4, "--config", C, "--file", "{in}/latin1_body.csv"], {}, 2, "file-not-utf8", ["UTF-8"]),
    ("4-latin1-config-test-data", [S4, "--config", "{in}/cfg_test_latin1.json"], {}, 2, "file-not-utf8", ["UTF-8"]),
    ("5-latin1-file", [S5, "--config", C, "--file", "{in}/gt_latin1.csv"], {}, 2, "file-not-utf8", ["UTF-8"]),
    # step 3 (the wizard) gives its answers' failures no code of their own yet: words only, as above
    ("3-latin1-test-data", [S3, "--offline", *WIZARD, "--test-data", "{in}/latin1_body.csv"], {}, 2, None, ["UTF-8"]),
    ("3-latin1-config", [S3, "--offline", "--yes", "--config", "{in}/cfg_latin1.json"], {}, 2, None, ["UTF-8"]),
    ("3-latin1-schema", [S3, "--offline", *WIZARD[:-1], "{in}/schema_latin1.json"], {}, 2, None, ["UTF-8"]),
    ("3-truncated-schema", [S3, "--offline", *WIZARD[:-1], "{in}/schema_truncated.json"], {}, 2,
     None, ["not valid JSON", "1_register_training_set.py"]),
    ("3-not-a-schema", [S3, "--offline", *WIZARD[:-1], "{in}/schema_not_schema.json"], {}, 2,
     None, ["not a monitoring schema"]),
    ("3-schema-folder", [S3, "--offline", *WIZARD[:-1], "{in}/a_folder.json"], {}, 2, None, ["is a folder"]),
    ("3-schema-loop", [S3, "--offline", *WIZARD[:-1], "{in}/loop.json"], {}, 2, None, ["link loop"]),
    ("3-output-folder", [S3, "--offline", *WIZARD, "--output", "{in}/a_folder.json"], {}, 2,
     None, ["is a folder", "--output"]),
    ("3-output-under-a-file", [S3, "--offline", *WIZARD, "--output", "{in}/train.csv/cfg.json"], {}, 2,
     None, ["not a folder", "--output"]),
    ("3-config-folder", [S3, "--offline", "--yes", "--config", "{in}/a_folder.json"], {}, 2, None, ["is a folder"]),
    ("3-config-loop", [S3, "--offline", "--yes", "--config", "{in}/loop.json"], {}, 2, None, ["link loop"]),
    ("3-config-unreadable", [S3, "--offline", "--yes", "--config", "{in}/unreadable.json"], {}, 2,
     None, ["Cannot read"]),
    ("3-test-data-folder", [S3, "--offline", *WIZARD, "--test-data", "{in}/a_folder.csv"], {}, 2,
     None, ["is a folder", "--test-data"]),
    ("3-test-data-loop", [S3, "--offline", *WIZARD, "--test-data", "{in}/loop.csv"], {}, 2, None, ["link loop"]),
    ("3-bad-datasource-type", [S3, "--offline", *WIZARD, "--datasource-type", "ftp"], {}, 2,
     None, ["'ftp'", "--datasource-type"]),
    # links that loop, unreadable files, folders
    ("1-loop", step1("{in}/loop.csv"), {}, 2, "file-link-loop", ["--file"]),
    ("1-long-name", step1("{in}/train.csv", name="n" * 300), {}, 2, "training-set-name", ["characters"]),
    ("4-loop-file", [S4, "--config", C, "--file", "{in}/loop.csv"], {}, 2, "file-link-loop", []),
    ("4-folder-file", [S4, "--config", C, "--file", "{in}/a_folder.csv"], {}, 2, "file-not-a-file", []),
    ("5-loop-file", [S5, "--config", C, "--file", "{in}/loop.csv"], {}, 2, "file-link-loop", []),
    ("5-folder-file", [S5, "--config", C, "--file", "{in}/a_folder.csv"], {}, 2, "file-not-a-file", []),
    ("6-loop-ground-truth", [S6, "--config", C, "--no-preview", "--ground-truth", "{in}/loop.csv"], {}, 2,
     "file-link-loop", []),
    ("6-folder-ground-truth", [S6, "--config", C, "--no-preview", "--ground-truth", "{in}/a_folder.csv"], {}, 2,
     "file-not-a-file", []),
    ("6-prediction-data-empty", [S6, "--config", C, "--prediction-data", "{in}/empty_dir"], {}, 2,
     "prediction-data-empty", ["--prediction-data"]),
    ("6-prediction-data-no-parquet", [S6, "--config", C, "--prediction-data", "{in}/no_parquet"], {}, 2,
     "prediction-data-empty", ["part-0.csv"]),
    ("6-prediction-data-bad-parquet", [S6, "--config", C, "--prediction-data", "{in}/bad_parquet"], {}, 2,
     "file-unreadable", ["part-0.parquet"]),
    ("6-prediction-data-a-file", [S6, "--config", C, "--prediction-data", "{in}/train.csv"], {}, 2,
     "prediction-data-not-a-folder", []),
    ("5-ledger-folder", [S5, "--config", "{in}/ledger_folder/monitoring_config.json", "--dry-run"], {}, 2,
     "ledger-not-a-file", []),
    ("5-ledger-latin1", [S5, "--config", "{in}/ledger_latin1/monitoring_config.json", "--dry-run"], {}, 2,
     "ledger-not-utf8", ["UTF-8"]),
    # output paths that are link loops
    ("1-schema-out-loop", step1("{in}/train.csv", "--schema-out", "{in}/loop.json"), {}, 2, "file-link-loop", []),
    ("2-output-dir-loop", [S2, "--experiment", "churn", "--metric", "auc", "--output-dir", "{in}/loop.json"],
     {"MLFLOW_TRACKING_URI": REFUSED}, 2, "file-link-loop", ["--output-dir"]),
    ("3-output-loop", [S3, "--offline", *WIZARD, "--output", "{in}/loop.json"], {}, 2, None, ["link loop"]),
    ("6-output-dir-loop", [S6, "--config", C, "--output-dir", "{in}/loop.json"], {}, 2, "file-link-loop", []),
    ("6-prediction-data-loop", [S6, "--config", C, "--prediction-data", "{in}/loop.json"], {}, 2, "file-link-loop",
     []),
    # numbers far outside any sensible range
    ("4-count-huge", [S4, "--count", str(10 ** 12), "--config", C], {}, 2, "flag-out-of-range", ["--count"]),
    ("4-count-not-a-number", [S4, "--count", "lots", "--config", C], {}, 2, "flag-not-a-number", ["--count"]),
    ("4-concurrency-huge", [S4, "--concurrency", str(10 ** 6), "--config", C], {}, 2, "flag-out-of-range",
     ["--concurrency"]),
    ("4-rate-nan", [S4, "--rate", "nan", "--config", C], {}, 2, "flag-out-of-range", ["--rate"]),
    ("4-timeout-huge", [S4, "--timeout", "1e12", "--config", C], {}, 2, "flag-out-of-range", ["--timeout"]),
    ("4-timeout-inf", [S4, "--timeout", "inf", "--config", C], {}, 2, "flag-out-of-range", ["--timeout"]),
    ("4-seed-negative", [S4, "--seed", "-1", "--config", C], {}, 2, "flag-out-of-range", ["--seed"]),
    ("4-config-timeout-huge", [S4, "--config", "{in}/cfg_huge_timeout.json"], {}, 2, "config-bad-value",
     ["model_api.timeout"]),
    ("5-hours-huge", [S5, "--config", C, "--hours", "1e12"], {}, 2, "flag-out-of-range", ["--hours"]),
    ("5-hours-nan", [S5, "--config", C, "--hours", "nan"], {}, 2, "flag-out-of-range", ["--hours"]),
    ("6-days-huge", [S6, "--config", C, "--days", "1e12"], {}, 2, "flag-out-of-range", ["--days"]),
    ("6-days-nan", [S6, "--config", C, "--days", "nan"], {}, 2, "flag-out-of-range", ["--days"]),
    ("6-window-from-year-1", [S6, "--config", C, "--end", "0001-01-02", "--days", "5"], {}, 2, "date-invalid",
     ["--days"]),
    ("6-end-year-9999", [S6, "--config", C, "--no-preview", "--start", "0001-01-01", "--end", "9999-12-31"], {}, 2,
     "flag-out-of-range", ["--start"]),
    # argparse's own refusals, as one sentence too (dmm.cli.plain_argparse_errors)
    ("1-bad-model-type", step1("{in}/train.csv", "--model-type", "clustering"), {}, 2, "flag-invalid",
     ["--model-type", "clustering"]),
    ("1-missing-required", [S1, "--file", "{in}/train.csv"], {}, 2, "flag-invalid", ["--name", "--target"]),
    ("4-unknown-flag", [S4, "--cont", "3", "--config", C], {}, 2, "flag-invalid", ["--cont"]),
    ("6-flag-without-value", [S6, "--config"], {}, 2, "flag-invalid", ["--config"]),
    # MLflow and Model Monitor refusing what the config or flags name
    ("2-tracking-uri-unknown-scheme", [S2, "--experiment", "churn", "--metric", "auc"],
     {"MLFLOW_TRACKING_URI": "nosuchscheme://x"}, 2, "mlflow-tracking-uri", ["MLFLOW_TRACKING_URI"]),
    # MLflow 3 refuses its old file store unless MLFLOW_ALLOW_FILE_STORE is set (mlflow/store/tracking/file_store.py)
    ("2-tracking-uri-file-store", [S2, "--experiment", "churn", "--metric", "auc"],
     {"MLFLOW_TRACKING_URI": "file://{in}/mlruns"}, 2, "mlflow-tracking-uri", ["maintenance mode", "sqlite"]),
    ("4-bad-datasource-type", [S4, "--config", "{in}/cfg_bad_ds_type.json"], {}, 2, "config-bad-value",
     ["ground_truth_type"]),
    ("5-bad-datasource-type", [S5, "--config", "{in}/cfg_bad_ds_type.json"], {}, 2, "config-bad-value",
     ["ground_truth_type"]),
]
for script, extra in ((S4, []), (S5, []), (S6, ["--no-preview"])):
    number = script[0]
    CASES += [
        (f"{number}-latin1-config", [script, *extra, "--config", "{in}/cfg_latin1.json"], {}, 2, "config-not-utf8",
         ["UTF-8"]),
        (f"{number}-folder-config", [script, *extra, "--config", "{in}/a_folder.json"], {}, 2, "config-not-a-file",
         []),
        (f"{number}-loop-config", [script, *extra, "--config", "{in}/loop.json"], {}, 2, "file-link-loop", []),
        (f"{number}-unreadable-config", [script, *extra, "--config", "{in}/unreadable.json"], {}, 2,
         "config-unreadable", []),
    ]
    if script != S6:  # step 6 reports a schema it cannot use as a FAIL in its report: test_step6_reports_...
        CASES += [
            (f"{number}-latin1-schema", [script, *extra, "--config", "{in}/cfg_schema_latin1.json"], {}, 2,
             "schema-not-utf8", ["UTF-8"]),
            (f"{number}-truncated-schema", [script, *extra, "--config", "{in}/cfg_schema_truncated.json"], {}, 2,
             "schema-invalid-json", []),
            (f"{number}-not-a-schema", [script, *extra, "--config", "{in}/cfg_schema_not_schema.json"], {}, 2,
             "schema-malformed", []),
            (f"{number}-folder-schema", [script, *extra, "--config", "{in}/cfg_schema_folder.json"], {}, 2,
             "schema-not-a-file", []),
            (f"{number}-loop-schema", [script, *extra, "--config", "{in}/cfg_schema_loop.json"], {}, 2,
             "file-link-loop", []),
            (f"{number}-unreadable-schema", [script, *extra, "--config", "{in}/cfg_schema_unreadable.json"], {}, 2,
             "schema-unreadable", []),
        ]
BY_ID = {case[0]: case for case in CASES}
# One real subprocess per script; 3-no-terminal in particular needs a real stdin that is not a terminal.
SMOKE = ["1-refused-host", "2-output-dir-is-a-file", "3-no-terminal", "4-refused-host", "5-refused-host",
         "6-bad-start"]


def fill(value: str, inputs: Path) -> str:
    return value.replace("{in}", str(inputs))


def input_files(folder: Path) -> dict[str, str]:
    """The inputs folder's files and their content digests, less the MLflow store a sqlite tracking URI creates."""
    return {str(p.relative_to(folder)): f"link to {os.readlink(p)}" if p.is_symlink()
            else hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "folder"
            for p in sorted(folder.rglob("*")) if p.name != "mlflow.db"}


_mains: dict[str, Callable] = {}


def script_main(script: str) -> Callable:
    """A numbered script's ``main``, loaded from its file once (its name starts with a digit: no plain import)."""
    if script not in _mains:
        spec = importlib.util.spec_from_file_location(f"script_{script[:-3]}", ROOT / script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _mains[script] = module.main
    return _mains[script]


def run_in_process(inputs: Path, argv: list[str], tweaks: dict, monkeypatch) -> tuple[int, DmmError | None]:
    for name in list(os.environ):
        if name.startswith(("DOMINO", "DMM_", "MLFLOW")):
            monkeypatch.delenv(name)
    env = base_env()
    env.update(MLFLOW_QUICK)
    for name, value in tweaks.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = fill(value, inputs)
    for name, value in env.items():
        if name.startswith(("DOMINO", "DMM_", "MLFLOW")):
            monkeypatch.setenv(name, value)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal, and empty: like the subprocess's /dev/null
    monkeypatch.setattr("dmm.redact._registered", set())
    main = script_main(argv[0])
    caught: list[DmmError] = []

    def spy(args):
        try:
            return main(args)
        except DmmError as error:
            caught.append(error)
            raise

    code = run(spy, [fill(arg, inputs) for arg in argv[1:]])
    return code, (caught[0] if caught else None)


# MLflow 2.x (the floor lock) still serves its file store, so only MLflow 3 refuses it
MLFLOW_3_ONLY = pytest.mark.skipif(int(importlib.metadata.version("mlflow").split(".")[0]) < 3,
                                   reason="MLflow 2 accepts its file store")
NEEDS_MLFLOW_3 = {"2-tracking-uri-file-store"}


@pytest.mark.parametrize("argv,tweaks,exit_code,error_code,words",
                         [pytest.param(*case[1:], id=case[0],
                                       marks=[MLFLOW_3_ONLY] if case[0] in NEEDS_MLFLOW_3 else [])
                          for case in CASES])
def test_bad_input_gives_one_plain_sentence_and_changes_nothing(inputs, tmp_path, monkeypatch, capsys, argv,
                                                                tweaks, exit_code, error_code, words):
    monkeypatch.chdir(tmp_path)
    before = input_files(inputs)
    code, error = run_in_process(inputs, argv, tweaks, monkeypatch)
    out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert code == exit_code, out + err
    if error_code is not None:
        assert error is not None and error.code == error_code, (error and error.code, err)
    assert "Traceback" not in out + err
    assert len(errors) == 1, err
    for word in words:
        assert word in errors[0], errors[0]
    assert KEY not in out + err and TOKEN not in out + err
    assert list(tmp_path.iterdir()) == [], "a failed run wrote files"
    assert input_files(inputs) == before


def run_subprocess(inputs: Path, cwd: Path, argv: list[str], tweaks: dict) -> subprocess.CompletedProcess:
    env = base_env()
    for name, value in tweaks.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = fill(value, inputs)
    command = [str(ROOT / argv[0]), *(fill(arg, inputs) for arg in argv[1:])]
    return subprocess.run([sys.executable, *command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("case_id", SMOKE)
def test_each_script_as_a_process_prints_one_error_line_and_exits_with_its_code(inputs, tmp_path, case_id):
    _id, argv, tweaks, exit_code, _error_code, words = BY_ID[case_id]
    before = input_files(inputs)
    result = run_subprocess(inputs, tmp_path, argv, tweaks)
    output = result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert result.returncode == exit_code, output
    assert "Traceback" not in output
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]
    assert KEY not in output and TOKEN not in output
    assert list(tmp_path.iterdir()) == [], "a failed run wrote files"
    assert input_files(inputs) == before


def test_every_script_has_a_smoke_case():
    assert sorted(BY_ID[case][1][0] for case in SMOKE) == [S1, S2, S3, S4, S5, S6]


class _SignInPage(http.server.BaseHTTPRequestHandler):
    """What a front end without the token, or a wrong URL, answers: 200 and a web page."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        page = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Sign in to Domino</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def sign_in_page():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SignInPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/models/m1/latest/model"
    server.shutdown()
    server.server_close()


def test_an_endpoint_answering_a_web_page_is_not_a_model_api_in_step_4(inputs, sign_in_page, tmp_path, monkeypatch,
                                                                       capsys):
    """Issue 11: HTML with 200 used to be counted as 'no event_id: add the capture code to your predict()'."""
    config = json.loads((inputs / "cfg_good.json").read_text())
    config["model_api"]["endpoint_url"] = sign_in_page
    (tmp_path / "cfg").mkdir()
    save_config(config, tmp_path / "cfg" / "monitoring_config.json")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    code, error = run_in_process(inputs, [S4, "--count", "5", "--no-upload", "--config",
                                          str(tmp_path / "cfg" / "monitoring_config.json")], {}, monkeypatch)
    err = capsys.readouterr().err
    assert code == 2 and error is not None and error.code == "model-api-not-a-model-api", err
    assert "not a Model API" in error.message and "capture" not in str(error)
    assert [line for line in err.splitlines() if line.startswith("Error: ")] == [f"Error: {error}"]
    assert list((tmp_path / "work").iterdir()) == [], "nothing is written when the URL is not a Model API"


def test_the_endpoint_probe_of_steps_3_and_6_says_not_a_model_api(sign_in_page, inputs):
    from dmm.checks.probes import probe_endpoint
    from dmm.model_api import ModelApiClient
    from dmm.schema import MonitoringSchema

    schema = MonitoringSchema.load(inputs / "monitoring_schema.json")
    result = probe_endpoint(ModelApiClient(sign_in_page, TOKEN, timeout=5, retries=0), schema,
                            endpoint_url=sign_in_page, token_env="DOMINO_MODEL_API_TOKEN")
    assert not result.ok and "not a Model API" in result.detail and "capture" not in result.detail + result.fix


def test_step_4_refuses_a_file_where_its_ground_truth_folder_goes_before_sending(inputs, tmp_path, monkeypatch,
                                                                                capsys):
    """Issue 11: a file named ground_truth in the current folder used to fail only after every request was sent."""
    (tmp_path / "ground_truth").write_text("not a folder")
    monkeypatch.chdir(tmp_path)
    code, error = run_in_process(inputs, [S4, "--count", "3", "--no-upload", "--config", "{in}/cfg_good.json"], {},
                                 monkeypatch)
    err = capsys.readouterr().err
    assert code == 2 and error is not None and error.code == "output-dir-not-a-folder", err
    assert "Traceback" not in err and "ground_truth" in str(error)
    assert [p.name for p in tmp_path.iterdir()] == ["ground_truth"]
    assert (tmp_path / "ground_truth").read_text() == "not a folder"


@pytest.mark.parametrize("config_name", ["cfg_schema_latin1.json", "cfg_schema_truncated.json",
                                         "cfg_schema_not_schema.json", "cfg_schema_folder.json",
                                         "cfg_schema_loop.json", "cfg_schema_unreadable.json"])
def test_step6_reports_a_schema_it_cannot_use_as_a_plain_fail(inputs, tmp_path, monkeypatch, capsys, config_name):
    """Step 6 is a checker: the schema its config names is checked, not a flag, so a schema it cannot use is a
    FAIL in the report (exit 1) that names the file and the fix, never 'unexpected UnicodeDecodeError'."""
    monkeypatch.chdir(tmp_path)
    code, error = run_in_process(inputs, [S6, "--no-preview", "--config", f"{{in}}/{config_name}"], {}, monkeypatch)
    out, err = capsys.readouterr()
    assert code == 1 and error is None, out + err
    assert "Traceback" not in out + err
    report = json.loads((tmp_path / "monitoring_report.json").read_text())
    failed = [check for check in report["checks"] if check["status"] == "FAIL"]
    schema_path = json.loads((inputs / config_name).read_text())["schema"]["path"]
    about_schema = [check for check in failed if schema_path in check["detail"]]
    assert about_schema, failed
    assert not any("unexpected" in check["detail"] for check in failed), failed
