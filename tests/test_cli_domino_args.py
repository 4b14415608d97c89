"""--trace and --auth: on every numbered script, acted on by dmm.cli.run before the step starts."""

from __future__ import annotations

import json
import os

import pytest
import responses

from dmm import trace
from dmm.auth import METHOD_ENV
from dmm.cli import run
from dmm.errors import ApiError
from dmm.http import ApiClient, build_retry, make_session
from sandbox.testing import load_script

SCRIPTS = ("1_register_training_set", "2_export_model", "3_setup_monitoring", "4_generate_predictions",
           "5_upload_ground_truth", "6_check_monitoring")


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_step_takes_trace_and_auth(name):
    parser = load_script(name).build_parser()
    options = {option for action in parser._actions for option in action.option_strings}
    assert {"--trace", "--auth"} <= options
    with pytest.raises(SystemExit):
        parser.parse_args(["--auth", "password"])


@responses.activate
def test_run_starts_the_trace_for_the_step_and_closes_it(tmp_path, monkeypatch):
    monkeypatch.delenv("DMM_TRACE", raising=False)
    responses.get("https://domino.example.com/version", json={"version": "6.0.0"})
    path = tmp_path / "trace.jsonl"

    def main(argv):
        ApiClient("https://domino.example.com", make_session(retry=build_retry(total=0))).get("/version")
        return 0

    assert run(main, ["--trace", str(path)]) == 0
    assert not trace.active()
    [line] = [json.loads(text) for text in path.read_text().splitlines()]
    assert (line["method"], line["status"]) == ("GET", 200)
    assert line["url"] == "https://domino.example.com/version"


def test_dmm_trace_is_the_default(tmp_path, monkeypatch):
    path = tmp_path / "env-trace.jsonl"
    monkeypatch.setenv("DMM_TRACE", str(path))
    assert run(lambda argv: 0, []) == 0
    assert path.exists()


def test_a_service_error_names_the_trace(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DMM_TRACE", raising=False)
    path = tmp_path / "trace.jsonl"

    def main(argv):
        raise ApiError("Reading the model failed with HTTP 503", "Try again later", status=503)

    assert run(main, ["--trace", str(path)]) == 3
    assert f"The exchanges with Domino are in the trace {path}" in capsys.readouterr().err


def test_auth_flag_overrides_the_configs_method(monkeypatch):
    monkeypatch.setenv(METHOD_ENV, "auto")
    seen = []
    assert run(lambda argv: seen.append(os.environ[METHOD_ENV]) or 0, ["--auth", "token-file"]) == 0
    assert seen == ["token-file"]
    assert os.environ[METHOD_ENV] == "auto"  # for that run only
