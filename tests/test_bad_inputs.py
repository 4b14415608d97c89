"""Every script, every bad input of issue 2, run for real as a subprocess: one ``Error:`` sentence, the right exit
code, no traceback, no secret, and nothing written or sent.

Service-touching cases point at http://127.0.0.1:9 (refused at once) or an ``.invalid`` host (never resolves), so
nothing can be sent anywhere; files written in the working folder are checked as well.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from config_loader import save_config
from dmm.training_set import RegisteredVersion, plan_training_set, schema_from_plan
from example.data import write_dataset

ROOT = Path(__file__).resolve().parent.parent
KEY, TOKEN = "bad-inputs-api-key-0a1b2c3d", "bad-inputs-token-4e5f6a7b"
REFUSED = "http://127.0.0.1:9"
UNRESOLVABLE = "http://domino.invalid"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bad-inputs")
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
    return folder


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOMINO", "DMM_", "MLFLOW"))}
    env.update(DOMINO_USER_API_KEY=KEY, DOMINO_MODEL_API_TOKEN=TOKEN, DOMINO_API_HOST=REFUSED,
               DOMINO_PROJECT_ID="p1", DOMINO_DATASOURCE_PROXY_HOST=REFUSED,
               DOMINO_DATASOURCE_PROXY_FLIGHT_HOST="grpc://127.0.0.1:9")
    return env


S1, S2, S3 = "1_register_training_set.py", "2_export_model.py", "3_setup_monitoring.py"
S4, S5, S6 = "4_generate_predictions.py", "5_upload_ground_truth.py", "6_check_monitoring.py"
NO_KEY = {"DOMINO_USER_API_KEY": None}
WIZARD = ["--yes", "--base-url", REFUSED, "--model-id", "m", "--endpoint-url", f"{REFUSED}/models/x/latest/model",
          "--datasource", "gt", "--schema", "{in}/monitoring_schema.json"]


def step1(file: str, *extra: str, target: str = "churned", name: str = "churn-baseline") -> list[str]:
    return [S1, "--file", file, "--name", name, "--target", target, *extra, "--yes"]


# (id, argv ({in} is the inputs folder), env tweaks (None removes), exit code, words expected in the message)
CASES = [
    ("1-missing-file", step1("{in}/nope.csv"), {}, 2, ["does not exist", "--file"]),
    ("1-empty-file", step1("{in}/empty.csv"), {}, 2, ["is empty"]),
    ("1-header-only", step1("{in}/header_only.csv"), {}, 2, ["no data rows"]),
    ("1-target-not-a-column", step1("{in}/train.csv", target="churn"), {}, 2, ["'churn'", "--target"]),
    ("1-invalid-name", step1("{in}/train.csv", name="churn baseline!"), {}, 2, ["not allowed", "--name churn_baseline"]),
    ("1-string-target-regression", step1("{in}/train.csv", "--model-type", "regression"), {}, 2,
     ["regression", "--model-type classification"]),
    ("1-single-class", step1("{in}/single_class.csv"), {}, 2, ["single class"]),
    ("1-duplicate-columns", step1("{in}/dups.csv"), {}, 2, ["'a' more than once"]),
    ("1-folder-as-file", step1("{in}/a_folder.csv"), {}, 2, ["not a file"]),
    ("1-garbage-parquet", step1("{in}/garbage.parquet"), {}, 2, ["could not be read as Parquet"]),
    ("1-missing-api-key", step1("{in}/train.csv"), NO_KEY, 2, ["DOMINO_USER_API_KEY is not set"]),
    ("1-no-host", step1("{in}/train.csv"), {"DOMINO_API_HOST": None}, 2, ["DOMINO_API_HOST is not set"]),
    ("1-refused-host", step1("{in}/train.csv"), {}, 3, ["could not reach", "DOMINO_API_HOST"]),
    ("1-unresolvable-host", step1("{in}/train.csv"), {"DOMINO_API_HOST": UNRESOLVABLE}, 3, ["could not reach"]),
    ("2-no-selector", [S2], {}, 2, ["--run-id", "--experiment"]),
    ("2-unknown-experiment", [S2, "--experiment", "nope", "--metric", "auc"],
     {"MLFLOW_TRACKING_URI": "sqlite:///{in}/mlflow.db"}, 2, ["No MLflow experiment named 'nope'"]),
    ("2-refused-tracking-server", [S2, "--experiment", "nope", "--metric", "auc"],
     {"MLFLOW_TRACKING_URI": REFUSED}, 3, ["Could not reach the MLflow tracking server", "MLFLOW_TRACKING_URI"]),
    ("3-placeholder-offline", [S3, "--offline", *WIZARD[:4], "YOUR_MODEL_MONITOR_ID", *WIZARD[5:]], {}, 2,
     ["placeholder", "--model-id"]),
    ("3-no-scheme-offline", [S3, "--offline", "--yes", "--base-url", "domino.example.com", *WIZARD[3:]], {}, 2,
     ["http(s) URL", "--base-url"]),
    ("3-missing-schema-offline", [S3, "--offline", *WIZARD[:-1], "{in}/nope.json"], {}, 2,
     ["No monitoring schema", "1_register_training_set.py"]),
    ("3-test-data-header-only", [S3, "--offline", *WIZARD, "--test-data", "{in}/header_only.csv"], {}, 2,
     ["no data rows"]),
    ("3-refused-host", [S3, *WIZARD], {}, 3, ["Could not reach Domino"]),
    ("3-unresolvable-host", [S3, "--yes", "--base-url", UNRESOLVABLE, *WIZARD[3:]], {}, 3, ["Could not reach Domino"]),
    ("3-missing-api-key", [S3, *WIZARD], NO_KEY, 2, ["DOMINO_USER_API_KEY", "--offline"]),
    ("3-broken-config", [S3, "--offline", "--yes", "--config", "{in}/cfg_broken.json"], {}, 2, ["not valid JSON"]),
    ("3-no-terminal", [S3, "--offline"], {}, 2, ["--yes"]),
    ("4-missing-token", [S4, "--count", "3", "--config", "{in}/cfg_good.json"], {"DOMINO_MODEL_API_TOKEN": None}, 2,
     ["DOMINO_MODEL_API_TOKEN", "not set"]),
    ("4-missing-api-key", [S4, "--count", "3", "--config", "{in}/cfg_good.json"], NO_KEY, 2,
     ["DOMINO_USER_API_KEY is not set"]),
    ("4-no-datasource-proxy", [S4, "--count", "3", "--config", "{in}/cfg_good.json"],
     {"DOMINO_DATASOURCE_PROXY_FLIGHT_HOST": None}, 2, ["DOMINO_DATASOURCE_PROXY_FLIGHT_HOST is not set"]),
    ("4-refused-host", [S4, "--count", "3", "--config", "{in}/cfg_good.json"], {}, 3, ["Could not reach Domino"]),
    ("4-header-only", [S4, "--count", "3", "--config", "{in}/cfg_good.json", "--file", "{in}/header_only.csv"], {},
     2, ["no data rows"]),
    ("4-duplicate-columns", [S4, "--count", "3", "--config", "{in}/cfg_good.json", "--file", "{in}/dups.csv"], {},
     2, ["more than once"]),
    ("4-label-not-a-column", [S4, "--count", "3", "--config", "{in}/cfg_good.json", "--label-column", "nope"], {},
     2, ["'nope'", "--label-column"]),
    ("4-count-zero", [S4, "--count", "0", "--config", "{in}/cfg_good.json"], {}, 2, ["--count"]),
    ("5-file-dup-ids", [S5, "--config", "{in}/cfg_good.json", "--file", "{in}/gt_dup_ids.csv"], {}, 2,
     ["repeats", "event id"]),
    ("5-file-no-id-column", [S5, "--config", "{in}/cfg_good.json", "--file", "{in}/gt_no_id.csv"], {}, 2,
     ["no column 'event_id'", "--id-column"]),
    ("5-file-bad-label", [S5, "--config", "{in}/cfg_good.json", "--file", "{in}/gt_bad_label.csv"], {}, 2,
     ["maybe", "not classes"]),
    ("5-file-garbage", [S5, "--config", "{in}/cfg_good.json", "--file", "{in}/garbage.parquet"], {}, 2,
     ["Parquet"]),
    ("5-bad-date", [S5, "--config", "{in}/cfg_good.json", "--start-date", "2024-13-01"], {}, 2, ["YYYY-MM-DD"]),
    ("5-refused-host", [S5, "--config", "{in}/cfg_good.json"], {}, 3, ["Could not reach Domino"]),
    ("6-output-dir-is-a-file", [S6, "--config", "{in}/cfg_good.json", "--no-preview", "--output-dir",
                                "{in}/train.csv"], {}, 2, ["not a folder", "--output-dir"]),
    ("6-bad-start", [S6, "--config", "{in}/cfg_good.json", "--start", "yesterday"], {}, 2, ["--start"]),
]
for script, extra in ((S4, ["--count", "3"]), (S5, [])):
    number = script[0]
    CASES += [
        (f"{number}-no-config", [script, *extra], {}, 2, ["No monitoring_config.json found", "3_setup_monitoring.py"]),
        (f"{number}-placeholder-config", [script, *extra], {"DMM_CONFIG": "{in}/cfg_placeholder.json"}, 2,
         ["model_monitor.model_id", "placeholder"]),
        (f"{number}-unknown-key-config", [script, *extra, "--config", "{in}/cfg_unknown.json"], {}, 2,
         ["unknown key model_api.tokne"]),
        (f"{number}-broken-config", [script, *extra, "--config", "{in}/cfg_broken.json"], {}, 2, ["not valid JSON"]),
        (f"{number}-unresolvable-host", [script, *extra, "--config", "{in}/cfg_unresolvable.json"],
         {"DOMINO_API_HOST": UNRESOLVABLE, "DOMINO_DATASOURCE_PROXY_HOST": UNRESOLVABLE}, 3, ["Could not reach"]),
    ]


def run_case(inputs: Path, cwd: Path, argv: list[str], tweaks: dict) -> subprocess.CompletedProcess:
    env = base_env()
    for name, value in tweaks.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value.replace("{in}", str(inputs))
    argv = [arg.replace("{in}", str(inputs)) for arg in argv]
    command = argv if argv[0] == "-m" else [str(ROOT / argv[0]), *argv[1:]]
    return subprocess.run([sys.executable, *command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("argv,tweaks,code,words", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_gives_one_plain_sentence_and_changes_nothing(inputs, tmp_path, argv, tweaks, code, words):
    before = input_files(inputs)
    result = run_case(inputs, tmp_path, argv, tweaks)
    output = result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert result.returncode == code, output
    assert "Traceback" not in output
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]
    assert KEY not in output and TOKEN not in output
    assert list(tmp_path.iterdir()) == [], "a failed run wrote files"
    assert input_files(inputs) == before


def input_files(folder: Path) -> list[str]:
    """The inputs folder's files, less the MLflow store that opening a sqlite tracking URI creates."""
    return sorted(p.name for p in folder.iterdir() if p.name != "mlflow.db")


def test_export_to_a_file_instead_of_a_folder_is_refused_before_writing(inputs, tmp_path):
    tracking = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    trained = run_case(inputs, tmp_path, ["-m", "example.train", "--data-dir", "{in}", "--experiment", "churn",
                                          "--trees", "3"], tracking)
    assert trained.returncode == 0, trained.stderr
    target = inputs / "train.csv"
    before = target.read_bytes()
    result = run_case(inputs, tmp_path, [S2, "--experiment", "churn", "--metric", "roc_auc", "--output-dir",
                                         str(target)], tracking)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(errors) == 1
    assert "not a folder" in errors[0] and "--output-dir" in errors[0]
    assert target.read_bytes() == before
