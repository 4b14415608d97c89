"""Step 3's wizard (dmm/wizard.py through 3_setup_monitoring.main): flags, prompts, live checks, writing."""

from __future__ import annotations

import importlib.util
import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import responses
from requests.exceptions import ConnectionError as RequestsConnectionError

import dmm.config as config_module
from config_loader import load_config
from dmm.cli import run
from dmm.http import build_retry, make_session
from dmm.schema import Feature, MonitoringSchema
from dmm.wizard import QUESTIONS, LiveChecks

ROOT = Path(__file__).resolve().parent.parent
BASE = "https://domino.example.com"
API = f"{BASE}/model-monitor/v2/api"
ENDPOINT = f"{BASE}/models/abc/latest/model"
KEY = "wizard-api-key-0123456789"
TOKEN = "wizard-model-token-987654"
ENV = {"DOMINO_USER_API_KEY": KEY, "DOMINO_MODEL_API_TOKEN": TOKEN, "DOMINO_API_HOST": BASE}

_spec = importlib.util.spec_from_file_location("setup_monitoring", ROOT / "3_setup_monitoring.py")
setup_monitoring = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(setup_monitoring)

FULL_FLAGS = ["--base-url", BASE, "--model-id", "m1", "--endpoint-url", ENDPOINT, "--datasource", "gt"]


@pytest.fixture(autouse=True)
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(config_module, "DEFAULT_SEARCH_DIRS", (tmp_path / "mnt",))
    MonitoringSchema(
        training_set_name="churn", training_set_version=1, model_type="classification", target="churned",
        features=(Feature("tenure", "numerical", "float64", 3.5), Feature("plan", "categorical", "object", "basic")),
        class_labels=(0, 1)).save(tmp_path / "monitoring_schema.json")
    return tmp_path


class Script:
    """A scripted terminal: answers in order, prompts and printed lines recorded."""

    def __init__(self, *answers: str, secrets: tuple[str, ...] = ()) -> None:
        self.answers = list(answers)
        self.secrets = list(secrets)  # what is typed at hidden prompts (getpass)
        self.prompts: list[str] = []
        self.hidden_prompts: list[str] = []
        self.printed: list[str] = []

    def getpass(self, prompt: str) -> str:
        self.hidden_prompts.append(prompt)
        if not self.secrets:
            raise EOFError(prompt)
        return self.secrets.pop(0)

    def input(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if not self.answers:
            raise EOFError(prompt)
        return self.answers.pop(0)

    def print(self, text: str = "") -> None:
        self.printed.append(str(text))

    @property
    def output(self) -> str:
        return "\n".join(self.prompts + self.printed)


class DominoDataSources:
    """Domino's data sources as the wizard sees them (``DataSources.exists``)."""

    def __init__(self, *names: str) -> None:
        self.names = names

    def exists(self, name: str) -> bool:
        return name in self.names


def checks(domino_sources=("gt",)) -> LiveChecks:
    return LiveChecks(session_factory=lambda: make_session(retry=build_retry(total=0)),
                      datasources=DominoDataSources(*domino_sources))


def mock_domino(rsps: responses.RequestsMock, models=("m1",), dmm_sources=("gt",), endpoint_event_id="ev-1"):
    rsps.get(f"{BASE}/version", json={"version": "6.0.0"})
    rsps.get(f"{API}/datasources", json=[{"name": name, "type": "generic_s3"} for name in dmm_sources])

    def model(request):  # every lookup of a known model answers it (the identity check asks too)
        model_id = request.params.get("model_id")
        if model_id in models:
            return 200, {"Content-Type": "application/json"}, json.dumps({"id": model_id, "name": "churn"})
        return 404, {"Content-Type": "application/json"}, json.dumps({"message": "Model not found"})

    rsps.add_callback(responses.GET, f"{API}/model", callback=model)
    result = {"churned": 1, **({"event_id": endpoint_event_id} if endpoint_event_id else {})}
    rsps.post(ENDPOINT, json={"result": result, "request_id": "REQ", "model_time_in_ms": 3},
              match=[probe_body({"tenure": 3.5, "plan": "basic"})])


def probe_body(features):
    """The probe sends the sample row and an event id of its own (recognisable: dmm-probe-...)."""
    def match(request):
        data = dict(json.loads(request.body)["data"])
        event_id = str(data.pop("event_id", ""))
        return data == features and event_id.startswith("dmm-probe-"), f"probe body {data} / {event_id!r}"
    return match


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def run_script(argv, script: Script | None = None, env=ENV, live=None):
    script = script or Script()
    code = run(lambda args: setup_monitoring.main(args, input_fn=script.input, print_fn=script.print, env=env,
                                                  checks=live or checks(), getpass_fn=script.getpass), argv)
    return code, script


# --- unattended --------------------------------------------------------------------------------------------

def test_flags_yes_offline_write_a_valid_config(workdir):
    test_file = workdir / "data" / "test.csv"
    test_file.parent.mkdir()
    test_file.write_text("tenure,plan,churned\n1,basic,0\n")
    code, script = run_script(FULL_FLAGS + ["--yes", "--offline", "--test-data", "data/test.csv",
                                            "--label-column", "churned", "--datasource-type", "azure_blob"], env={})
    assert code == 0, script.output
    assert script.prompts == []
    config = load_config(workdir / "monitoring_config.json", env={})
    assert config.domino_base_url == BASE and config.model_monitor_id == "m1"
    assert config.model_api_url == ENDPOINT and config.ground_truth_datasource == "gt"
    assert config.ground_truth_datasource_type == "azure_blob"
    assert config.test_data_path == test_file and config.test_label_column == "churned"
    assert config.schema_path == workdir / "monitoring_schema.json"
    assert config.stored_token == ""
    assert f"Wrote {workdir / 'monitoring_config.json'}." in script.printed
    assert "Next step: python 4_generate_predictions.py --count 100" in script.printed


def test_yes_with_live_checks_writes_config(workdir, mocked):
    mock_domino(mocked)
    code, script = run_script(FULL_FLAGS + ["--yes"])
    assert code == 0, script.output
    data = json.loads((workdir / "monitoring_config.json").read_text())
    assert data["data_sources"]["ground_truth_type"] == "generic_s3"  # taken from Model Monitor's record
    assert data["model_api"]["token"] == ""
    assert "ev-1" in script.output
    assert KEY not in script.output and TOKEN not in script.output


def test_output_elsewhere_names_the_config_in_the_next_step(workdir):
    code, script = run_script(FULL_FLAGS + ["--yes", "--offline", "--output", "conf/mc.json"], env={})
    assert code == 0
    assert (workdir / "conf" / "mc.json").is_file()
    assert any("--config" in line and "mc.json" in line for line in script.printed)
    assert load_config(workdir / "conf" / "mc.json", env={}).schema_path == workdir / "monitoring_schema.json"


@pytest.mark.parametrize("flags,expected_code,expected_text", [
    (["--model-id", "nope"], 2, "model_monitor.model_id"),
    (["--datasource", "not-in-dmm"], 2, "Model Monitor has no data source named 'not-in-dmm'"),
    (["--datasource", "only-dmm"], 2, "Domino has no data source named 'only-dmm'"),
])
def test_unattended_failed_check_exits_with_one_sentence_and_writes_nothing(workdir, mocked, capsys, flags,
                                                                            expected_code, expected_text):
    mock_domino(mocked, dmm_sources=("gt", "only-dmm"))
    argv = FULL_FLAGS + ["--yes"] + flags
    code, script = run_script(argv, live=checks(domino_sources=("gt", "not-in-dmm")))
    err = capsys.readouterr().err.strip()
    assert code == expected_code
    assert expected_text in err and err.startswith("Error: ") and "\n" not in err
    assert "Traceback" not in err and KEY not in err
    assert not (workdir / "monitoring_config.json").exists()


def test_unreachable_domino_exits_3(workdir, mocked, capsys):
    mocked.get(f"{BASE}/version", body=RequestsConnectionError("refused"))
    code, _ = run_script(FULL_FLAGS + ["--yes"])
    err = capsys.readouterr().err
    assert code == 3 and "Could not reach Domino" in err and "external Domino URL" in err
    assert not (workdir / "monitoring_config.json").exists()


def test_rejected_api_key_names_the_variable(workdir, mocked, capsys):
    mocked.get(f"{BASE}/version", status=401, json={"message": "Unauthorized"})
    code, _ = run_script(FULL_FLAGS + ["--yes"])
    assert code == 2 and "DOMINO_USER_API_KEY" in capsys.readouterr().err


def test_endpoint_without_event_id_fails(workdir, mocked, capsys):
    mock_domino(mocked, endpoint_event_id=None)
    code, _ = run_script(FULL_FLAGS + ["--yes"])
    err = capsys.readouterr().err
    assert code != 0 and "event_id" in err and "prediction_capture_example.py" in err
    assert not (workdir / "monitoring_config.json").exists()


def test_missing_api_key_without_offline_is_a_usage_error(workdir, capsys):
    code, _ = run_script(FULL_FLAGS + ["--yes"], env={"DOMINO_MODEL_API_TOKEN": TOKEN})
    assert code == 2 and "DOMINO_USER_API_KEY" in capsys.readouterr().err


def test_missing_answer_with_yes_names_the_flag(workdir, capsys):
    code, _ = run_script(["--yes", "--offline", "--base-url", BASE], env={})
    err = capsys.readouterr().err
    assert code == 2 and "model_monitor.model_id" in err and "--model-id" in err


def test_dry_run_writes_nothing_and_masks_the_token(workdir, mocked):
    mock_domino(mocked)
    code, script = run_script(FULL_FLAGS + ["--yes", "--dry-run", "--store-token"])
    assert code == 0
    assert not (workdir / "monitoring_config.json").exists()
    assert '"model_id": "m1"' in script.output
    assert TOKEN not in script.output and "****" in script.output


def test_store_token_writes_0600_and_warns(workdir, mocked):
    mock_domino(mocked)
    code, script = run_script(FULL_FLAGS + ["--yes", "--store-token"])
    path = workdir / "monitoring_config.json"
    assert code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["model_api"]["token"] == TOKEN
    assert any(line.startswith("Warning:") and "0600" in line for line in script.printed)
    assert TOKEN not in script.output


# --- interactive -------------------------------------------------------------------------------------------

def test_failed_check_asks_the_same_question_again(workdir, mocked):
    mock_domino(mocked)
    script = Script(
        "",            # 1 base url: default from DOMINO_API_HOST
        "wrong-id",    # 2 model id -> 404
        "m1",          # 2 again
        "",            # 3 schema: default
        "",            # 4 token env: default
        ENDPOINT,      # 5 endpoint
        "gt",          # 6 data source
        "",            # 7 type: from Model Monitor
        "",            # 8 no test data
        "",            # confirm
    )
    code, script = run_script([], script)
    assert code == 0, script.output
    model_prompts = [i for i, prompt in enumerate(script.prompts) if prompt.startswith("Model Monitor model id")]
    assert model_prompts == [1, 2]
    assert script.prompts[2] == "Model Monitor model id (from the monitor's page URL): "  # rejected: no default
    assert any("Problem:" in line and "model_monitor.model_id" in line for line in script.printed)
    assert script.prompts[0].endswith(f"[{BASE}]: ")
    assert script.prompts[-1].startswith("Write ")
    config = load_config(workdir / "monitoring_config.json", env={})
    assert config.model_monitor_id == "m1" and config.ground_truth_datasource_type == "generic_s3"


def test_prompts_follow_the_documented_order(workdir, mocked):
    mock_domino(mocked)
    test_file = workdir / "test.csv"
    test_file.write_text("tenure,plan,churned\n1,basic,0\n")
    script = Script("", "m1", "", "", ENDPOINT, "gt", "", "test.csv", "wrong", "churned", "n")
    code, script = run_script([], script)
    assert code == 0
    expected = [q.prompt for q in QUESTIONS if q.asked]
    asked = [prompt.split(" [")[0].rstrip(": ") for prompt in script.prompts]
    assert asked[:8] == expected[:8]
    assert asked[8] == asked[9] == expected[8]  # label column asked again after "wrong"
    assert script.prompts[9].startswith("Label column of the test data [churned]")  # not "wrong"
    assert asked[10].startswith("Write ")
    assert "Nothing written." in script.printed
    assert not (workdir / "monitoring_config.json").exists()


def test_flag_answers_are_not_asked_unless_their_check_fails(workdir, mocked):
    mock_domino(mocked)
    script = Script("m1", "")  # the model id again (the flag's value failed), then confirm
    flags = ["--base-url", BASE, "--model-id", "nope", "--schema", "monitoring_schema.json", "--token-env",
             "DOMINO_MODEL_API_TOKEN", "--endpoint-url", ENDPOINT, "--datasource", "gt", "--datasource-type", "s3",
             "--test-data", ""]
    code, script = run_script(flags, script)
    assert code == 0, script.output
    assert len(script.prompts) == 2
    assert script.prompts[0] == "Model Monitor model id (from the monitor's page URL): "  # the flag's "nope" failed
    assert script.prompts[1].startswith("Write ")
    assert load_config(workdir / "monitoring_config.json", env={}).model_monitor_id == "m1"


def test_starts_from_an_existing_config(workdir, mocked):
    existing = workdir / "old.json"
    config_module.save_config({"domino": {"base_url": BASE}, "model_monitor": {"model_id": "m1"},
                               "model_api": {"endpoint_url": ENDPOINT, "timeout": 12},
                               "data_sources": {"ground_truth": "gt", "ground_truth_prefix": "labels"}}, existing)
    mock_domino(mocked)
    script = Script(*[""] * 9)
    code, script = run_script(["--config", str(existing)], script)
    assert code == 0, script.output
    config = load_config(workdir / "monitoring_config.json", env={})
    assert (config.model_monitor_id, config.model_api_timeout, config.ground_truth_prefix) == ("m1", 12, "labels")
    assert script.prompts[1].endswith("[m1]: ")


# --- help ----------------------------------------------------------------------------------------------------

def test_help_documents_every_flag():
    result = subprocess.run([sys.executable, str(ROOT / "3_setup_monitoring.py"), "--help"], capture_output=True,
                            text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0
    flags = ["--base-url", "--endpoint-url", "--token-env", "--model-id", "--datasource", "--datasource-type",
             "--test-data", "--label-column", "--schema", "--output", "--config", "--offline", "--yes",
             "--dry-run", "--store-token"]
    for flag in flags:
        assert f"{flag} " in result.stdout or f"{flag}\n" in result.stdout, flag
    for question in QUESTIONS:
        assert question.flag in result.stdout


# --- hosts and auth (issue 8) --------------------------------------------------------------------------------

INTERNAL = "http://nucleus-frontend.domino-platform:80"


def test_an_internal_domino_api_host_is_not_proposed_when_model_monitor_does_not_answer_there(workdir, mocked):
    mocked.get(f"{INTERNAL}/version", json={"version": "6.0.0"})
    mocked.get(f"{INTERNAL}/model-monitor/v2/api/model", status=404, body="<html>no</html>", content_type="text/html")
    mock_domino(mocked)
    script = Script(BASE, "m1", "", "", ENDPOINT, "gt", "", "", "")
    code, script = run_script([], script, env={**ENV, "DOMINO_API_HOST": INTERNAL})
    assert code == 0, script.output
    assert script.prompts[0].endswith("(Model Monitor needs the external URL): ")  # nothing proposed
    assert any("internal address where Model Monitor does not answer" in line and "address bar" in line
               for line in script.printed)
    assert load_config(workdir / "monitoring_config.json", env={}).domino_base_url == BASE


def test_an_internal_host_where_model_monitor_answers_is_proposed(workdir, mocked):
    def model(request):
        return 404, {"Content-Type": "application/json"}, json.dumps({"message": "Model not found"})

    mocked.get(f"{INTERNAL}/version", json={"version": "6.0.0"})
    mocked.add_callback(responses.GET, f"{INTERNAL}/model-monitor/v2/api/model", callback=model)
    code, script = run_script([], Script(""), env={**ENV, "DOMINO_API_HOST": INTERNAL})
    assert code == 2  # the answers ran out at the model id, which this fake Model Monitor does not know
    assert script.prompts[0].endswith(f"[{INTERNAL}]: ")
    assert not any("internal address" in line for line in script.printed)


def test_offline_an_internal_host_is_not_proposed(workdir):
    code, script = run_script(["--offline", "--yes"] + FULL_FLAGS[2:], env={**ENV, "DOMINO_API_HOST": INTERNAL})
    assert code == 2 and script.prompts == []  # unattended: the missing answer is an error, not the internal host
    assert any("internal address where Model Monitor is usually not served" in line for line in script.printed)


def test_auth_flag_is_used_named_and_written_to_the_config(workdir, mocked, monkeypatch, capsys):
    monkeypatch.setenv("DMM_DOMINO_AUTH_METHOD", "auto")  # --auth sets it for the process; restored after the test
    mock_domino(mocked)
    keyless = {k: v for k, v in ENV.items() if k != "DOMINO_USER_API_KEY"}
    code, _script = run_script(FULL_FLAGS + ["--yes", "--auth", "api-key"], env=keyless)
    assert code == 2
    assert "The auth method 'api-key' was chosen but DOMINO_USER_API_KEY is not set" in capsys.readouterr().err
    code, script = run_script(FULL_FLAGS + ["--yes", "--auth", "api-key", "--test-data", ""])
    assert code == 0, script.output
    assert "Reaching Domino with the user API key from $DOMINO_USER_API_KEY" in script.printed
    monitor_calls = [call for call in mocked.calls if "/model-monitor/" in call.request.url]
    assert monitor_calls and all(call.request.headers.get("X-Domino-Api-Key") == KEY for call in monitor_calls)
    assert load_config(workdir / "monitoring_config.json", env={}).data["domino"]["auth_method"] == "api-key"


def test_auth_token_env_flag_is_checked_used_and_written_without_its_value(workdir, mocked, monkeypatch, capsys):
    monkeypatch.delenv("DMM_DOMINO_AUTH_TOKEN_ENV", raising=False)
    mock_domino(mocked)
    token = "sa-token-abcdef0123456789"
    keyless = {k: v for k, v in ENV.items() if k != "DOMINO_USER_API_KEY"}
    code, script = run_script(FULL_FLAGS + ["--yes", "--auth", "token", "--auth-token-env", "SA_TOKEN",
                                            "--test-data", ""], env=keyless)
    assert code == 2 and capsys.readouterr().err.startswith("Error: --auth-token-env names SA_TOKEN, which is not set")
    assert not (workdir / "monitoring_config.json").exists()
    code, script = run_script(FULL_FLAGS + ["--yes", "--auth-token-env", "not a name"], env=keyless)
    assert code == 2 and "is not an environment variable name" in capsys.readouterr().err

    code, script = run_script(FULL_FLAGS + ["--yes", "--auth", "token", "--auth-token-env", "SA_TOKEN",
                                            "--test-data", ""], env={**keyless, "SA_TOKEN": token})
    assert code == 0, script.output
    assert "Reaching Domino with an access token from $SA_TOKEN" in script.printed
    monitor_calls = [call for call in mocked.calls if "/model-monitor/" in call.request.url]
    assert monitor_calls and all(call.request.headers.get("Authorization") == f"Bearer {token}"
                                 for call in monitor_calls)
    text = (workdir / "monitoring_config.json").read_text()
    assert token not in text and token not in script.output
    domino = load_config(workdir / "monitoring_config.json", env={}).data["domino"]
    assert (domino["auth_method"], domino["auth_token_env"]) == ("token", "SA_TOKEN")
    assert "DMM_DOMINO_AUTH_TOKEN_ENV" not in __import__("os").environ  # the flag acts for one run only


def test_the_model_monitor_data_source_may_carry_another_name(workdir, mocked, capsys):
    """Domino's data source and Model Monitor's are separate objects (a public Domino demo uploads through
    demo-bucket and registers se-demo-bucket): the wizard checks Model Monitor's list for the name it will register."""
    mock_domino(mocked, dmm_sources=("se-gt",))
    code, script = run_script(FULL_FLAGS + ["--yes", "--test-data", ""])
    assert code == 2 and "Model Monitor has no data source named 'gt'" in capsys.readouterr().err
    code, script = run_script(FULL_FLAGS + ["--yes", "--test-data", "", "--monitor-datasource", "se-gt"])
    assert code == 0, script.output
    assert "Data source 'gt' is in Domino and 'se-gt' in Model Monitor" in "\n".join(script.printed)
    config = load_config(workdir / "monitoring_config.json", env={})
    assert (config.ground_truth_datasource, config.model_monitor_datasource) == ("gt", "se-gt")
    (workdir / "monitoring_config.json").unlink()
    interactive = Script("", "m1", "", "", ENDPOINT, "gt", "se-gt", "", "", "")  # asked only after its check failed
    code, interactive = run_script([], interactive)
    assert code == 0, interactive.output
    assert any(p.startswith("Its name in Model Monitor") for p in interactive.prompts)
