"""Fixtures for the dashboard tests: a UI-fixture warehouse (see ui_fixture.py), the real
server started with `opinion serve` in a subprocess, and headless Chromium via Selenium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .ui_fixture import build_ui_warehouse

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "serve"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
)


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def ui_warehouse(tmp_path_factory) -> Path:
    """The small UI-fixture warehouse (~1.2k demo posts + a few synthetic ones)."""
    return build_ui_warehouse(tmp_path_factory.mktemp("ui") / "opinion.duckdb")


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory) -> Path:
    """The whole demo corpus as a UI-fixture warehouse: the size the 2-second budget is for."""
    return build_ui_warehouse(tmp_path_factory.mktemp("demo") / "opinion.duckdb", None, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, warehouse: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "opinion.cli", "serve", "--port", str(self.port),
             "--warehouse", str(warehouse)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"opinion serve exited: {self.proc.stdout.read()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("opinion serve did not answer within 60 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="session")
def server(ui_warehouse):
    srv = Server(ui_warehouse)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def demo_server(demo_warehouse):
    srv = Server(demo_warehouse)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    chromium = chromium_path()
    if chromium is None or not Path(CHROMEDRIVER).exists():
        pytest.skip(
            "browser tests need Debian packages chromium and chromium-driver "
            "(apt-get install chromium chromium-driver; .ci/run installs them)"
        )
    pytest.importorskip("selenium", reason="browser tests need the selenium package (dev extra)")
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
