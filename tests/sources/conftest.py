"""Fixtures for connector tests: a real threaded HTTP server on 127.0.0.1, lake settings,
a fast (but real-time) HTTP client, and the opt-in `--live` switch."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest


def pytest_addoption(parser):
    parser.addoption(
        "--live", action="store_true", default=False, help="run tests that reach the internet"
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--live"):
        return
    skip = pytest.mark.skip(reason="talks to real services; pass --live to run")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


@dataclass
class Req:
    t: float
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Resp:
    status: int = 200
    body: bytes | str | dict | list = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class FakeApi:
    """Routes by path prefix to a handler `fn(req) -> Resp`; every request is logged."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, Callable[[Req], Resp]]] = []
        self.log: list[Req] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                req = Req(
                    time.monotonic(),
                    self.command,
                    parts.path,
                    query,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                api.log.append(req)
                resp = api.dispatch(req)
                if resp.delay:
                    time.sleep(resp.delay)
                data = resp.body
                ctype = "application/json"
                if isinstance(data, dict | list):
                    data = json.dumps(data).encode()
                elif isinstance(data, str):
                    data = data.encode()
                    ctype = "text/plain"
                try:
                    self.send_response(resp.status)
                    headers = {"Content-Type": ctype, **resp.headers}
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def route(self, prefix: str, fn: Callable[[Req], Resp]) -> None:
        self.routes.insert(0, (prefix, fn))

    def dispatch(self, req: Req) -> Resp:
        for prefix, fn in self.routes:
            if req.path.startswith(prefix):
                return fn(req)
        return Resp(404, {"error": "not found"})

    def requests(self, prefix: str = "/") -> list[Req]:
        return [r for r in self.log if r.path.startswith(prefix)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def api():
    server = FakeApi()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _salt(monkeypatch):
    monkeypatch.setenv("OPINION_AUTHOR_SALT", "test-salt-not-secret")


@pytest.fixture()
def settings(tmp_path):
    from opinion.config import Settings

    return Settings.from_env(
        lake_dir=tmp_path / "lake",
        warehouse=tmp_path / "wh" / "opinion.duckdb",
        state_dir=tmp_path / "state",
    )


@pytest.fixture()
def client():
    """The shared policy with a short timeout and millisecond backoff (real sleeps)."""
    from opinion.sources.http import HttpClient, HttpPolicy

    with HttpClient(HttpPolicy(timeout=0.4, connect_timeout=0.4, backoff_base=0.01)) as c:
        yield c
