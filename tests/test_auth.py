"""dmm.auth: python-domino's order of methods, one method by choice, the header each sends, no secret shown."""

from __future__ import annotations

import pytest
import responses

from dmm import auth
from dmm.errors import ApiError, ConfigError
from dmm.redact import redact

KEY = "user-api-key-0123456789"
TOKEN = "service-account-jwt-0123456789"
PROXY = "http://localhost:8899"


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "token"
    path.write_text("file-jwt-0123456789\nsecond line is ignored\n")
    return str(path)


def everything(token_file: str) -> dict[str, str]:
    return {"DOMINO_API_PROXY": PROXY, "SA_TOKEN": TOKEN, "DOMINO_TOKEN_FILE": token_file,
            "DOMINO_USER_API_KEY": KEY}


@pytest.mark.parametrize("removed, expected", [
    ((), auth.API_PROXY),
    (("DOMINO_API_PROXY",), auth.TOKEN),
    (("DOMINO_API_PROXY", "SA_TOKEN"), auth.TOKEN_FILE),
    (("DOMINO_API_PROXY", "SA_TOKEN", "DOMINO_TOKEN_FILE"), auth.API_KEY),
])
def test_auto_follows_python_dominos_order(token_file, removed, expected):
    env = {k: v for k, v in everything(token_file).items() if k not in removed}
    assert auth.resolve("auto", token_env="SA_TOKEN", env=env).method == expected


def test_a_token_file_that_does_not_exist_is_skipped(tmp_path):
    env = {"DOMINO_TOKEN_FILE": str(tmp_path / "gone"), "DOMINO_USER_API_KEY": KEY}
    assert auth.resolve(env=env).method == auth.API_KEY


def test_nothing_at_all_says_what_was_looked_for():
    with pytest.raises(ConfigError) as raised:
        auth.resolve(token_env="SA_TOKEN", env={})
    error = raised.value
    assert error.code == "api-key-missing" and error.exit_code == 2
    for looked_for in ("DOMINO_API_PROXY", "SA_TOKEN", "DOMINO_TOKEN_FILE", "DOMINO_USER_API_KEY"):
        assert looked_for in error.message


def test_a_chosen_method_is_the_only_one_tried(token_file):
    env = everything(token_file)
    assert auth.resolve("api-key", token_env="SA_TOKEN", env=env).method == auth.API_KEY
    with pytest.raises(ConfigError) as raised:
        auth.resolve("token", env=env)  # no variable named for the token
    assert raised.value.code == "auth-method-unavailable"
    assert "--auth" in raised.value.advice


def test_an_unknown_method_names_the_choices():
    with pytest.raises(ConfigError) as raised:
        auth.resolve("password", env={})
    assert raised.value.code == "auth-method-unknown" and "api-proxy" in raised.value.advice


def test_each_method_sends_its_header(token_file):
    env = everything(token_file)
    assert auth.resolve("api-key", env=env).headers() == {"X-Domino-Api-Key": KEY}
    assert auth.resolve("token", token_env="SA_TOKEN", env=env).headers() == {"Authorization": f"Bearer {TOKEN}"}
    assert auth.resolve("token-file", env=env).headers() == {"Authorization": "Bearer file-jwt-0123456789"}


def test_the_token_file_is_read_again_for_every_request(token_file):
    credentials = auth.resolve("token-file", env={"DOMINO_TOKEN_FILE": token_file})
    credentials.headers()
    with open(token_file, "w") as handle:
        handle.write("renewed-jwt-0123456789\n")
    assert credentials.headers()["Authorization"] == "Bearer renewed-jwt-0123456789"


@responses.activate
def test_the_proxy_method_fetches_a_token_once_from_access_token():
    responses.get(f"{PROXY}/access-token", body="proxy-jwt-0123456789", content_type="text/plain")
    credentials = auth.resolve("api-proxy", env={"DOMINO_API_PROXY": "localhost:8899"})
    assert credentials.proxy_url == PROXY  # python-domino accepts host:port; a scheme is added
    assert credentials.headers() == {"Authorization": "Bearer proxy-jwt-0123456789"}
    assert credentials.headers() == {"Authorization": "Bearer proxy-jwt-0123456789"}
    assert len(responses.calls) == 1
    assert redact("token proxy-jwt-0123456789") == "token ****"


@responses.activate
def test_a_proxy_without_a_token_is_a_service_error_with_the_fix():
    responses.get(f"{PROXY}/access-token", status=404, body="")
    with pytest.raises(ApiError) as raised:
        auth.resolve("api-proxy", env={"DOMINO_API_PROXY": PROXY}).headers()
    assert raised.value.code == "auth-proxy-no-token" and "--auth" in raised.value.advice


def test_clients_get_only_the_chosen_method(token_file):
    env = everything(token_file)
    token = auth.resolve("token", token_env="SA_TOKEN", env=env)
    assert token.domino_data_kwargs() == {"api_key": None, "token": TOKEN, "token_file": None, "token_url": None}
    assert token.python_domino_kwargs() == {"auth_token": TOKEN}
    proxy = auth.resolve("auto", env=env)
    assert proxy.domino_data_kwargs()["token_url"] == PROXY and proxy.domino_data_kwargs()["api_key"] is None
    assert proxy.python_domino_kwargs() == {"api_proxy": PROXY}


def test_secrets_are_registered_and_never_described(token_file):
    credentials = auth.resolve("token", token_env="SA_TOKEN", env=everything(token_file))
    assert TOKEN not in credentials.describe() and "$SA_TOKEN" in credentials.describe()
    assert TOKEN not in repr(credentials)
    assert redact(f"Authorization failed for {TOKEN}") == "Authorization failed for ****"


def test_from_environment_reads_the_override_variables(token_file):
    env = {**everything(token_file), auth.METHOD_ENV: "token", auth.TOKEN_ENV_ENV: "SA_TOKEN"}
    assert auth.from_environment(env).method == auth.TOKEN


@pytest.mark.parametrize("url, internal", [
    ("http://nucleus-frontend.domino-platform:80", True), ("http://127.0.0.1:8899", True),
    ("http://nucleus-frontend", True), ("http://10.0.3.4", True), ("https://api.domino-platform.svc", True),
    ("https://domino.example.com", False), ("https://8.8.8.8", False)])
def test_internal_hosts_are_recognised(url, internal):
    from dmm import hosts

    assert hosts.is_internal(url) is internal


def test_each_service_is_reached_where_its_client_looks():
    from dmm import hosts

    urls = ("https://domino.example.com", "https://domino.example.com/model-monitor/v2/api")  # the config's two
    env = {"DOMINO_API_HOST": "http://nucleus-frontend:80", "DOMINO_API_PROXY": "http://localhost:8899"}
    assert hosts.per_service(*urls, env) == {
        "training sets": "http://nucleus-frontend:80/trainingset", "data sources": "http://localhost:8899/v4",
        "Model Monitor": "https://domino.example.com/model-monitor/v2/api",
        "custom metrics": "http://nucleus-frontend:80"}
    assert hosts.per_service(*urls, {"DOMINO_USER_HOST": "https://u.example.com"})["training sets"] == \
        "https://u.example.com/trainingset"
    assert hosts.custom_metrics("https://domino.example.com", {}) == "https://domino.example.com"
