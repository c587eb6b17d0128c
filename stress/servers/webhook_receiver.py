"""A webhook receiver for the tests and the stress runs: an HTTP server on 127.0.0.1
that verifies each delivery as the shop's backend should.

- The signature is checked with the `standardwebhooks` package (a forged one: 400);
- a timestamp outside `tolerance_s` of now is refused (400): an old message replayed;
- a `webhook-id` seen before is not processed again (200, counted as a duplicate):
  the sender delivers at least once, and a replay within the tolerance is caught here;
- what was accepted is recorded, in arrival order.

It can fail on purpose: refuse connections (`down`), answer 500 (`fail_for`), or hold
each request without answering (`hang_for`), each for a while.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from standardwebhooks import Webhook, WebhookVerificationError

DEFAULT_TOLERANCE_S = 300.0
# A hanging request is held at most this long (a test's server must stop).
MAX_HANG_S = 600.0


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A sender that went away mid-connection (stopped, killed) is no error here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Arrival:
    webhook_id: str
    type: str
    data: dict[str, Any]
    timestamp: str  # the event's, from the payload
    signed_at: int  # the delivery's webhook-timestamp
    arrived_at: float  # time.time() here


@dataclass(frozen=True)
class Verdict:
    status: int
    reason: str  # "accepted", "duplicate", "forged", "stale", "failing"


class WebhookReceiver:
    def __init__(
        self, secret: str, *, tolerance_s: float = DEFAULT_TOLERANCE_S, port: int = 0
    ) -> None:
        self._webhook = Webhook(secret)
        self.tolerance_s = tolerance_s
        self._lock = threading.Lock()
        self.arrivals: list[Arrival] = []
        self._seen: set[str] = set()
        self.counts: dict[str, int] = {}
        self._fail_until = 0.0
        self._hang_until = 0.0
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self.port = port
        self.requests = 0

    # -- the server ------------------------------------------------------------------
    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks"

    def start(self) -> None:
        """Listen (again, on the same port after `down`)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if receiver._server is None:  # down: a kept connection is cut, unanswered
                    self.close_connection = True
                    return
                verdict = receiver.receive(body, dict(self.headers.items()))
                answer = json.dumps({"result": verdict.reason}).encode()
                self.send_response(verdict.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = _Server(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True).start()

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def down(self) -> None:
        """Stop listening: deliveries are refused until `start`."""
        self.stop()
        self._release.clear()

    def fail_for(self, seconds: float) -> None:
        """Answer 500 to every delivery for `seconds`."""
        self._fail_until = time.monotonic() + seconds

    def hang_for(self, seconds: float) -> None:
        """Hold every delivery without an answer for `seconds` (or until `stop`)."""
        self._release.clear()
        self._hang_until = time.monotonic() + seconds

    # -- what a shop's backend does with a delivery ---------------------------------
    def receive(self, body: bytes, headers: dict[str, str]) -> Verdict:
        with self._lock:
            self.requests += 1
        hang_s = self._hang_until - time.monotonic()
        if hang_s > 0:
            self._release.wait(min(hang_s, MAX_HANG_S))
        if time.monotonic() < self._fail_until:
            return self._count(Verdict(500, "failing"))
        verdict, arrival = self.verify(body, headers)
        if arrival is not None:
            with self._lock:
                if arrival.webhook_id in self._seen:
                    verdict = Verdict(200, "duplicate")
                else:
                    self._seen.add(arrival.webhook_id)
                    self.arrivals.append(arrival)
        return self._count(verdict)

    def verify(self, body: bytes, headers: dict[str, str]) -> tuple[Verdict, Arrival | None]:
        """Check one delivery: its signature (by the package, which also refuses a time
        5 minutes off) and its timestamp against this receiver's own tolerance."""
        try:
            payload = self._webhook.verify(body, headers)
        except WebhookVerificationError as exc:
            reason = "stale" if "timestamp" in str(exc).lower() else "forged"
            return Verdict(400, reason), None
        lower = {name.lower(): value for name, value in headers.items()}
        signed_at = int(lower["webhook-timestamp"])
        if abs(time.time() - signed_at) > self.tolerance_s:
            return Verdict(400, "stale"), None
        arrival = Arrival(
            webhook_id=lower["webhook-id"],
            type=payload["type"],
            data=payload["data"],
            timestamp=payload["timestamp"],
            signed_at=signed_at,
            arrived_at=time.time(),
        )
        return Verdict(200, "accepted"), arrival

    def _count(self, verdict: Verdict) -> Verdict:
        with self._lock:
            self.counts[verdict.reason] = self.counts.get(verdict.reason, 0) + 1
        return verdict

    def received(self) -> list[Arrival]:
        with self._lock:
            return list(self.arrivals)


def sign_for_test(
    secret: str, webhook_id: str, body: str, at: datetime | None = None
) -> dict[str, str]:
    """Headers of a delivery signed with `secret` (the tests' forgeries and replays)."""
    moment = at or datetime.now(UTC)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, moment, body),
    }
