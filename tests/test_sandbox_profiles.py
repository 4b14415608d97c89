"""The sandbox's Domino profiles (sandbox/profiles.py): auth methods, the API proxy, the internal host.

Each behaviour is checked with plain HTTP and with Domino's own clients (python-domino, domino_data) running in a
fresh interpreter with only what the profile exports, as in a workspace of that kind of deployment.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from sandbox.profiles import PROFILES, SERVICE_ACCOUNT_TOKEN_ENV, access_token
from sandbox.testing import PROJECT_ROOT

pytestmark = pytest.mark.sandbox
MONITOR_MODELS = "/model-monitor/v2/api/models"


def _get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, timeout=30)


def test_profiles_are_listed_one_line_each():
    result = subprocess.run([sys.executable, "-m", "sandbox", "profiles"], cwd=PROJECT_ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(PROFILES)
    assert {"keys", "keyless", "internal-host"} <= set(PROFILES)


def test_an_unknown_profile_is_one_sentence_and_exit_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "sandbox", "start", "--state", str(tmp_path), "--profile", "nope"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Unknown --profile 'nope'" in result.stderr and "Traceback" not in result.stderr


def test_keys_profile_is_todays_behaviour(sandbox_factory):
    running = sandbox_factory(profile="keys")
    assert running.env["DOMINO_USER_API_KEY"] == running.api_key
    assert "DOMINO_API_PROXY" not in running.env
    assert running.env["DOMINO_API_HOST"] == running.url
    assert _get(f"{running.url}/version", **{"X-Domino-Api-Key": running.api_key}).status_code == 200
    assert _get(f"{running.url}/version", Authorization=f"Bearer {running.api_key}").status_code == 200
    assert _get(f"{running.url}/version").status_code == 401


@pytest.fixture(scope="module")
def keyless(tmp_path_factory, monkeypatch_module):
    from sandbox.testing import RunningSandbox

    monkeypatch_module.setenv("DOMINO_USER_API_KEY", "a-key-from-the-callers-shell")  # must not leak into the run
    running = RunningSandbox(tmp_path_factory.mktemp("keyless"), profile="keyless").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_keyless_exports_no_api_key_and_refuses_one(keyless):
    assert "DOMINO_USER_API_KEY" not in keyless.env
    key_header = {"X-Domino-Api-Key": keyless.api_key}
    for path in ("/version", "/trainingset/anything", MONITOR_MODELS):
        answer = _get(keyless.url + path, **key_header)
        assert answer.status_code == 401, path
        assert "user API keys are disabled" in answer.json()["errors"][0]
    # a key is refused even beside a valid token, and the key is no token either
    token = access_token(keyless.api_key, "proxy")
    assert _get(f"{keyless.url}/version", Authorization=f"Bearer {token}", **key_header).status_code == 401
    assert _get(f"{keyless.url}/version", Authorization=f"Bearer {keyless.api_key}").status_code == 401


def test_keyless_proxy_hands_out_a_token_and_adds_it(keyless):
    proxy = keyless.env["DOMINO_API_PROXY"]
    assert proxy != keyless.url
    token = _get(f"{proxy}/access-token")
    assert token.status_code == 200 and token.headers["Content-Type"].startswith("text/plain")
    assert _get(f"{keyless.url}/version", Authorization=f"Bearer {token.text}").status_code == 200
    # the caller sends nothing: the proxy adds the token
    assert _get(f"{proxy}/version").json()["version"]
    assert _get(f"{proxy}/v4/gateway/projects/findProjectByOwnerAndName",
                ).status_code in (200, 404)  # authenticated: the answer is about the project, not the caller


def test_keyless_proxy_does_not_front_model_monitor_by_default(keyless):
    proxy = keyless.env["DOMINO_API_PROXY"]
    assert _get(proxy + MONITOR_MODELS).status_code == 404
    token = _get(f"{proxy}/access-token").text
    # the external URL serves Model Monitor to the proxy's token
    assert _get(keyless.url + MONITOR_MODELS, Authorization=f"Bearer {token}").status_code not in (401, 403, 404)


def test_keyless_domino_clients_work_through_the_proxy_alone(keyless):
    code = (
        "import os, warnings; warnings.simplefilter('ignore')\n"
        "assert 'DOMINO_USER_API_KEY' not in os.environ\n"
        "from domino_data.training_sets import client\n"
        "print('training sets', client.list_training_sets())\n"
        "from domino import Domino\n"
        "d = Domino(f\"{os.environ['DOMINO_PROJECT_OWNER']}/{os.environ['DOMINO_PROJECT_NAME']}\")\n"
        "print('auth', type(d.request_manager.auth).__name__)\n"
    )
    result = keyless.run_python(code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "training sets []" in result.stdout and "auth ProxyAuth" in result.stdout


def test_proxy_option_lets_model_monitor_through(sandbox_factory):
    running = sandbox_factory(profile="keyless", extra_args=["--profile-option", "proxy_fronts_model_monitor=true"])
    answer = _get(running.env["DOMINO_API_PROXY"] + MONITOR_MODELS)
    assert answer.status_code not in (401, 403, 404)


def test_service_account_profile_takes_only_its_bearer_token(sandbox_factory, monkeypatch):
    monkeypatch.setenv("DOMINO_API_PROXY", "http://127.0.0.1:9")  # the caller's own proxy must not leak in
    running = sandbox_factory(profile="service-account")
    token = running.env[SERVICE_ACCOUNT_TOKEN_ENV]
    assert "DOMINO_USER_API_KEY" not in running.env and "DOMINO_API_PROXY" not in running.env
    assert _get(f"{running.url}/version", Authorization=f"Bearer {token}").status_code == 200
    assert _get(running.url + MONITOR_MODELS, Authorization=f"Bearer {token}").status_code not in (401, 403, 404)
    assert _get(f"{running.url}/version", Authorization="Bearer not-the-token").status_code == 401
    assert _get(f"{running.url}/version", **{"X-Domino-Api-Key": running.api_key}).status_code == 401
    # the admin verbs (what a user does in the UI) still work for the harness
    assert isinstance(running.admin("monitor-options"), dict)


def test_internal_host_serves_domino_but_not_model_monitor(sandbox_factory):
    running = sandbox_factory(profile="internal-host")
    internal = running.env["DOMINO_API_HOST"]
    assert internal != running.url
    key = {"X-Domino-Api-Key": running.api_key}
    assert _get(f"{internal}/version", **key).status_code == 200
    assert _get(f"{internal}/trainingset/none-such", **key).status_code == 404  # served: the set is unknown
    refused = _get(internal + MONITOR_MODELS, **key)
    assert refused.status_code == 404 and "not served" in refused.json()["errors"][0]
    assert _get(running.url + MONITOR_MODELS, **key).status_code not in (401, 403, 404)
    result = running.run_python("import warnings; warnings.simplefilter('ignore')\n"
                                "from domino_data.training_sets import client\n"
                                "print('training sets', client.list_training_sets())")
    assert result.returncode == 0 and "training sets []" in result.stdout, result.stderr[-2000:]
