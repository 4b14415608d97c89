"""dmm/http.py: status -> error mapping, unreachable hosts, timeouts, urllib3 retries, secrets redacted."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import responses

from dmm.errors import ApiError, AuthError, ConflictError, NotFoundError
from dmm.http import ApiClient, api_key_headers, build_retry, make_session
from dmm.redact import register_secret

BASE = "https://domino.example.com/api"


def client(base_url: str = BASE, retry_total: int = 0, **kwargs) -> ApiClient:
    return ApiClient(base_url, session=make_session(retry=build_retry(total=retry_total, backoff=0)), **kwargs)


def caught(call) -> ApiError:
    with pytest.raises(ApiError) as info:
        call()
    return info.value


# --- status codes -> error classes -------------------------------------------------------------------------

@pytest.mark.parametrize("status, error_class", [
    (401, AuthError), (403, AuthError), (404, NotFoundError), (409, ConflictError),
    (400, ApiError), (422, ApiError), (500, ApiError),
])
@responses.activate
def test_status_maps_to_error_class_with_status_message_and_advice(status, error_class):
    responses.get(f"{BASE}/model/m1", json={"message": "model m1 says no"}, status=status)
    error = caught(lambda: client().get("model/m1", what="Reading model m1"))
    assert type(error) is error_class
    assert error.status == status
    assert error.server_message == "model m1 says no"
    assert error.advice
    assert error.exit_code == 3
    assert str(error).startswith(f"Reading model m1 failed with HTTP {status}: model m1 says no.")
    assert error.url == f"{BASE}/model/m1"


@responses.activate
def test_auth_advice_names_the_api_key_variable():
    responses.get(f"{BASE}/x", json={"message": "bad key"}, status=401)
    assert "DOMINO_USER_API_KEY" in caught(lambda: client().get("x")).advice


@responses.activate
def test_advice_given_by_the_caller_wins():
    responses.get(f"{BASE}/x", status=404)
    assert caught(lambda: client().get("x", advice="Run step 3 first")).advice == "Run step 3 first"


@responses.activate
def test_server_message_joins_an_errors_list():
    responses.put(f"{BASE}/x", json={"errors": ["name taken", "bad type"]}, status=400)
    assert caught(lambda: client().put("x", json={})).server_message == "name taken; bad type"


@responses.activate
def test_server_message_falls_back_to_the_body_text():
    responses.post(f"{BASE}/x", body="  upstream exploded  ", status=502, content_type="text/plain")
    error = caught(lambda: client().post("x"))
    assert error.server_message == "upstream exploded"
    assert "upstream exploded" in str(error)


@responses.activate
def test_empty_error_body_gives_a_sentence_without_a_dangling_colon():
    responses.delete(f"{BASE}/x", body="", status=500)
    error = caught(lambda: client().delete("x", what="Deleting x"))
    assert error.server_message == ""
    assert str(error).startswith("Deleting x failed with HTTP 500.")


@responses.activate
def test_success_returns_json_text_or_none():
    responses.get(f"{BASE}/json", json={"id": "m1"})
    responses.get(f"{BASE}/text", body="plain words", content_type="text/plain")
    responses.delete(f"{BASE}/gone", status=204)
    api = client()
    assert api.get("json") == {"id": "m1"}
    assert api.get("text") == "plain words"
    assert api.delete("gone") is None


# --- unreachable hosts and timeouts ------------------------------------------------------------------------

def test_connection_refused_is_one_plain_api_error():
    api = client("http://127.0.0.1:9", retry_total=1, service_name="Model Monitor", timeout=5)
    error = caught(lambda: api.get("v2/api/models"))
    assert type(error) is ApiError
    assert str(error).startswith("Could not reach Model Monitor at http://127.0.0.1:9.")
    assert error.status is None
    assert error.__cause__ is None and error.__suppress_context__  # raised "from None": no chained traceback


@responses.activate
@pytest.mark.parametrize("exception", [requests.exceptions.ReadTimeout, requests.exceptions.ConnectTimeout])
def test_timeout_is_reported_as_timed_out(exception):
    responses.get(f"{BASE}/slow", body=exception("boom"))
    error = caught(lambda: client(timeout=7).get("slow", what="Reading slow"))
    assert type(error) is ApiError
    assert "Reading slow timed out after 7" in str(error)
    assert error.__cause__ is None and error.__suppress_context__


@pytest.mark.parametrize("retry_total", [0, 1])
def test_a_real_read_timeout_is_reported_as_timed_out_even_after_retries(retry_total):
    with socket.socket() as silent:  # accepts connections (via the backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        error = caught(lambda: client(f"http://127.0.0.1:{port}", retry_total, timeout=0.2).get("x", what="Reading x"))
    assert "Reading x timed out after 0.2" in str(error)
    assert "Could not reach" not in str(error)


# --- urllib3 retries against a real local server -----------------------------------------------------------

class ScriptedServer:
    """A tiny HTTP server on 127.0.0.1 answering each request with the next scripted (status, headers)."""

    def __init__(self, script: list[tuple[int, dict[str, str]]]):
        self.script = list(script)
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                owner.hits += 1
                status, headers = owner.script[min(owner.hits, len(owner.script)) - 1]
                body = b'{"ok": true}' if status < 400 else b'{"message": "scripted failure"}'
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_503_twice_then_200_succeeds_after_three_hits(method):
    with ScriptedServer([(503, {}), (503, {}), (200, {})]) as server:
        result = client(server.url, retry_total=4).request(method, "predict")
    assert result == {"ok": True}
    assert server.hits == 3


def test_429_with_retry_after_zero_is_retried():
    with ScriptedServer([(429, {"Retry-After": "0"}), (200, {})]) as server:
        assert client(server.url, retry_total=4).get("x") == {"ok": True}
    assert server.hits == 2


def test_400_is_not_retried():
    with ScriptedServer([(400, {}), (200, {})]) as server:
        error = caught(lambda: client(server.url, retry_total=4).get("x"))
    assert server.hits == 1
    assert error.status == 400
    assert error.server_message == "scripted failure"


def test_exhausted_retries_report_the_last_status():
    with ScriptedServer([(503, {})]) as server:
        error = caught(lambda: client(server.url, retry_total=2).get("x"))
    assert server.hits == 3
    assert error.status == 503


# --- secrets and URLs --------------------------------------------------------------------------------------

@responses.activate
def test_registered_secret_never_appears_in_error_text_or_url():
    secret = "http-test-secret-7Q2wE9rT"
    register_secret(secret)
    base = f"{BASE}/models/{secret}/latest/model"
    responses.post(base, json={"message": f"token {secret} rejected"}, status=401)
    error = caught(lambda: client(base).post("", json={"data": {}}, what=f"Calling {base}"))
    for text in (str(error), error.url, error.server_message, error.message, repr(error.args)):
        assert secret not in text


def test_secret_in_an_unreachable_base_url_is_redacted():
    secret = "http-test-secret-unreach-5Kd8"
    register_secret(secret)
    error = caught(lambda: client(f"http://127.0.0.1:9/{secret}").get("x"))
    assert "Could not reach" in str(error)
    assert secret not in str(error) and secret not in error.url


def test_api_key_headers_registers_the_key():
    key = "http-test-api-key-Zz91Yy82"
    headers = api_key_headers(key)
    assert headers == {"X-Domino-Api-Key": key}
    error = caught(lambda: client(f"http://127.0.0.1:9/{key}").get("x"))
    assert key not in str(error)


def test_url_of_empty_path_is_the_base_url_exactly():
    base = "https://domino.example.com/models/abc/latest/model/"
    assert ApiClient(base).url("") == base


def test_url_joins_paths_with_one_slash():
    assert ApiClient("https://h/api/").url("/v2/models") == "https://h/api/v2/models"
    assert ApiClient("https://h/api").url("v2/models") == "https://h/api/v2/models"
