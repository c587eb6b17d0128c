"""A stand-in server of the waiting room's contract (/work CONTRACT-25: the queue term,
the shopper API, the status's `queue`, the operators' record), small enough to read in
one go, for testing the stress scenario's verdict against a server that keeps the
contract and against ones that break it on purpose (`flaws`):

- "no_shuffle": the pre-queue keeps its arrival order;
- "any_ticket": a purchase takes any admitted ticket, whoever presents it;
- "fast": admits 20 % over admitPerMinute;
- "after_sell_out": keeps admitting after the last unit is sold.

One asyncio loop on a thread of the test's process: HTTP/1.1 with keep-alive, Content-Length
bodies only. Admission runs on a 5 ms tick. Not the service: no durability, one sale.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import random
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

KEY = b"queue-double-key"
TICK_S = 0.005


def _iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat(timespec="milliseconds")


@dataclass
class Ticket:
    number: int
    user: str
    joined_ns: int
    text: str
    place: int | None = None
    admitted_ns: int | None = None
    used_ns: int | None = None
    state: str = "prequeue"


class QueueDouble:
    def __init__(self, flaws: Collection[str] = ()) -> None:
        self.flaws = set(flaws)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._ready = threading.Event()
        self.sale: dict[str, Any] | None = None
        self.tickets: dict[str, Ticket] = {}  # by user
        self.by_place: list[Ticket] = []
        self.orders: list[dict[str, Any]] = []
        self.shuffled_ns: int | None = None
        self.next_admit_ns = 0
        self._writers: set[asyncio.StreamWriter] = set()

    # -- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> QueueDouble:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ticker = asyncio.create_task(self._tick())

    async def _stop(self) -> None:
        self._ticker.cancel()
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        connections = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        await asyncio.gather(*connections, return_exceptions=True)
        await self._server.wait_closed()

    async def _tick(self) -> None:
        while True:
            self.advance(time.time_ns())
            await asyncio.sleep(TICK_S)

    # -- the queue ----------------------------------------------------------------------
    @property
    def stock(self) -> int:
        return int(self.sale["stock"]) if self.sale else 0

    @property
    def sold_out(self) -> bool:
        return self.sale is not None and len(self.orders) >= self.stock

    @property
    def serving(self) -> int:
        admitted = [t.place or 0 for t in self.by_place if t.admitted_ns is not None]
        return max(admitted, default=0)

    def advance(self, now: int) -> None:
        sale = self.sale
        if sale is None or now < sale["starts_ns"]:
            return
        if self.shuffled_ns is None:
            early = sorted(self.tickets.values(), key=lambda t: t.number)
            if "no_shuffle" not in self.flaws:
                random.SystemRandom().shuffle(early)
            for place, ticket in enumerate(early, start=1):
                ticket.place, ticket.state = place, "waiting"
            self.by_place = early
            self.shuffled_ns = self.next_admit_ns = now
        for ticket in self.by_place:
            if ticket.state == "admitted" and now > (ticket.admitted_ns or 0) + sale["admitted_ns"]:
                ticket.state = "lapsed"
        if self.sold_out and "after_sell_out" not in self.flaws:
            return
        rate = sale["queue"]["admitPerMinute"]
        interval = 0 if rate is None else int(60e9 / rate / (1.2 if "fast" in self.flaws else 1))
        for ticket in self.by_place:
            if ticket.state != "waiting":
                continue
            if now < self.next_admit_ns:
                break
            ticket.state, ticket.admitted_ns = "admitted", now
            # The pace is kept while tickets wait; an empty queue builds no credit.
            self.next_admit_ns = max(self.next_admit_ns + interval, now - interval)

    def close(self) -> None:
        for ticket in self.by_place:
            if ticket.state in ("waiting", "prequeue"):
                ticket.state = "closed"

    def sign(self, number: int, user: str) -> str:
        body = f"1.{number}.{base64.urlsafe_b64encode(user.encode()).decode().rstrip('=')}"
        mac = hmac.new(KEY, body.encode(), hashlib.sha256).digest()[:16]
        return body + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def verify(self, text: str) -> Ticket | bool | None:
        """The ticket; None when unknown; False when its signature does not verify."""
        body, _, mac = text.rpartition(".")
        good = base64.urlsafe_b64encode(
            hmac.new(KEY, body.encode(), hashlib.sha256).digest()[:16]
        ).decode()
        if not hmac.compare_digest(good.rstrip("="), mac):
            return False
        return next((t for t in self.tickets.values() if t.text == text), None)

    def ticket_body(self, ticket: Ticket) -> dict[str, Any]:
        ahead = None if ticket.place is None else max(0, ticket.place - self.serving - 1)
        until = None
        if ticket.state == "admitted" and self.sale:
            until = _iso((ticket.admitted_ns or 0) + self.sale["admitted_ns"])
        return {
            "ticket": ticket.text,
            "saleId": 1,
            "number": ticket.number,
            "userId": ticket.user,
            "state": ticket.state,
            "place": ticket.place,
            "ahead": ahead,
            "serving": self.serving,
            "estimatedWaitSeconds": None,
            "admittedUntil": until,
            "joinedAt": _iso(ticket.joined_ns),
        }

    # -- HTTP ---------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                raw = await reader.readexactly(length) if length else b""
                body = orjson.loads(raw) if raw else {}
                self.advance(time.time_ns())
                status, answer = self.route(method, urlsplit(target).path, headers, body)
                payload = orjson.dumps(answer)
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        self._writers.discard(writer)
        writer.close()

    def route(
        self, method: str, path: str, headers: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        now = time.time_ns()
        if method == "POST" and path == "/flash-sale/admin/sales":
            return self.make_sale(body)
        if path == "/flash-sale/status":
            return 200, self.status(now)
        if method == "POST" and path == "/flash-sale/queue":
            return self.join(str(body.get("userId")), now)
        if method == "GET" and path.startswith("/flash-sale/queue/"):
            found = self.verify(unquote(path.rsplit("/", 1)[1]))
            if found is False:
                return 403, {"type": "/problems/ticket-invalid", "status": 403}
            if found is None or found is True:
                return 404, {"type": "/problems/unknown-ticket", "status": 404}
            return 200, self.ticket_body(found)
        if method == "POST" and path == "/flash-sale/purchase":
            return self.purchase(str(body.get("userId")), headers.get("flash-sale-ticket"), now)
        if path.endswith("/orders"):
            return 200, {"orders": self.orders, "next": None}
        if path.endswith("/queue"):
            return 200, self.record()
        return 404, {"type": "/problems/not-found", "status": 404}

    def make_sale(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        starts = datetime.fromisoformat(str(body["startsAt"]).replace("Z", "+00:00"))
        queue = body["queue"]
        self.sale = {
            "stock": body["stock"],
            "starts_ns": int(starts.timestamp() * 1e9),
            "admitted_ns": int(queue["admittedSeconds"] * 1e9),
            "queue": queue,
        }
        return 201, {"saleId": 1, "stock": body["stock"], "queue": queue}

    def status(self, now: int) -> dict[str, Any]:
        sale = self.sale or {}
        shuffled = self.shuffled_ns is not None
        state = "closed" if self.sold_out else "admitting" if shuffled else "prequeue"
        waiting = sum(1 for t in self.tickets.values() if t.state in ("waiting", "prequeue"))
        return {
            "saleId": 1,
            "state": "sold_out" if self.sold_out else "open" if shuffled else "upcoming",
            "sold": len(self.orders),
            "remaining": self.stock - len(self.orders),
            "serverTime": _iso(now),
            "queue": {
                "state": state,
                "length": len(self.tickets),
                "serving": self.serving,
                "waiting": waiting,
                "admitPerMinute": sale.get("queue", {}).get("admitPerMinute"),
            },
        }

    def join(self, user: str, now: int) -> tuple[int, dict[str, Any]]:
        if user in self.tickets:
            return 200, self.ticket_body(self.tickets[user])
        if self.sold_out:
            return 410, {"type": "/problems/queue-closed", "status": 410}
        number = len(self.tickets) + 1
        ticket = Ticket(number, user, now, self.sign(number, user))
        if self.shuffled_ns is not None:
            ticket.place, ticket.state = len(self.by_place) + 1, "waiting"
            self.by_place.append(ticket)
            self.advance(now)
        self.tickets[user] = ticket
        return 201, self.ticket_body(ticket)

    def purchase(self, user: str, text: str | None, now: int) -> tuple[int, dict[str, Any]]:
        refused = {"outcome": "not_admitted", "type": "/problems/not-admitted", "status": 403}
        found = self.verify(text) if text else None
        if not isinstance(found, Ticket) or found.state != "admitted":
            return 403, refused
        if found.user != user and "any_ticket" not in self.flaws:
            return 403, refused
        if self.sold_out:
            return 410, {"outcome": "sold_out", "status": 410}
        found.state, found.used_ns = "used", now
        self.orders.append(
            {"orderId": f"o{len(self.orders) + 1}", "userId": user, "purchasedAt": _iso(now)}
        )
        if self.sold_out and "after_sell_out" not in self.flaws:
            self.close()
        return 201, {"outcome": "confirmed", "userId": user, "position": len(self.orders)}

    def record(self) -> dict[str, Any]:
        placed = self.by_place + [t for t in self.tickets.values() if t.place is None]
        return {
            "tickets": [
                {
                    "place": t.place,
                    "number": t.number,
                    "userId": t.user,
                    "joinedAt": _iso(t.joined_ns),
                    "admittedAt": _iso(t.admitted_ns),
                    "usedAt": _iso(t.used_ns),
                    "state": t.state,
                }
                for t in placed
            ],
            "next": None,
            "shuffledAt": _iso(self.shuffled_ns),
            "serving": self.serving,
        }
