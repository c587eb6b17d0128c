"""One delivery: an event POSTed to the shop's URL, signed per Standard Webhooks.

Signed at each try (`webhook-timestamp` is the try's time, so a retry an hour later
is not refused as stale); the body is the event's payload exactly as the outbox
holds it, and `webhook-id` is the event's id. Blocking (the stdlib's HTTP client):
the sender runs deliveries on a pool of threads, each keeping its own connection
alive (no connect per event). The sender spends about 0.6 ms of CPU per event
either way (docs/performance.md has no row for it yet): it runs niced, below the
purchase path.
Only a 2xx is a delivery; a redirect is not followed (a POST must not turn into a
GET) and no proxy is read from the environment (flashsale.config reads it alone).
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from standardwebhooks import Webhook

from flashsale.webhooks.outbox import OutboxRow

USER_AGENT = "flashsale-webhooks/1"
ERROR_TEXT_CHARS = 200


@dataclass(frozen=True)
class Result:
    ok: bool
    error: str = ""  # why it failed: the status, or the connection's error


class Deliverer:
    def __init__(self, url: str, secret: str, timeout_s: float) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._webhook = Webhook(secret)
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._host_header = parts.netloc.rpartition("@")[2]
        self._local = threading.local()

    def headers(self, row: OutboxRow, at: datetime) -> dict[str, str]:
        return {
            "Host": self._host_header,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": row.event_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": self._webhook.sign(row.event_id, at, row.payload),
        }

    def deliver(self, row: OutboxRow) -> Result:
        body = row.payload.encode()
        headers = self.headers(row, datetime.now(UTC))
        reused = getattr(self._local, "connection", None) is not None
        try:
            status = self._post(body, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
            self._drop()
            if not reused:
                return _failed(exc)
            # A kept connection the receiver had closed meanwhile: once more on a new one.
            try:
                status = self._post(body, headers)
            except (OSError, http.client.HTTPException) as again:
                self._drop()
                return _failed(again)
        except (OSError, http.client.HTTPException) as exc:  # refused, timed out, a bad answer
            self._drop()
            return _failed(exc)
        if 200 <= status < 300:
            return Result(True)
        return Result(False, f"HTTP {status}")

    def _post(self, body: bytes, headers: dict[str, str]) -> int:
        connection = self._connection()
        connection.request("POST", self._target, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.will_close:
            self._drop()
        return response.status

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            connection = kind(self._host, self._port, timeout=self.timeout_s)
            self._local.connection = connection
        return connection

    def close(self) -> None:
        """Close the calling thread's kept connection."""
        self._drop()

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


def _failed(exc: BaseException) -> Result:
    return Result(False, f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_CHARS])
