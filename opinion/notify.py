"""Alerts that reach a person: a failed task, a missed deadline, a stale warehouse.

Two channels, each switched on by an Airflow connection (so no secret sits in a file or a
log, and every worker reads the same one):

* `opinion_alert_webhook` (conn_type http): a Slack-compatible JSON POST `{"text": ...}` to
  the connection's host when it is a full URL (`https://hooks.slack.com/services/...`), else
  to `schema://host:port/` + extra `path`; a password is sent as a Bearer token.
* `opinion_alert_smtp` (conn_type smtp, the SMTP provider's fields): host, port, login,
  password; extra `to` (comma-separated, required), `from_email`, `disable_ssl`,
  `disable_tls` (as the provider: SSL unless `disable_ssl`, STARTTLS unless `disable_tls`).

A channel without its connection is skipped; a channel that fails is logged and never masks
the task's own failure. `OpinionNotifier` is the tasks' `on_failure_callback`,
`deadline_missed` the `SyncCallback` of the DAGs' `DeadlineAlert`.
The manager's-view alerts deliver business alerts, these operations alerts; both go out through
the same senders (`opinion.insights.delivery.post_webhook` / `send_mail`).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier

from opinion.health import failure_summary
from opinion.insights.delivery import Email, Webhook, post_webhook, send_mail

log = logging.getLogger(__name__)

WEBHOOK_CONN_ID = os.environ.get("OPINION_ALERT_WEBHOOK_CONN_ID", "opinion_alert_webhook")
SMTP_CONN_ID = os.environ.get("OPINION_ALERT_SMTP_CONN_ID", "opinion_alert_smtp")
TIMEOUT_S = 10.0


def connection(conn_id: str) -> Any | None:
    """The Airflow connection `conn_id`, or None when it is not defined. Inside a task it comes
    through the task SDK (any secrets backend); elsewhere (a deadline callback, a test) from
    `AIRFLOW_CONN_<ID>` in the environment (JSON or URI)."""
    from airflow.sdk import Connection

    try:
        return Connection.get(conn_id)
    except Exception:  # noqa: BLE001 - no task SDK here, or not defined: try the environment
        pass
    raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if not raw:
        return None
    if raw.lstrip().startswith("{"):
        return Connection.from_json(raw, conn_id=conn_id)
    return Connection.from_uri(raw, conn_id=conn_id)


def _extra(conn: Any) -> dict:
    extra = getattr(conn, "extra_dejson", None)
    if extra is None:
        raw = getattr(conn, "extra", None) or "{}"
        extra = json.loads(raw) if isinstance(raw, str) else dict(raw)
    return extra or {}


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def webhook_url(conn: Any) -> str:
    """Where the webhook posts: the host when it is a whole URL, else built from the fields."""
    host = (conn.host or "").strip()
    if host.startswith(("http://", "https://")):
        return host
    scheme = conn.schema or "https"
    port = f":{conn.port}" if conn.port else ""
    path = str(_extra(conn).get("path", "")).lstrip("/")
    return f"{scheme}://{host}{port}/{path}"


def webhook_channel(conn: Any) -> Webhook:
    """The webhook of connection `opinion_alert_webhook`; its password is a Bearer token."""
    return Webhook(webhook_url(conn), TIMEOUT_S, conn.password or None)


def email_channel(conn: Any) -> Email:
    """The e-mail channel of connection `opinion_alert_smtp` (the SMTP provider's fields)."""
    extra = _extra(conn)
    to = tuple(a.strip() for a in str(extra.get("to", "")).split(",") if a.strip())
    if not to:
        raise ValueError(f"connection {SMTP_CONN_ID}: extra 'to' (recipients) is empty")
    use_ssl = not _flag(extra.get("disable_ssl"))
    return Email(
        host=conn.host,
        sender=extra.get("from_email") or conn.login or "opinion@localhost",
        to=to,
        port=int(conn.port or (465 if use_ssl else 25)),
        user=conn.login or None,
        password=conn.password or None,
        starttls=not use_ssl and not _flag(extra.get("disable_tls")),
        timeout=TIMEOUT_S,
        ssl=use_ssl,
    )


def send_webhook(conn: Any, subject: str, text: str) -> None:
    post_webhook(webhook_channel(conn), subject, text)


def send_email(conn: Any, subject: str, text: str) -> None:
    send_mail(email_channel(conn), subject, text)


def deliver(subject: str, text: str) -> dict[str, str]:
    """Send one alert to every configured channel; `{channel: sent | not configured | failed:
    ...}`. Never raises: an alert that cannot be sent is logged (without secrets)."""
    out: dict[str, str] = {}
    for name, conn_id, send in (
        ("webhook", WEBHOOK_CONN_ID, send_webhook),
        ("email", SMTP_CONN_ID, send_email),
    ):
        try:
            conn = connection(conn_id)
            if conn is None:
                out[name] = "not configured"
                continue
            send(conn, subject, text)
            out[name] = "sent"
        except Exception as exc:  # noqa: BLE001 - an alert must never mask the task's failure
            out[name] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            log.error("alert via %s (%s) not sent: %s", name, conn_id, out[name])
    log.info("alert %r: %s", subject, ", ".join(f"{k} {v}" for k, v in out.items()))
    return out


class OpinionNotifier(BaseNotifier):
    """`on_failure_callback` of every opinion task: the one-line summary (dag, task, map
    index, try, first line of the error) to the log and to every configured channel."""

    template_fields = ()

    def notify(self, context: Any) -> None:
        line = failure_summary(dict(context))
        log.error(line)
        ti = context.get("ti") or context.get("task_instance")
        where = f"{getattr(ti, 'dag_id', '?')}.{getattr(ti, 'task_id', '?')}"
        subject = f"[opinion] task failed: {where}"
        deliver(subject, line)


def deadline_missed(context: dict | None = None, **kwargs: Any) -> dict[str, str]:
    """`SyncCallback` of a `DeadlineAlert`: the run named in `context["dag_run"]` has not
    finished by its deadline (e.g. opinion_load queued with its writer worker down)."""
    context = context or {}
    run = context.get("dag_run") or {}
    deadline = (context.get("deadline") or {}).get("deadline_time", "?")
    dag_id, run_id = run.get("dag_id", "?"), run.get("dag_run_id") or run.get("run_id", "?")
    text = (
        f"opinion deadline missed: dag={dag_id} run={run_id} state={run.get('state', '?')} "
        f"queued_at={run.get('queued_at', '?')} deadline={deadline}"
        + (f" ({kwargs['what']})" if kwargs.get("what") else "")
    )
    log.error(text)
    return deliver(f"[opinion] deadline missed: {dag_id}", text)
