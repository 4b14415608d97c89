"""Step 3's wizard helping (issue 12): defaults after a rejected answer, a hidden prompt for a missing token,
discovery of models and data sources with "did you mean", an endpoint id recognised, the endpoint URL filled from
the monitor's record, and the wrong prediction name caught at step 3. Driven through the prompt layer."""

from __future__ import annotations

import base64
import json
import stat

import pytest
import responses
from test_wizard import API, BASE, ENDPOINT, ENV, TOKEN, Script, checks, mock_domino, probe_body, run_script, workdir

from config_loader import load_config
from dmm import wizard_discovery as discovery

__all__ = ["workdir"]  # the autouse fixture: a temporary folder holding a monitoring schema

MONITOR = {"id": "65a1b2c3d4", "name": "churn", "version": "2", "sourceType": "domino_workbench",
           "sourceDetails": {"workbenchModelId": "abc", "workbenchModelVersionId": "v-abc-2"}}
OTHER = {"id": "77ffee0011", "name": "fraud", "version": "1"}


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def mock_monitor(rsps, models=(MONITOR, OTHER), dmm_sources=("gt",), listing_status=200):
    """Domino and Model Monitor with ``models`` (listed by GET /models and each found by GET /model)."""
    mock_domino(rsps, models=tuple(m["id"] for m in models), dmm_sources=dmm_sources)
    if listing_status == 200:
        rsps.get(f"{API}/models", json={"modelDashboardItems": list(models)})
    else:
        rsps.get(f"{API}/models", status=listing_status, json={"message": "Forbidden"})
    records = {m["id"]: m for m in models}

    def model(request):
        record = records.get(request.params.get("model_id"))
        if record is None:
            return 404, {"Content-Type": "application/json"}, json.dumps({"message": "Model not found"})
        return 200, {"Content-Type": "application/json"}, json.dumps(record)

    rsps.remove(responses.GET, f"{API}/model")  # the callback below replaces mock_domino's one
    rsps.add_callback(responses.GET, f"{API}/model", callback=model)


def test_an_endpoint_id_given_for_the_monitor_id_is_recognised_and_its_monitor_proposed(mocked):
    mock_monitor(mocked)
    script = Script("", "abc", "", "", "", "", "gt", "", "", "")
    code, script = run_script([], script)
    assert code == 0, script.output
    problem = next(line for line in script.printed if "Problem:" in line)
    assert "'abc' is the id of an endpoint" in problem and "65a1b2c3d4" in problem
    assert script.prompts[2].endswith("[65a1b2c3d4]: ")  # the monitor id, not the rejected "abc"
    assert any("Model Monitor models this identity can see: 65a1b2c3d4 (churn v2), 77ffee0011 (fraud v1)" in line
               for line in script.printed)
    endpoint_prompt = next(p for p in script.prompts if p.startswith("Endpoint URL"))
    assert endpoint_prompt.endswith(f"[{ENDPOINT}]: ")  # filled from the monitor's sourceDetails.workbenchModelId
    config = load_config(workdir_config(), env={})
    assert config.model_monitor_id == "65a1b2c3d4" and config.model_api_url == ENDPOINT


def workdir_config():
    from pathlib import Path
    return Path.cwd() / "monitoring_config.json"


@pytest.mark.parametrize("answer,said", [
    ("65a1b2c3d5", "Did you mean 65a1b2c3d4 (churn v2)?"),
    ("churn", "'churn' is the name of a Model Monitor model, not its id"),
])
def test_a_near_miss_or_a_name_proposes_the_model_id(mocked, answer, said):
    mock_monitor(mocked)
    code, script = run_script([], Script("", answer, "", "", "", "", "gt", "", "", ""))
    assert code == 0, script.output
    assert any("Problem:" in line and said in line for line in script.printed), script.output
    assert script.prompts[2].endswith("[65a1b2c3d4]: ")


def test_unattended_the_hint_is_in_the_one_error_sentence(mocked, capsys):
    mock_monitor(mocked)
    code, _ = run_script(["--yes", "--base-url", BASE, "--model-id", "abc", "--endpoint-url", ENDPOINT,
                          "--datasource", "gt"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("Error: ") and "\n" not in err
    assert "'abc' is the id of an endpoint" in err and "65a1b2c3d4" in err
    assert not workdir_config().exists()


def test_a_listing_the_identity_may_not_read_leaves_the_plain_question(mocked):
    mock_monitor(mocked, listing_status=403)
    code, script = run_script([], Script("", "nope", MONITOR["id"], "", "", "", "gt", "", "", ""))
    assert code == 0, script.output
    assert not any("models this identity can see" in line for line in script.printed)
    assert script.prompts[2] == "Model Monitor model id (from the monitor's page URL): "


def test_a_data_source_near_miss_is_named_and_proposed(mocked):
    mock_monitor(mocked, dmm_sources=("gt-store", "other"))
    live = checks(domino_sources=("gt-store", "other"))
    code, script = run_script([], Script("", MONITOR["id"], "", "", "", "gt-stor", "", "", "", ""), live=live)
    assert code == 0, script.output
    assert any("Model Monitor data sources this identity can see: gt-store (generic_s3), other (generic_s3)" in line
               for line in script.printed)
    assert any("Problem:" in line and "Did you mean 'gt-store'?" in line for line in script.printed)
    prompts = [p for p in script.prompts if p.startswith("Ground-truth data source")]
    assert len(prompts) == 2 and prompts[1].endswith("[gt-store]: ")
    assert load_config(workdir_config(), env={}).ground_truth_datasource == "gt-store"


@pytest.mark.parametrize("store", ["", "y"])
def test_a_missing_token_is_asked_hidden_and_kept_for_the_run_or_stored(mocked, store):
    mock_monitor(mocked)
    env = {k: v for k, v in ENV.items() if k != "DOMINO_MODEL_API_TOKEN"}
    script = Script("", MONITOR["id"], "", "", store, "", "gt", "", "", "", secrets=(TOKEN,))
    code, script = run_script([], script, env=env)
    assert code == 0, script.output
    assert len(script.hidden_prompts) == 1 and "DOMINO_MODEL_API_TOKEN is not set" in script.hidden_prompts[0]
    assert TOKEN not in script.output
    probe = next(call for call in mocked.calls if call.request.url == ENDPOINT)
    assert probe.request.headers["Authorization"] == "Basic " + base64.b64encode(f"{TOKEN}:{TOKEN}".encode()).decode()
    path = workdir_config()
    stored = json.loads(path.read_text())["model_api"]["token"]
    if store:
        assert stored == TOKEN and stat.S_IMODE(path.stat().st_mode) == 0o600
    else:
        assert stored == ""
        assert any("kept for this run's checks only: export DOMINO_MODEL_API_TOKEN" in line for line in script.printed)


def test_unattended_a_missing_token_is_not_asked(mocked, capsys):
    mock_monitor(mocked)
    env = {k: v for k, v in ENV.items() if k != "DOMINO_MODEL_API_TOKEN"}
    script = Script(secrets=(TOKEN,))
    code, script = run_script(["--yes", "--base-url", BASE, "--model-id", MONITOR["id"], "--endpoint-url", ENDPOINT,
                               "--datasource", "gt"], script, env=env)
    assert code == 2 and script.hidden_prompts == []
    assert "DOMINO_MODEL_API_TOKEN" in capsys.readouterr().err


def test_a_wrongly_named_prediction_is_caught_at_step_3(mocked, capsys):
    mock_monitor(mocked)
    mocked.replace(responses.POST, ENDPOINT, json={"result": {"prediction": 1, "event_id": "ev-1"},
                                                   "request_id": "REQ"},
                   match=[probe_body({"tenure": 3.5, "plan": "basic"})])
    code, _ = run_script(["--yes", "--base-url", BASE, "--model-id", MONITOR["id"], "--endpoint-url", ENDPOINT,
                          "--datasource", "gt"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert "no prediction named 'churned' (it names 'prediction')" in err and "redeploy" in err
    assert not workdir_config().exists()


# --- the pure helpers ------------------------------------------------------------------------------------

def test_prediction_name_problem_only_judges_mappings():
    assert discovery.prediction_name_problem({"churned": 1, "event_id": "e"}, "churned") == ""
    assert discovery.prediction_name_problem([[1]], "churned") == ""  # an MLflow pyfunc's rows: cannot tell
    assert "'churned'" in discovery.prediction_name_problem({"y": 1}, "churned")


def test_endpoint_url_from_a_record_without_an_endpoint_is_empty():
    assert discovery.endpoint_url_from(OTHER, BASE) == ""
    assert discovery.endpoint_url_from(MONITOR, BASE + "/") == f"{BASE}/models/abc/latest/model"
