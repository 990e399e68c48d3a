"""Retraining hooks: a signed JSON webhook (and the shared HTTP retry loop).

:class:`WebhookHook` POSTs ``{"event", "delivery", "sent_at", "payload"}`` to a URL.
When ``secret_env`` names an environment variable, the request carries

- ``X-Accuguard-Timestamp``: unix seconds, and
- ``X-Accuguard-Signature``: ``sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``,

so a receiver can check both origin and freshness (:func:`verify_signature`). The
delivery id (``X-Accuguard-Delivery``) stays the same across retries: receivers
deduplicate on it. Retries (exponential backoff, ``Retry-After`` honoured up to 30 s)
happen on connection errors, timeouts, 429 and 5xx, never on other 4xx. The secret is
read from the environment when a request is signed and never logged, returned or put in
an exception message. No shell is ever involved: plain HTTP through httpx.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx

from accuguard.errors import ConfigError, InputError

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Accuguard-Signature"
TIMESTAMP_HEADER = "X-Accuguard-Timestamp"
DELIVERY_HEADER = "X-Accuguard-Delivery"
EVENT_HEADER = "X-Accuguard-Event"
MAX_PAYLOAD_BYTES = 256 * 1024
RETRY_AFTER_CAP_S = 30.0

__all__ = [
    "Hook",
    "HookError",
    "HookResult",
    "WebhookHook",
    "check_payload",
    "sign",
    "verify_signature",
]


class HookError(InputError):
    """A hook was configured or called with bad input (not a delivery failure)."""


class Hook(Protocol):
    """Anything that can deliver an alert: ``send(event, payload) -> HookResult``."""

    name: str

    def send(
        self, event: str, payload: Mapping[str, Any], *, delivery: str | None = None
    ) -> HookResult: ...


@dataclass(frozen=True)
class HookResult:
    """How a delivery went: ``ok``, the last HTTP status, how many attempts, why not."""

    hook: str
    ok: bool
    status_code: int | None
    attempts: int
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return {
            "hook": self.hook,
            "ok": self.ok,
            "status_code": self.status_code,
            "attempts": self.attempts,
            "error": self.error,
            "detail": self.detail,
        }


def check_payload(
    payload: Any, *, what: str = "payload", max_bytes: int = MAX_PAYLOAD_BYTES
) -> bytes:
    """The compact JSON encoding of ``payload``, or :class:`HookError` saying what is wrong.

    The payload must be a mapping with string keys, made only of JSON types (no NaN or
    infinity, no objects serialised by ``str()``), and at most ``max_bytes`` encoded.

    >>> check_payload({"a": [1, 2.5, None]})
    b'{"a":[1,2.5,null]}'
    """
    if not isinstance(payload, Mapping):
        raise HookError(f"{what} must be a JSON object (a mapping); got {type(payload).__name__}")
    try:
        body = json.dumps(
            payload, allow_nan=False, separators=(",", ":"), sort_keys=True, ensure_ascii=False
        ).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise HookError(f"{what} is not JSON-serialisable: {exc}") from None
    if len(body) > max_bytes:
        raise HookError(f"{what} is {len(body)} bytes encoded; at most {max_bytes} allowed")
    return body


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value: ``sha256=`` + hex HMAC-SHA256 of ``timestamp.body``.

    >>> sign(b"k", "1", b"{}")[:15]
    'sha256=3dd49b25'
    """
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: bytes,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """Check a received webhook: the signature matches (constant time) and is fresh."""
    try:
        sent = float(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def redact_url(url: str) -> str:
    """The URL without credentials, query or fragment, for logs and results.

    >>> redact_url("https://user:pw@hooks.example/x?token=abc")
    'https://hooks.example/x'
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), RETRY_AFTER_CAP_S)
    except ValueError:
        return None


def post_with_retries(
    client: httpx.Client,
    url: str,
    body: bytes,
    headers: Callable[[], dict[str, str]],
    *,
    hook: str,
    retries: int,
    backoff_s: float,
    sleep: Callable[[float], None] = time.sleep,
    accept: Callable[[httpx.Response], bool] | None = None,
) -> tuple[HookResult, httpx.Response | None]:
    """POST ``body`` until success, a non-retryable answer or ``retries`` retries.

    ``headers()`` is called per attempt (fresh timestamp and signature). ``accept``
    decides which responses count as success (default: 2xx).
    """
    ok = accept or (lambda r: r.is_success)
    shown = redact_url(url)
    last: httpx.Response | None = None
    error: str | None = None
    attempt = 0
    for attempt in range(1, retries + 2):
        wait = backoff_s * (2 ** (attempt - 1))
        try:
            last = client.post(url, content=body, headers=headers())
        except httpx.TimeoutException:
            last, error = None, "timed out"
        except httpx.TransportError as exc:
            last, error = None, f"connection failed ({type(exc).__name__})"
        else:
            if ok(last):
                return HookResult(hook, True, last.status_code, attempt), last
            error = f"HTTP {last.status_code}"
            if last.status_code != 429 and last.status_code < 500:
                break  # the receiver refused the request itself: retrying will not help
            wait = max(wait, _retry_after(last) or 0.0)
        if attempt <= retries:
            log.warning(
                "%s delivery to %s failed (%s); retry %d/%d in %.1fs",
                hook,
                shown,
                error,
                attempt,
                retries,
                wait,
            )
            sleep(wait)
    log.error("%s delivery to %s failed after %d attempt(s): %s", hook, shown, attempt, error)
    status = None if last is None else last.status_code
    return HookResult(hook, False, status, attempt, error, {"url": shown}), last


class WebhookHook:
    """POST a signed JSON alert to ``url`` (see the module docstring for the format)."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        *,
        secret_env: str | None = None,
        timeout_s: float = 5.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise ConfigError(
                f"webhook.url: expected an http:// or https:// URL; got {redact_url(url)!r}"
            )
        if secret_env is not None and not os.environ.get(secret_env):
            raise ConfigError(
                f"webhook.secret_env: environment variable {secret_env} is not "
                "set (or empty); it must hold the signing secret"
            )
        self.url = url
        self.secret_env = secret_env
        self.retries = retries
        self.backoff_s = backoff_s
        self._client = client or httpx.Client(timeout=timeout_s, follow_redirects=False)
        self._own_client = client is None
        self._sleep = sleep

    def _headers(self, event: str, delivery: str, body: bytes) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "accuguard-monitor",
            EVENT_HEADER: event,
            DELIVERY_HEADER: delivery,
        }
        if self.secret_env is not None:
            secret = os.environ.get(self.secret_env, "")
            if not secret:
                raise HookError(
                    f"environment variable {self.secret_env} (webhook secret) is not set"
                )
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(secret.encode("utf-8"), timestamp, body)
        return headers

    def send(
        self, event: str, payload: Mapping[str, Any], *, delivery: str | None = None
    ) -> HookResult:
        """Deliver ``payload`` as event ``event``; never raises for delivery failures."""
        delivery = delivery or str(uuid.uuid4())
        envelope = {
            "event": event,
            "delivery": delivery,
            "sent_at": time.time(),
            "payload": dict(payload),
        }
        body = check_payload(envelope)
        result, _ = post_with_retries(
            self._client,
            self.url,
            body,
            lambda: self._headers(event, delivery, body),
            hook=self.name,
            retries=self.retries,
            backoff_s=self.backoff_s,
            sleep=self._sleep,
        )
        return HookResult(
            result.hook,
            result.ok,
            result.status_code,
            result.attempts,
            result.error,
            {**result.detail, "delivery": delivery},
        )

    def close(self) -> None:
        """Close the HTTP client if this hook created it."""
        if self._own_client:
            self._client.close()
