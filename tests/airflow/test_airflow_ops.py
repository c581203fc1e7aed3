"""Operations that hold, in real Airflow runs (dag.test): the mentions asset follows the lake,
so a retry after a lost success still wakes the load (F2); a job that fails leaves the healthy
job's data flowing (F4) and reaches a person through the webhook and e-mail notifiers (F5);
freshness is told by load lag, not post age."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from af_helpers import airflow_env, asset_events, init_airflow_home, run_dag, write_demo_slice

RAW, MENTIONS = "opinion://lake/raw", "opinion://lake/mentions"


def _states(summary: dict) -> dict[str, str]:
    out = {}
    for ti in summary["tis"]:
        key = ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]"
        out[key] = ti["state"]
    return out


def _ok(result) -> dict:
    rc, summary, output = result
    assert rc == 0 and summary and summary["state"] == "success", output[-6000:]
    return summary


@pytest.fixture()
def env(tmp_path, demo_slice_data, monkeypatch):
    config = tmp_path / "opinion.yaml"
    paths = dict(
        OPINION_CONFIG=str(config),
        OPINION_DATA=str(demo_slice_data),
        OPINION_LAKE=str(tmp_path / "lake"),
        OPINION_WAREHOUSE=str(tmp_path / "warehouse" / "opinion.duckdb"),
        OPINION_STATE=str(tmp_path / "state"),
    )
    for key, value in paths.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("OPINION_AUTHOR_SALT", "test-salt-not-secret")
    env = airflow_env(tmp_path / "airflow_home", **paths)
    init_airflow_home(env)
    return env


def _lost_success_extract() -> int:
    """What the first attempt of an extract task did before it failed to report success: it
    extracted every pending partition (the task's own function, in this process)."""
    from opinion import orchestration as orch

    names = [name for name, _ in orch.pending()]
    assert names
    return orch.extract(names)["partitions"]


def test_a_retry_after_a_lost_success_still_wakes_the_load(env, demo_slice_data):
    from opinion import orchestration as orch
    from opinion.health import StaleWarehouse, backlog, check_load_lag

    # round 1: the whole chain, so a published snapshot exists
    for dag_id in ("opinion_collect", "opinion_extract", "opinion_load"):
        _ok(run_dag(env, dag_id))
    assert asset_events(env, MENTIONS) == 1

    # more rows arrive; collect them; the extract attempt does its work and "dies" before
    # reporting success, so its retry (a new run here) finds nothing pending
    write_demo_slice(demo_slice_data / "demo" / "airline_tweets.csv", 400)
    _ok(run_dag(env, "opinion_collect"))
    assert _lost_success_extract() > 0
    waiting = backlog(orch.settings())
    assert waiting.known and waiting.waiting > 0
    with pytest.raises(StaleWarehouse, match="not loaded"):
        check_load_lag(orch.settings(), max_hours=0)  # lag by load time, not post age

    rc, summary, output = run_dag(env, "opinion_extract")
    states = _states(_ok((rc, summary, output)))
    assert states["extracted"] == "success", output[-4000:]  # emitted, not skipped: no stall
    assert "not in the published warehouse" in output
    assert asset_events(env, MENTIONS) == 2

    summary = _ok(run_dag(env, "opinion_load"))
    assert _states(summary)["freshness"] == "success"
    assert backlog(orch.settings()).waiting == 0
    assert check_load_lag(orch.settings(), max_hours=0)["unloaded_partitions"] == 0

    # nothing waits now: a further extract run emits nothing (no pointless load)
    rc, summary, output = run_dag(env, "opinion_extract")
    assert _states(_ok((rc, summary, output)))["extracted"] == "skipped", output[-4000:]
    assert asset_events(env, MENTIONS) == 2


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": json.loads(body)}
        )
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture()
def channels(monkeypatch):
    """A webhook receiver and an SMTP server on 127.0.0.1, and the two Airflow connections
    (as AIRFLOW_CONN_* JSON) that point the notifier at them."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    class Mailbox(Message):
        def __init__(self):
            super().__init__()
            self.messages = []

        def handle_message(self, message):
            self.messages.append(message)

    _Hook.received = []
    http = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    box = Mailbox()
    with socket.socket() as probe:  # aiosmtpd's Controller cannot take port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(box, hostname="127.0.0.1", port=port)
    smtp.start()
    conns = {
        "AIRFLOW_CONN_OPINION_ALERT_WEBHOOK": json.dumps(
            {"conn_type": "http", "host": f"http://127.0.0.1:{http.server_port}/hooks/ops",
             "password": "hook-token"}
        ),
        "AIRFLOW_CONN_OPINION_ALERT_SMTP": json.dumps(
            {"conn_type": "smtp", "host": "127.0.0.1", "port": smtp.port,
             "extra": {"to": "ops@example.com", "from_email": "opinion@example.com",
                       "disable_ssl": True, "disable_tls": True}}
        ),
    }  # fmt: skip
    for key, value in conns.items():
        monkeypatch.setenv(key, value)
    try:
        yield {"conns": conns, "hook": _Hook.received, "mail": box.messages}
    finally:
        smtp.stop()
        http.shutdown()


def test_a_failing_job_blocks_no_healthy_job_and_reaches_a_person(env, tmp_path, channels):
    (tmp_path / "opinion.yaml").write_text(
        (tmp_path / "opinion.yaml").read_text()
        + "  - name: gone\n    source: files\n    options:\n"
        + f'      path: "{tmp_path}/no-such-file.csv"\n'
        + "      name: gone\n      mapping: AIRLINE_TWEETS\n"
    )
    statsd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # airflow.cfg [metrics] statsd_on
    statsd.bind(("127.0.0.1", 0))
    statsd.setblocking(False)
    metrics_env = {"AIRFLOW__METRICS__STATSD_PORT": str(statsd.getsockname()[1])}
    rc, summary, output = run_dag({**env, **channels["conns"], **metrics_env}, "opinion_collect")
    packets = []
    with contextlib.suppress(BlockingIOError):
        while True:
            packets.append(statsd.recv(65536).decode())
    statsd.close()
    assert any(p.startswith("airflow.") for p in packets), "no StatsD metric was sent"
    assert rc == 1 and summary and summary["state"] == "failed", output[-6000:]
    by_job = {ti["rendered_map_index"]: ti for ti in summary["tis"] if ti["map_index"] >= 0}
    assert by_job["airline_tweets"]["state"] == "success"  # the healthy job's data went on
    assert by_job["gone"]["state"] == "failed" and by_job["gone"]["try_number"] == 1
    assert _states(summary)["all_jobs_ok"] == "upstream_failed"  # the run is red
    assert asset_events(env, RAW) == 1  # emitted by the healthy job's own task
    (hook,) = channels["hook"]
    assert hook["path"] == "/hooks/ops" and hook["auth"] == "Bearer hook-token"
    assert "task=collect_one" in hook["body"]["text"] and "terminal" in hook["body"]["text"]
    (mail,) = channels["mail"]
    assert mail["To"] == "ops@example.com" and "collect_one" in mail["Subject"]
    assert "FileNotFoundError" in mail.get_payload() or "no-such-file" in mail.get_payload()
    assert "hook-token" not in output  # the secret is never logged


def test_deadline_callback_and_broken_channels(channels, monkeypatch):
    from opinion.notify import deadline_missed, deliver

    context = {
        "dag_run": {"dag_id": "opinion_load", "dag_run_id": "asset_triggered__x",
                    "state": "queued", "queued_at": "2026-01-01T00:00:00Z"},
        "deadline": {"id": "d1", "deadline_time": "2026-01-01T04:00:00Z"},
    }  # fmt: skip
    assert deadline_missed(context, what="opinion_load not done") == {
        "webhook": "sent",
        "email": "sent",
    }
    text = channels["hook"][-1]["body"]["text"]
    assert "deadline missed" in text and "opinion_load" in text and "queued" in text
    assert "opinion_load" in channels["mail"][-1]["Subject"]

    # a channel that answers 500 and one not configured: reported, never raised
    monkeypatch.setenv(
        "AIRFLOW_CONN_OPINION_ALERT_WEBHOOK",
        json.dumps({"conn_type": "http", "host": "http://127.0.0.1:9/nothing"}),
    )
    monkeypatch.delenv("AIRFLOW_CONN_OPINION_ALERT_SMTP")
    out = deliver("subject", "text")
    assert out["webhook"].startswith("failed: ") and out["email"] == "not configured"


def test_run_params_override_the_collect_guards_for_that_run_only(monkeypatch):
    import os

    from opinion.collect.partitions import max_reject_ratio, min_rows_ratio
    from opinion.orchestration import param_overrides

    monkeypatch.setenv("OPINION_MIN_ROWS_RATIO", "0.5")
    monkeypatch.delenv("OPINION_MAX_REJECT_RATIO", raising=False)
    with param_overrides({"min_rows_ratio": 0, "max_reject_ratio": None}) as applied:
        assert applied == {"OPINION_MIN_ROWS_RATIO": "0"}
        assert min_rows_ratio() == 0.0 and max_reject_ratio() == 0.1  # null keeps the default
    assert os.environ["OPINION_MIN_ROWS_RATIO"] == "0.5"  # restored after the run's task
    with param_overrides({"max_reject_ratio": 0.3}):
        assert max_reject_ratio() == 0.3
    assert "OPINION_MAX_REJECT_RATIO" not in os.environ


def test_a_retry_waits_for_the_orphan_holding_a_partition(tmp_path):
    """F3: another process (an orphan of a killed attempt) holds a partition's write lease; the
    retry's extract waits for it instead of writing the same partition at the same time."""
    import subprocess
    import sys
    import time

    from opinion.config import Settings
    from opinion.health import extract_lease

    s = Settings.from_env(lake_dir=tmp_path / "lake", state_dir=tmp_path / "state")
    lock = tmp_path / "lake" / ".locks" / "extract-airline_tweets-2015-02-17.lock"
    marker = tmp_path / "holding"
    orphan = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from filelock import FileLock; l = FileLock(sys.argv[1]); "
         "l.acquire(); open(sys.argv[2], 'w').close(); time.sleep(1.5)",
         str(lock), str(marker)],
    )  # fmt: skip
    try:
        while not marker.exists():
            assert orphan.poll() is None, "the orphan stand-in died before taking the lease"
            time.sleep(0.05)
        with extract_lease(s, "airline_tweets/2015-02-17") as waited:
            assert waited  # it had to wait: the caller then re-checks what is still pending
        with extract_lease(s, "airline_tweets/2015-02-17") as waited:
            assert not waited
    finally:
        orphan.kill()
        orphan.wait()


def test_an_empty_input_file_warns_once(tmp_path, monkeypatch, caplog):
    """F6: a header-only file is collected as nothing, with a warning the first time it is
    read (not on every unchanged re-run)."""
    import logging

    from opinion import orchestration as orch

    empty = tmp_path / "empty.csv"
    empty.write_text("tweet_id,airline_sentiment,airline,text,tweet_created\n")
    config = tmp_path / "opinion.yaml"
    config.write_text(
        "version: 1\njobs:\n  - name: empty\n    source: files\n    options:\n"
        f'      path: "{empty}"\n      name: empty\n      mapping: AIRLINE_TWEETS\n'
    )
    for key, value in {
        "OPINION_CONFIG": config, "OPINION_LAKE": tmp_path / "lake",
        "OPINION_STATE": tmp_path / "state", "OPINION_AUTHOR_SALT": "test-salt-not-secret",
    }.items():  # fmt: skip
        monkeypatch.setenv(key, str(value))
    with caplog.at_level(logging.WARNING, logger="opinion.orchestration"):
        first = orch.collect("empty")
    assert first["read"] == 0 and first["warnings"] == ["empty input"]
    assert "the input held 0 records" in caplog.text
    caplog.clear()
    again = orch.collect("empty")  # unchanged: not re-read, no new warning
    assert "warnings" not in again and "0 records" not in caplog.text
