"""Alerts that stay visible and reach people (issue 26, finding 1): `opinion alerts --days N`
lists every flagged window of the last N days of data, newest first, with its posts link; a
new alert is delivered once to a real local HTTP server (webhook) and a real local SMTP server
(aiosmtpd), and a channel that fails says so in one line and is retried next time."""

from __future__ import annotations

import dataclasses
import json
import socket
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default

import pytest
from click.testing import CliRunner

from opinion.cli import main
from opinion.config import Settings
from opinion.insights.delivery import (
    Channels,
    DeliveryError,
    Email,
    Webhook,
    deliver_new,
    load_channels,
)
from opinion.warehouse import connect

END = datetime(2015, 2, 24, 19, 38, tzinfo=UTC)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """Flagged windows on days 0 (latest), 2 and 9 before the newest data; day 1 not flagged."""
    path = tmp_path_factory.mktemp("alerts") / "opinion.duckdb"
    con = connect(path)
    rows = []
    for k, flagged, cat in ((0, True, "lost_delayed_bags"), (1, False, "lost_delayed_bags"),
                            (2, True, "phone_hold"), (9, True, "seat")):  # fmt: skip
        end = END - timedelta(days=k)
        rows.append(("United", "baggage", cat, end - timedelta(days=1), end, 155 - k, 83.6, 7,
                     6.1, 1e-7, flagged, 5, 2, k == 0))  # fmt: skip
    con.executemany("INSERT INTO issue_windows VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    con.execute(
        "INSERT INTO agg_daily (brand, touchpoint, category, cx_domain, day, mentions, "
        "positive, negative, neutral) VALUES ('United','baggage','seat','x', DATE '2015-02-24',"
        " 1, 0, 1, 0)"
    )
    con.close()
    return path


def run(*args):
    return CliRunner().invoke(main, ["alerts", *args])


def test_days_lists_past_alerts_newest_first(warehouse):
    out = run("--days", "7", "--warehouse", str(warehouse))
    assert out.exit_code == 0, out.output
    lines = [line for line in out.output.splitlines() if line.startswith("United")]
    assert [line.split()[2] for line in lines] == ["lost_delayed_bags", "phone_hold"]
    links = [line.strip() for line in out.output.splitlines() if "posts:" in line]
    assert len(links) == 2 and "category=phone_hold" in links[1] and "polarity=negative" in links[1]
    assert "since=2015-02-21T19" in links[1] and "until=2015-02-22T19" in links[1]
    ten = run("--days", "10", "--warehouse", str(warehouse))
    assert "seat" in ten.output
    latest = run("--warehouse", str(warehouse))
    assert "phone_hold" not in latest.output and "lost_delayed_bags" in latest.output


def test_days_for_a_brand_without_alerts(warehouse):
    out = run("--days", "7", "--brand", "United", "--warehouse", str(warehouse))
    assert out.exit_code == 0
    bad = run("--days", "7", "--brand", "Nope", "--warehouse", str(warehouse))
    assert bad.exit_code == 1 and "unknown brand" in bad.output


@pytest.fixture()
def smtp():
    from aiosmtpd.controller import Controller

    class Box:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope.rcpt_tos, envelope.content))
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    box = Box()
    ctl = Controller(box, hostname="127.0.0.1", port=port)
    ctl.start()
    yield box, port
    ctl.stop()


def test_new_alert_delivered_once_by_webhook_and_email(warehouse, tmp_path, httpserver, smtp):
    box, port = smtp
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    settings = dataclasses.replace(
        Settings.from_env(warehouse=warehouse), state_dir=tmp_path / "state"
    )
    channels = Channels(
        Webhook(httpserver.url_for("/hook")),
        Email("127.0.0.1", "opinion@example.com", ("cx@example.com",), port=port),
        "https://cx.example.com",
    )
    assert deliver_new(settings, channels) == "delivered 1 new alert(s) by webhook and e-mail"
    (request, _), *_ = httpserver.log
    body = json.loads(request.data)
    assert set(body) == {"text"} and "lost_delayed_bags" in body["text"]
    assert "https://cx.example.com/verbatims?brand=United" in body["text"]
    (rcpt, content), *_ = box.messages
    msg = message_from_bytes(content, policy=default)
    assert rcpt == ["cx@example.com"] and "1 new emerging issue" in msg["Subject"]
    assert "155 negatives against 83.6 expected" in msg.get_content()
    # the same alert is never sent twice
    assert deliver_new(settings, channels) == "no new alerts to deliver"
    assert len(httpserver.log) == 1 and len(box.messages) == 1


def test_failed_channel_is_one_line_and_retried(warehouse, tmp_path, httpserver):
    httpserver.expect_request("/hook").respond_with_data("no", status=500)
    settings = dataclasses.replace(
        Settings.from_env(warehouse=warehouse), state_dir=tmp_path / "state"
    )
    channels = Channels(Webhook(httpserver.url_for("/hook")))
    with pytest.raises(DeliveryError, match="^webhook: HTTPStatusError"):
        deliver_new(settings, channels)
    assert not (tmp_path / "state" / "alerts_delivered.json").exists()  # retried next load
    assert "not sent: no channel" in deliver_new(settings, Channels())


def test_channels_from_opinion_yaml(tmp_path):
    cfg = tmp_path / "opinion.yaml"
    cfg.write_text(
        "version: 1\njobs: []\nnotify:\n  dashboard_url: https://cx\n"
        "  webhook: {url_env: HOOK}\n  email: {host: mail, port: 2525, from: a@b, to: c@d,"
        " password_env: PW, user_env: USER}\n"
    )
    ch = load_channels(cfg, {"HOOK": "https://hooks.example/x", "PW": "s3", "USER": "u"})
    assert ch.webhook == Webhook("https://hooks.example/x")
    assert ch.email == Email("mail", "a@b", ("c@d",), 2525, "u", "s3")
    assert not load_channels(cfg, {}).webhook  # the URL is a secret: only from the env
    cfg.write_text("version: 1\nnotify:\n  email: {host: mail}\n")
    with pytest.raises(ValueError, match="needs host, from and to"):
        load_channels(cfg, {})
