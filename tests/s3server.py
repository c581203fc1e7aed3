"""A real S3 API server on 127.0.0.1 for tests: moto's server, run from a venv of its own.

moto needs python-dateutil < 3 while the project pins 4, so it cannot share `.venv`. The
server's venv (`.venv-s3/`, git-ignored) is made on first use with pip from PyPI, under a file
lock so parallel test processes build it once; `make test` builds it up front.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
S3_VENV = Path(os.environ.get("OPINION_S3_VENV", REPO / ".venv-s3"))
MOTO = "moto[server]>=5,<6"


def moto_server_bin() -> Path:
    """The `moto_server` executable, installing moto into its own venv when missing."""
    exe = S3_VENV / "bin" / "moto_server"
    if exe.exists():
        return exe
    from filelock import FileLock

    S3_VENV.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(S3_VENV) + ".lock", timeout=600):
        if not exe.exists():
            venv.create(S3_VENV, with_pip=True)
            subprocess.run(
                [str(S3_VENV / "bin" / "python"), "-m", "pip", "install", "-q",
                 "--disable-pip-version-check", MOTO],
                check=True,
            )  # fmt: skip
    return exe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def moto_server() -> Iterator[str]:
    """Run moto's S3 server on a free loopback port; yields its endpoint URL."""
    import httpx

    port = _free_port()
    proc = subprocess.Popen(
        [str(moto_server_bin()), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/moto-api/", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto server did not start on {url}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()


if __name__ == "__main__":  # `python tests/s3server.py` builds the venv (make test does)
    print(moto_server_bin(), file=sys.stderr)
