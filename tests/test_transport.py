"""dmm.transport and dmm.trace against a real local HTTP server: one retry policy for our requests sessions and
for Domino's own clients (httpx, python-domino), every attempt traced, nothing secret in the trace."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import requests

from dmm import trace, transport
from dmm.http import ApiClient, build_retry, make_session
from dmm.redact import register_secret

KEY = "transport-api-key-0123456789"


class Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next scripted (status, headers, body); records what it was sent."""

    script: list[tuple[int, dict[str, str], bytes]] = []
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        type(self).seen.append((self.command, self.path, dict(self.headers), body))
        status, headers, payload = type(self).script.pop(0) if type(self).script else (200, {}, b'{"ok": true}')
        self.send_response(status)
        headers = {"Content-Type": "application/json", **headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Scripted.script, Scripted.seen = [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """The waits the policy chose in the test's thread, instead of sleeping them (``time.sleep`` is patched for the
    whole process: other threads, such as a library's background sender, still sleep for real)."""
    chosen: list[float] = []
    test_thread, real_sleep = threading.current_thread(), time.sleep

    def sleep(seconds: float) -> None:
        if threading.current_thread() is test_thread:
            chosen.append(seconds)
        else:
            real_sleep(seconds)

    monkeypatch.setattr(transport.time, "sleep", sleep)
    return chosen


def busy(status: int = 503, **headers: str) -> tuple[int, dict[str, str], bytes]:
    return status, headers, b'{"message": "busy"}'


def test_429_honours_retry_after_and_is_retried_for_a_post(server, waits):
    Scripted.script = [busy(429, **{"Retry-After": "2"}), (200, {}, b'{"id": "m1"}')]
    api = ApiClient(server, make_session(retry=build_retry(methods=frozenset({"GET"}))))
    assert api.post("/model", json={}) == {"id": "m1"}
    assert waits == [2.0]
    assert len(Scripted.seen) == 2


def test_a_retry_after_beyond_the_time_bound_is_not_waited_for(server, waits):
    Scripted.script = [busy(429, **{"Retry-After": "3600"})]
    api = ApiClient(server, make_session(retry=build_retry(max_time=30)))
    with pytest.raises(Exception) as raised:
        api.get("/model")
    assert getattr(raised.value, "code", "") == "rate-limited"
    assert waits == [] and len(Scripted.seen) == 1


def test_backoff_has_jitter_and_grows(server, waits):
    Scripted.script = [busy(), busy(), busy(), (200, {}, b"{}")]
    policy = dataclasses.replace(build_retry(backoff=1.0), jitter=0.5)
    ApiClient(server, make_session(retry=policy)).get("/x")
    assert len(waits) == 3
    assert 0 <= waits[0] <= 0.5 and 2 <= waits[1] <= 2.5 and 4 <= waits[2] <= 4.5  # urllib3: 0, 2, 4 (+ jitter)


@pytest.mark.parametrize("path, retried", [("/v4/projects/create", False), ("/trainingset/find", True)])
def test_domino_clients_posts_are_repeated_only_where_safe(server, waits, path, retried):
    Scripted.script = [busy(502), (200, {}, b"[]")]
    with httpx.Client(base_url=server) as client:
        transport.install_domino_client_hooks()
        answer = client.post(path, json={})
    assert answer.status_code == (200 if retried else 502)
    assert len(Scripted.seen) == (2 if retried else 1)


def test_domino_data_gets_our_retries_on_its_httpx_client(server, waits):
    transport.install_domino_client_hooks()
    from domino_data.auth import AuthenticatedClient

    Scripted.script = [busy(503), busy(504), (200, {}, b"{}")]
    client = AuthenticatedClient(base_url=f"{server}/trainingset", api_key=KEY, token_file=None,  # type: ignore
                                 token_url=None, token=None).with_auth_headers()
    assert client.get_httpx_client().get("/churn").status_code == 200
    assert len(Scripted.seen) == 3 and len(waits) == 2
    assert Scripted.seen[0][2]["X-Domino-Api-Key"] == KEY


def test_python_domino_sessions_get_our_adapter_on_http_too():
    transport.install_domino_client_hooks()
    from domino.http_request_manager import _HttpRequestManager
    from requests.auth import HTTPBasicAuth

    manager = _HttpRequestManager(HTTPBasicAuth("u", "p"))
    for prefix in ("http://", "https://"):
        adapter = manager.request_session.get_adapter(f"{prefix}domino.example.com")
        assert isinstance(adapter, transport.RetryingAdapter) and adapter.client == "python-domino"


def test_a_connection_reset_is_repeated_for_a_get_not_for_an_unsafe_post(waits):
    policy = transport.DEFAULT_POLICY
    resets = []

    def attempt(number):
        resets.append(number)
        raise httpx.ReadError("Connection reset by peer")

    for method, expected in (("GET", policy.total + 1), ("POST", 1)):
        resets.clear()
        with pytest.raises(httpx.ReadError):
            transport.run_with_retry(policy, method, "http://h/v4/x", attempt, lambda r: 200, lambda r: {},
                                     transport._httpx_failure, lambda r: None)
        assert len(resets) == expected, method


def test_the_trace_file_has_one_redacted_line_per_attempt(server, waits, tmp_path):
    token = "bearer-secret-0123456789"
    register_secret(KEY)
    register_secret(token)
    path = tmp_path / "trace.jsonl"
    trace.start(path)
    try:
        Scripted.script = [busy(503), (200, {"Set-Cookie": "session=abc"},
                                       json.dumps({"echo": KEY, "signed": "https://s3/b/k?a=1&X-Amz-Signature=f00d",
                                                   "big": "x" * 10000}).encode())]
        session = make_session(headers={"X-Domino-Api-Key": KEY}, client="model-monitor")
        session.get(f"{server}/model?model_id=m1&X-Amz-Signature=deadbeef&sig=cafe&se=2030", timeout=5)
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as client:
            client.put(f"{server}/bucket/key?signature=feedface&X-Amz-Credential=AKIA",
                       content=b"\x00\x01binary", headers={"Content-Type": "application/octet-stream"})
    finally:
        trace.stop()
    text = path.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert [(line["client"], line["method"], line["status"], line["attempt"]) for line in lines] == [
        ("model-monitor", "GET", 503, 1), ("model-monitor", "GET", 200, 2), ("domino_data", "PUT", 200, 1)]
    for secret in (KEY, token, "deadbeef", "cafe", "feedface", "AKIA", "session=abc", "f00d"):
        assert secret not in text, secret
    first = lines[1]
    assert first["request"]["headers"]["X-Domino-Api-Key"] == "****"
    assert "model_id=m1" in first["url"] and "X-Amz-Signature=****" in first["url"]
    assert first["response"]["headers"]["Set-Cookie"] == "****"
    assert len(first["response"]["body"]) < 4200 and "chars shown" in first["response"]["body"]
    assert lines[2]["request"]["body"] == "<8 bytes>"
    assert lines[2]["request"]["headers"]["authorization"] == "****"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_an_unwritable_trace_is_a_usage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(Exception) as raised:
        trace.start(blocker / "trace.jsonl")
    assert getattr(raised.value, "code", "") == "trace-unwritable"


def test_no_trace_without_a_file_or_dmm_trace(monkeypatch):
    monkeypatch.delenv("DMM_TRACE", raising=False)
    assert trace.start(None) is None and not trace.active()


def test_a_refused_connection_is_traced_as_an_error(tmp_path, waits):
    path = tmp_path / "t.jsonl"
    trace.start(path)
    try:
        with pytest.raises(requests.ConnectionError):
            make_session(retry=build_retry(total=1)).get("http://127.0.0.1:9/x", timeout=2)
    finally:
        trace.stop()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["attempt"] for line in lines] == [1, 2] and all("error" in line for line in lines)


def test_a_503_says_not_handled_so_even_an_unsafe_post_is_repeated_honouring_retry_after(server, waits):
    Scripted.script = [busy(503, **{"Retry-After": "1"}), (200, {}, b"{}")]
    with httpx.Client(base_url=server) as client:
        transport.install_domino_client_hooks()
        assert client.post("/trainingset/churn", json={}).status_code == 200
    assert waits == [1.0] and len(Scripted.seen) == 2


def test_mlflow_over_http_gets_our_retries_and_is_traced(server, waits, tmp_path, monkeypatch):
    """Step 2 reaches Domino's experiment manager through MLflow's own requests sessions: they get our adapter."""
    from dmm import mlflow_export

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", KEY)  # MLflow sends it as a Bearer header
    register_secret(KEY)
    Scripted.script = [busy(503), (200, {}, b'{"experiments": []}')]
    path = tmp_path / "trace.jsonl"
    trace.start(str(path))
    try:
        assert list(mlflow_export._client().search_experiments()) == []
    finally:
        trace.stop()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(line["client"], line["status"]) for line in lines] == [("mlflow", 503), ("mlflow", 200)]
    assert "/api/2.0/mlflow/experiments/search" in lines[-1]["url"] and len(waits) == 1
    assert KEY not in path.read_text()
