"""The shared HTTP policy against a real local server: retries, waits, errors, redaction."""

from __future__ import annotations

import logging
import time
from email.utils import formatdate

import pytest
from conftest import Resp

from opinion.sources.errors import TerminalError, TransientError
from opinion.sources.http import (
    HttpClient,
    HttpPolicy,
    parse_reset,
    parse_retry_after,
    redact,
    register_secret,
    safe_url,
)


def sequence(*responses):
    queue = list(responses)

    def handler(req):
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler


def fast(**kw) -> HttpClient:
    kw.setdefault("timeout", 0.3)
    return HttpClient(HttpPolicy(backoff_base=0.01, **kw))


def test_429_retry_after_one_second_real_elapsed(api):
    api.route("/x", sequence(Resp(429, {}, {"Retry-After": "1"}), Resp(200, {"ok": True})))
    with fast() as client:
        started = time.monotonic()
        data, _ = client.get_json(api.url + "/x")
    assert data == {"ok": True}
    first, second = api.requests("/x")
    assert second.t - first.t >= 1.0
    assert time.monotonic() - started >= 1.0


def test_retry_after_http_date_and_rate_limit_reset_use_injected_sleep(api):
    slept: list[float] = []
    when = formatdate(time.time() + 30, usegmt=True)
    api.route("/d", sequence(Resp(503, {}, {"Retry-After": when}), Resp(200, {})))
    api.route(
        "/r",
        lambda req: Resp(200, {}, {"X-Ratelimit-Remaining": "0.0", "X-Ratelimit-Reset": "12"}),
    )
    now = [1000.0]

    def sleep(seconds: float) -> None:  # a fake clock that moves only when we "sleep"
        slept.append(seconds)
        now[0] += seconds

    client = HttpClient(HttpPolicy(backoff_base=0.01), sleep=sleep, clock=lambda: now[0])
    client.get(api.url + "/d")
    assert 28 <= slept[0] <= 31  # waited for the HTTP date, not the ~10 ms backoff
    client.get(api.url + "/r")
    client.get(api.url + "/r")  # remaining 0: must wait for the reset before sending
    assert 11 <= slept[-1] <= 12.5
    client.close()


def test_retry_after_beyond_max_wait_is_transient(api):
    api.route("/long", lambda req: Resp(429, {}, {"Retry-After": "3600"}))
    with fast(max_wait=60) as client, pytest.raises(TransientError, match="3600"):
        client.get(api.url + "/long")


def test_500_then_success_and_exhausted_retries(api):
    api.route("/a", sequence(Resp(500), Resp(502), Resp(200, [1])))
    api.route("/b", lambda req: Resp(503, "down"))
    with fast(max_attempts=3) as client:
        assert client.get_json(api.url + "/a")[0] == [1]
        with pytest.raises(TransientError, match=r"after 3 attempt\(s\): HTTP 503"):
            client.get(api.url + "/b")
    assert len(api.requests("/b")) == 3


def test_timeout_is_retried(api):
    api.route("/slow", sequence(Resp(200, {"n": 1}, delay=0.8), Resp(200, {"n": 2})))
    with fast() as client:
        assert client.get_json(api.url + "/slow")[0] == {"n": 2}
        assert client.retries == 1


def test_connection_refused_is_transient():
    with fast(max_attempts=2) as client, pytest.raises(TransientError, match="connection"):
        client.get("http://127.0.0.1:9/nothing")


@pytest.mark.parametrize(
    "status,what", [(401, "credentials"), (403, "forbidden"), (404, "unknown")]
)
def test_terminal_statuses_fail_fast_in_one_line(api, status, what):
    register_secret("hunter2-super-secret")
    api.route("/t", lambda req: Resp(status, "bad token hunter2-super-secret\nline two"))
    with fast() as client, pytest.raises(TerminalError) as err:
        client.get(api.url + "/t", params={"access_token": "abc123xyz"})
    message = str(err.value)
    assert what in message and "\n" not in message
    assert "hunter2" not in message and "abc123xyz" not in message
    assert len(api.requests("/t")) == 1


def test_redaction_helpers():
    register_secret("pa55word-xyz")
    assert redact("login pa55word-xyz failed") == "login *** failed"
    assert "s3cr" not in safe_url("https://u:s3cr@h.example/p?client_secret=s3cr&q=delta")
    assert "q=delta" in safe_url("https://h.example/p", {"q": "delta", "token": "t0k"})
    assert "t0k" not in safe_url("https://h.example/p", {"q": "delta", "token": "t0k"})
    assert redact("Authorization: Bearer abc.def.ghi") == "Authorization: Bearer ***"
    assert parse_retry_after("7") == 7.0 and parse_retry_after("soon") is None
    assert parse_reset("30") == 30.0 and 0 <= parse_reset(str(int(time.time()) + 5)) <= 5


def test_httpx_request_log_is_redacted(api, caplog):
    register_secret("log-secret-value-42")
    api.route("/l", lambda req: Resp(200, {}))
    # Airflow's logging setup leaves the httpx logger at WARN; set it here so
    # the request line is really emitted, whatever ran before this test.
    with (
        caplog.at_level(logging.DEBUG),
        caplog.at_level(logging.DEBUG, logger="httpx"),
        fast() as client,
    ):
        client.get(api.url + "/l", params={"q": "log-secret-value-42"})
    assert "log-secret-value-42" not in caplog.text
    assert "/l" in caplog.text


def test_policy_validation():
    with pytest.raises(ValueError, match="max_attempts"):
        HttpPolicy(max_attempts=0)
