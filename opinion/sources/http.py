"""The one HTTP client policy every connector uses (httpx underneath).

* Timeouts on connect/read (`HttpPolicy.timeout`), a User-Agent naming opinion.
* Retries for 408/429/5xx, timeouts and connection errors: exponential backoff with jitter,
  `max_attempts` in all (default 5), then `TransientError`.
* `Retry-After` (seconds or an HTTP date) is honoured, and no request — retry or not — is sent
  before the time it names. `X-RateLimit-Remaining: 0` (also Reddit's `X-Ratelimit-*`
  spelling; header names are case-insensitive) makes the next request wait for
  `X-RateLimit-Reset` (seconds from now, or a Unix time when it is that large).
* 401/403 → `TerminalError` (credentials), 404 → `TerminalError` (unknown resource), other 4xx
  → `TerminalError` naming the status.
* Secrets never leave: every registered secret (tokens, passwords, client secrets) and every
  sensitive query parameter / URL user-info is replaced by `***` in exception messages, log
  lines (ours and httpx's own request log) and page keys.

`sleep` and `clock` are injectable so tests can run fast; the defaults are real time.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from opinion.sources.errors import TerminalError, TransientError

log = logging.getLogger(__name__)

try:
    from importlib.metadata import version as _version

    _VERSION = _version("opinion")
except Exception:  # pragma: no cover - not installed
    _VERSION = "0.1"

USER_AGENT = f"opinion/{_VERSION} (social-media opinion mining; python-httpx)"
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
SENSITIVE_PARAMS = re.compile(
    r"(token|secret|password|passwd|pwd|api[_-]?key|apikey|key|sig|signature|auth|session|jwt)",
    re.IGNORECASE,
)
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})

# ---------------------------------------------------------------- secrets

_SECRETS: set[str] = set()
_LOCK = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret value so every message passing through `redact` hides it."""
    if value and len(value) >= 4:
        with _LOCK:
            _SECRETS.add(value)


def redact(text: object) -> str:
    """`text` with registered secrets, sensitive query values and URL user-info masked."""
    out = str(text)
    with _LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in out:
            out = out.replace(secret, "***")
    out = re.sub(r"(https?://)[^/\s:@]+:[^/\s@]+@", r"\1***:***@", out)
    out = re.sub(
        r"([?&;](?:[\w.\-]*(?:token|secret|password|passwd|api_?key|apikey|sig|jwt)[\w.\-]*)=)"
        r"[^&\s\"']+",
        r"\1***",
        out,
        flags=re.IGNORECASE,
    )
    return re.sub(r"(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+", r"\1 ***", out)


def safe_url(url: httpx.URL | str, params: dict | None = None) -> str:
    """The URL (with `params`) as it may appear in messages: secrets masked."""
    parts = urlsplit(str(url))
    query = parse_qsl(parts.query, keep_blank_values=True)
    if params:
        query += [(k, str(v)) for k, v in params.items() if v is not None]
    query = [(k, "***" if SENSITIVE_PARAMS.search(k) else v) for k, v in query]
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return redact(urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), "")))


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # pragma: no cover - broken format args
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


for _name in ("httpx", "httpcore", __name__):
    logging.getLogger(_name).addFilter(_RedactingFilter())


# ---------------------------------------------------------------- policy


@dataclass(frozen=True)
class HttpPolicy:
    """Timeouts, retries and waiting rules shared by all connectors."""

    timeout: float = 30.0
    connect_timeout: float = 10.0
    max_attempts: int = 5
    backoff_base: float = 1.0  # first retry waits ~1 s, then 2, 4, 8 … (with jitter)
    backoff_max: float = 60.0
    max_wait: float = 900.0  # a Retry-After / reset further away than this is not waited for
    user_agent: str = USER_AGENT

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 20:
            raise ValueError(f"max_attempts must be 1..20, got {self.max_attempts}")
        if self.timeout <= 0 or self.connect_timeout <= 0:
            raise ValueError("timeouts must be > 0")

    def backoff(self, attempt: int) -> float:
        """Delay before retry number `attempt` (1-based): exponential, half of it jittered."""
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def parse_reset(value: str | None, now: float | None = None) -> float | None:
    """Seconds until a rate-limit window resets: delta seconds (Reddit), or a Unix time."""
    if not value:
        return None
    try:
        reset = float(value.strip())
    except ValueError:
        return parse_retry_after(value, now)
    if reset > 1e9:  # an absolute Unix time (GitHub/Mastodon-style epoch)
        reset -= time.time() if now is None else now
    return max(0.0, reset)


class HttpClient:
    """`get` / `post` / `get_json` under the shared policy. One per source run."""

    def __init__(
        self,
        policy: HttpPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.policy = policy or HttpPolicy()
        self.sleep = sleep
        self.clock = clock
        self._not_before = 0.0
        self._wait_reason = "rate limit"  # what set _not_before: logged with the wait (F16)
        self.requests = 0
        self.retries = 0
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.policy.timeout, connect=self.policy.connect_timeout),
            headers={"User-Agent": self.policy.user_agent, "Accept": "application/json"},
            follow_redirects=True,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -------------------------------------------------------------- waiting

    def _wait_turn(self) -> None:
        delay = self._not_before - self.clock()
        if delay > 0:
            log.info("waiting %.1f s before the next request (%s)", delay, self._wait_reason)
            self.sleep(delay)

    def _defer(self, seconds: float, what: str, url: str) -> None:
        if seconds > self.policy.max_wait:
            raise TransientError(
                f"{what} asks to wait {seconds:.0f} s (> max_wait {self.policy.max_wait:.0f} s)"
                f" for {url}"
            )
        if self.clock() + seconds >= self._not_before:
            self._not_before = self.clock() + seconds
            self._wait_reason = what

    def _note_rate_limit(self, response: httpx.Response, url: str) -> None:
        remaining = response.headers.get("x-ratelimit-remaining")
        if remaining is None:
            return
        try:
            left = float(remaining)
        except ValueError:
            return
        if left < 1:
            reset = parse_reset(response.headers.get("x-ratelimit-reset"))
            if reset:
                self._defer(reset, "X-RateLimit-Reset", url)

    # -------------------------------------------------------------- requests

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict | None = None,
        headers: dict | None = None,
        data: dict | None = None,
        json_body: Any = None,
        auth: tuple[str, str] | None = None,
    ) -> httpx.Response:
        """Send with retries; returns a 2xx/3xx response or raises a `SourceError`."""
        shown = safe_url(url, params)
        params = {k: v for k, v in (params or {}).items() if v is not None}
        last = ""
        for attempt in range(1, self.policy.max_attempts + 1):
            self._wait_turn()
            self.requests += 1
            try:
                response = self._client.request(
                    method, url, params=params, headers=headers, data=data, json=json_body,
                    auth=auth,
                )  # fmt: skip
            except httpx.TimeoutException as exc:
                last = f"timeout ({type(exc).__name__})"
            except httpx.TransportError as exc:
                last = f"connection error ({type(exc).__name__}: {redact(exc)})"
            else:
                status = response.status_code
                self._note_rate_limit(response, shown)
                if status < 400:
                    return response
                if status not in RETRY_STATUSES:
                    raise _terminal(status, method, shown, response)
                last = f"HTTP {status}"
                wait = parse_retry_after(response.headers.get("retry-after"))
                if wait is not None:
                    self._defer(wait, "Retry-After", shown)
            if attempt == self.policy.max_attempts:
                break
            self.retries += 1
            delay = self.policy.backoff(attempt)
            log.warning(
                "%s %s failed (%s); retry %d/%d",
                method,
                shown,
                last,
                attempt,
                self.policy.max_attempts - 1,
            )
            self._defer(delay, "backoff", shown)
        raise TransientError(
            f"{method} {shown} failed after {self.policy.max_attempts} attempt(s): {last}"
        )

    def get(self, url: str, **kw) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw) -> httpx.Response:
        return self.request("POST", url, **kw)

    def get_json(self, url: str, **kw) -> tuple[Any, httpx.Response]:
        """GET and parse JSON. A body that is not JSON raises `MalformedBody` (carrying the
        response, so a connector can still read paging headers and turn it into a reject)."""
        response = self.get(url, **kw)
        return parse_json(response), response


class MalformedBody(TerminalError):
    """The response body is not the JSON (or XML) the platform documents."""

    def __init__(self, message: str, response: httpx.Response | None = None) -> None:
        super().__init__(message)
        self.response = response


def parse_json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedBody(f"invalid JSON ({exc})", response) from None


def _terminal(status: int, method: str, url: str, response: httpx.Response) -> TerminalError:
    if status in (401, 403):
        why = "credentials rejected or missing" if status == 401 else "access forbidden"
    elif status == 404:
        why = "unknown resource (check instance, subreddit, app id or feed URL)"
    else:
        why = "request refused"
    detail = redact(response.text[:200].replace("\n", " ").strip()) if response.content else ""
    return TerminalError(
        f"{method} {url}: HTTP {status} {why}" + (f" — {detail}" if detail else "")
    )
