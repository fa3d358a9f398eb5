"""The proxy and CA settings a deployment gives in the environment are honoured, read once per client.

Real HTTP on loopback: a tiny forward proxy records the request lines it is sent.
"""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.http import HttpClient, environment_session


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).seen.append(self.requestline)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch):
    """Each test sets its own: none of the machine's own proxy variables."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                 "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server():
    _Recorder.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_proxy_from_the_environment_carries_the_calls(server, monkeypatch):
    # Given HTTP_PROXY pointing at a proxy, and no NO_PROXY for the ERP's host
    monkeypatch.setenv("HTTP_PROXY", server)
    client = HttpClient("http://erp.example.invalid:8080/api", system="sage50", retries=0)
    # When the client calls the ERP
    answer = client.request("GET", "/v1/ping", operation="GET /v1/ping", idempotent=True)
    # Then the call went through the proxy, addressed to the ERP (a forward proxy's request line)
    assert answer.json() == {"ok": True}
    assert _Recorder.seen == ["GET http://erp.example.invalid:8080/api/v1/ping HTTP/1.1"]


def test_no_proxy_sends_that_host_direct(server, monkeypatch):
    # Given a proxy that does not exist, and NO_PROXY naming the ERP's host
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = HttpClient(server, system="sage50", retries=0)
    # When the client calls, Then it reached the ERP directly
    assert client.request("GET", "/v1/ping", operation="GET /v1/ping", idempotent=True).status_code == 200
    assert _Recorder.seen == ["GET /v1/ping HTTP/1.1"]


def test_the_settings_are_read_when_the_client_is_made_not_per_call(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.invalid:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    session = environment_session("https://api.paytrace.com")
    assert session.trust_env is False  # requests would otherwise walk the environment on every call
    assert session.proxies.get("https") == "http://proxy.example.invalid:3128"
    assert session.verify == "/etc/ssl/certs/ca-certificates.crt"
