"""Sending a message to people: a webhook (Slack-compatible JSON `{"text": ...}`) and e-mail
(SMTP). The alert delivery at the end of a load uses it, and so does the Airflow failure
notifier: one place that knows how to reach people.

Configured in opinion.yaml under `notify:` (secrets stay in the environment, never in the
file), or built directly (`Channels(...)`) from an Airflow connection:

    notify:
      dashboard_url: https://cx.example.com      # links in the messages
      webhook: {url_env: OPINION_ALERT_WEBHOOK}   # the URL itself is a secret
      email:
        host: smtp.example.com
        port: 587
        starttls: true
        from: opinion@example.com
        to: [cx-team@example.com]
        user_env: OPINION_SMTP_USER
        password_env: OPINION_SMTP_PASSWORD

`OPINION_ALERT_WEBHOOK` alone (no `notify:`) enables the webhook too. Which alerts are new is
remembered in `state_dir/alerts_delivered.json`: an alert is sent once, after it is sent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from opinion.config import Settings

STATE_FILE = "alerts_delivered.json"
KEEP = 2000  # delivered alert keys remembered (the history holds far fewer windows)


class DeliveryError(RuntimeError):
    """A channel refused or could not be reached (one line: which and why)."""


@dataclass(frozen=True)
class Webhook:
    url: str
    timeout: float = 10.0
    token: str | None = None  # sent as a Bearer token when set


@dataclass(frozen=True)
class Email:
    host: str
    sender: str
    to: tuple[str, ...]
    port: int = 25
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0
    ssl: bool = False  # SMTP over TLS from the first byte (port 465), else plain + STARTTLS


@dataclass(frozen=True)
class Channels:
    webhook: Webhook | None = None
    email: Email | None = None
    dashboard_url: str = ""

    def __bool__(self) -> bool:
        return self.webhook is not None or self.email is not None


def _config_path() -> Path:
    from opinion.sources.config import config_path

    return config_path()


def load_channels(path: Path | None = None, env: Mapping[str, str] | None = None) -> Channels:
    """The channels of opinion.yaml's `notify:` (none when absent); ValueError when invalid."""
    import yaml

    env = os.environ if env is None else env
    path = path or _config_path()
    data = {}
    if path.exists():
        data = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("notify") or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path.name}: notify must be a mapping")
    webhook = None
    hook = data.get("webhook") or {}
    url = env.get(hook.get("url_env", "OPINION_ALERT_WEBHOOK")) or hook.get("url")
    if url:
        if not str(url).startswith(("https://", "http://")):
            raise ValueError(f"{path.name}: notify.webhook url must be http(s)")
        webhook = Webhook(str(url))
    email = None
    mail = data.get("email")
    if mail:
        to = mail.get("to") or []
        to = (to,) if isinstance(to, str) else tuple(to)
        if not mail.get("host") or not mail.get("from") or not to:
            raise ValueError(f"{path.name}: notify.email needs host, from and to")
        email = Email(
            host=str(mail["host"]),
            sender=str(mail["from"]),
            to=to,
            port=int(mail.get("port", 25)),
            user=env.get(mail["user_env"]) if mail.get("user_env") else None,
            password=env.get(mail["password_env"]) if mail.get("password_env") else None,
            starttls=bool(mail.get("starttls", False)),
        )
    return Channels(webhook, email, str(data.get("dashboard_url") or ""))


def send(channels: Channels, subject: str, text: str) -> list[str]:
    """Send one message on every configured channel; the names of those that took it.
    DeliveryError names the first channel that failed (the others are still tried)."""
    import httpx

    sent, failed = [], []
    if channels.webhook is not None:
        try:
            post_webhook(channels.webhook, subject, text)
            sent.append("webhook")
        except httpx.HTTPError as exc:
            failed.append(f"webhook: {type(exc).__name__}: {exc}".splitlines()[0])
    if channels.email is not None:
        try:
            send_mail(channels.email, subject, text)
            sent.append("e-mail")
        except (OSError, ValueError) as exc:  # smtplib errors are OSErrors
            failed.append(f"e-mail: {type(exc).__name__}: {exc}".splitlines()[0])
    if failed:
        raise DeliveryError("; ".join(failed) + (f" (sent by {', '.join(sent)})" if sent else ""))
    return sent


def post_webhook(hook: Webhook, subject: str, text: str) -> None:
    """POST `{"text": "*subject*\\ntext"}` (Slack, Mattermost, Teams workflows and most chat
    tools accept it); raises httpx.HTTPError on a non-2xx answer."""
    import httpx

    headers = {"Authorization": f"Bearer {hook.token}"} if hook.token else {}
    resp = httpx.post(
        hook.url, json={"text": f"*{subject}*\n{text}"}, headers=headers, timeout=hook.timeout
    )
    resp.raise_for_status()


def send_mail(cfg: Email, subject: str, text: str) -> None:
    """One plain-text message to `cfg.to` over its SMTP server."""
    import smtplib
    import ssl
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = subject, cfg.sender, ", ".join(cfg.to)
    msg.set_content(text)
    if cfg.ssl:
        server: smtplib.SMTP = smtplib.SMTP_SSL(
            cfg.host, cfg.port, timeout=cfg.timeout, context=ssl.create_default_context()
        )
    else:
        server = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
    with server:
        if cfg.starttls and not cfg.ssl:
            server.starttls(context=ssl.create_default_context())
        if cfg.user:
            server.login(cfg.user, cfg.password or "")
        server.send_message(msg)


def alert_key(row: dict) -> str:
    return "|".join(
        (row["brand"], row["touchpoint"], row["category"], row["window_end"].isoformat())
    )


def alert_message(rows: list[dict], base: str = "") -> tuple[str, str]:
    """(subject, text) of a message announcing `rows` (new alerts), each with its posts link."""
    from opinion.insights.alerts import posts_link

    brands = sorted({r["brand"] for r in rows})
    subject = f"opinion: {len(rows)} new emerging issue{'s' if len(rows) != 1 else ''} " + (
        f"({', '.join(brands)})"
    )
    lines = []
    for r in rows:
        lines.append(
            f"• {r['brand']} › {r['touchpoint']} › {r['category']}: {r['negatives']} negatives "
            f"against {r['baseline_mean']:.1f} expected (p = {r['p_value']:.1e}, severity "
            f"{r['severity']}), {r['window_start']:%Y-%m-%d %H:%M} → "
            f"{r['window_end']:%Y-%m-%d %H:%M} UTC\n  posts: {posts_link(r, base)}"
        )
    return subject, "\n".join(lines)


def deliver_new(settings: Settings, channels: Channels | None = None) -> str:
    """Send the latest window's alerts not sent before; one line saying what happened.
    Alerts are remembered as sent only once a channel took them."""
    from opinion.insights.alerts import emerging_issues

    channels = load_channels() if channels is None else channels
    state = Path(settings.state_dir) / STATE_FILE
    done: list[str] = json.loads(state.read_text(encoding="utf-8")) if state.exists() else []
    rows = [r for r in emerging_issues(settings) if alert_key(r) not in set(done)]
    if not rows:
        return "no new alerts to deliver"
    if not channels:
        return f"{len(rows)} new alert(s), not sent: no channel configured (opinion.yaml notify:)"
    subject, text = alert_message(rows, channels.dashboard_url)
    sent = send(channels, subject, text)
    done = (done + [alert_key(r) for r in rows])[-KEEP:]
    state.parent.mkdir(parents=True, exist_ok=True)
    tmp = state.with_name(state.name + ".tmp")
    tmp.write_text(json.dumps(done), encoding="utf-8")
    os.replace(tmp, state)
    return f"delivered {len(rows)} new alert(s) by {' and '.join(sent)}"
