"""A URL whose scheme does not match its server is named as such (``tls-mismatch``), not "could not reach": real
local servers, one plain HTTP and one TLS (a self-signed test certificate in tests/data, made for these tests)."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dmm.errors import ApiError
from dmm.http import ApiClient, build_retry, make_session
from dmm.tls import mismatch

DATA = Path(__file__).parent / "data"


class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b'{"version": "6.0.0"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _serve(tls: bool) -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(DATA / "test-tls-cert.pem", DATA / "test-tls-key.pem")
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def plain_port() -> Iterator[int]:
    yield from _serve(tls=False)


@pytest.fixture
def tls_port() -> Iterator[int]:
    yield from _serve(tls=True)


def client(url: str) -> ApiClient:
    return ApiClient(url, make_session(retry=build_retry(total=1, backoff=0)), timeout=10, service_name="Domino")


def test_https_against_a_plain_http_server_is_named(plain_port):
    with pytest.raises(ApiError) as caught:
        client(f"https://127.0.0.1:{plain_port}").get("/version")
    error = caught.value
    assert error.code == "tls-mismatch" and error.exit_code == 3
    assert "answers plain HTTP, not HTTPS" in str(error) and f"http://127.0.0.1:{plain_port}" in error.advice


def test_http_against_a_tls_server_is_named(tls_port):
    with pytest.raises(ApiError) as caught:
        client(f"http://127.0.0.1:{tls_port}").get("/version")
    error = caught.value
    assert error.code == "tls-mismatch"
    assert "expects HTTPS" in str(error) and f"https://127.0.0.1:{tls_port}" in error.advice


def test_the_matching_schemes_still_work(plain_port):
    assert client(f"http://127.0.0.1:{plain_port}").get("/version") == {"version": "6.0.0"}


def test_a_closed_port_is_still_unreachable_not_a_mismatch(plain_port):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with pytest.raises(ApiError) as caught:
        client(f"http://127.0.0.1:{closed}").get("/version")
    assert caught.value.code == "unreachable"


def test_an_ingress_saying_plain_http_was_sent_to_https_is_a_mismatch():
    error = mismatch("http://domino.example.com/version", "Domino",
                     body="<html><center>The plain HTTP request was sent to HTTPS port</center></html>")
    assert error is not None and error.code == "tls-mismatch" and "https://domino.example.com/version" in error.advice


def test_step_3_names_the_scheme_mismatch_with_the_fix(plain_port):
    from dmm import setup_checks

    url = f"https://127.0.0.1:{plain_port}"
    result = setup_checks.check_domino(url, "a-key-0123456789", f"{url}/model-monitor/v2/api",
                                       session=make_session(retry=build_retry(total=0)), timeout=10)
    assert not result.ok and "answers plain HTTP, not HTTPS" in result.detail
    assert f"Use http://127.0.0.1:{plain_port}" in result.fix
