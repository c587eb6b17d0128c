"""One delivery: an event POSTed to the shop's URL, signed per Standard Webhooks.

Signed at each try (`webhook-timestamp` is the try's time, so a retry an hour later
is not refused as stale); the body is the event's payload exactly as the outbox
holds it, and `webhook-id` is the event's id. Blocking (the stdlib's HTTP client):
the sender runs deliveries on a pool of threads. Only a 2xx is a delivery; no
redirect is followed (a POST must not turn into a GET) and no proxy is read from
the environment (flashsale.config is the one reader of it).
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime

from standardwebhooks import Webhook

from flashsale.webhooks.outbox import OutboxRow

USER_AGENT = "flashsale-webhooks/1"
ERROR_TEXT_CHARS = 200


@dataclass(frozen=True)
class Result:
    ok: bool
    error: str = ""  # why it failed: the status, or the connection's error


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Deliverer:
    def __init__(self, url: str, secret: str, timeout_s: float) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._webhook = Webhook(secret)
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)

    def headers(self, row: OutboxRow, at: datetime) -> dict[str, str]:
        return {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": row.event_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": self._webhook.sign(row.event_id, at, row.payload),
        }

    def deliver(self, row: OutboxRow) -> Result:
        request = urllib.request.Request(
            self.url,
            data=row.payload.encode(),
            headers=self.headers(row, datetime.now(UTC)),
            method="POST",
        )
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            return Result(False, f"HTTP {exc.code}")
        except (
            OSError,
            ValueError,
            http.client.HTTPException,
        ) as exc:  # refused, reset, timed out, a bad answer
            return Result(False, f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_CHARS])
        if 200 <= status < 300:
            return Result(True)
        return Result(False, f"HTTP {status}")
