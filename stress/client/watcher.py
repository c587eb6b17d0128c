"""One open page in a client process: `GET /flash-sale/events` held until the run
ends, noting when each status event arrived and what it showed."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable

import orjson

from stress.api import EVENTS_PATH
from stress.client.sse import SseParser
from stress.client.wire import WIRE_ERRORS, HttpConnection, connect, request_bytes
from stress.records import PageRecord

SOLD_OUT = "sold_out"
# Open pages are the browsers of many people. Against a server on loopback each
# group of PAGES_PER_SOURCE pages connects from an address of its own in
# 127.0.0.0/8, as different visitors would: all from 127.0.0.1, they would meet the
# server's bound on event streams per address (FLASHSALE_EVENT_STREAMS_PER_ADDRESS,
# 128 a worker) long before the bound on open pages they are meant to load.
PAGES_PER_SOURCE = 32
FIRST_PAGE_SOURCE = ipaddress.IPv4Address("127.1.0.1")


def page_source(page: int, host: str) -> str | None:
    """The local address page number `page` connects from (None: the system's choice)."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback or ":" in host:
        return None
    return str(FIRST_PAGE_SOURCE + page // PAGES_PER_SOURCE)


def events_request(host: str) -> bytes:
    return request_bytes("GET", EVENTS_PATH, host, headers={"Accept": "text/event-stream"})


class PageWatcher:
    def __init__(
        self, page: int, host: str, port: int, request: bytes, on_sold_out: Callable[[], None]
    ) -> None:
        self.record = PageRecord(page)
        self._on_sold_out = on_sold_out
        self._host, self._port, self._request = host, port, request
        self._source = page_source(page, host)
        self._parser = SseParser()
        self._connection: HttpConnection | None = None
        self._first: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._finishing = False

    async def open(self, timeout_s: float) -> None:
        """Open the stream; return once its first status event came, or it failed."""
        record = self.record
        record.connect_ns = time.time_ns()
        try:
            async with asyncio.timeout(timeout_s):
                self._connection = connection = await connect(self._host, self._port, self._source)
                answer = await connection.open_stream(self._request, self._on_body)
                record.http = answer.status
                if answer.status != 200:
                    record.retry_after_s = answer.retry_after_s
                    title = answer.json().get("title") or answer.body[:120].decode("latin-1")
                    record.error = f"{answer.status}: {title}"
                    connection.close()
                    return
                await asyncio.wait(
                    (self._first, connection.closed), return_when=asyncio.FIRST_COMPLETED
                )
        except WIRE_ERRORS as exc:
            record.error = f"{type(exc).__name__}: {exc}"[:160]
            self.finish()
            return
        if not self._first.done():
            record.error = "the stream ended before its first event"
        connection.closed.add_done_callback(self._ended)

    def finish(self) -> None:
        """The run is over: close the page."""
        self._finishing = True
        if self._connection is not None:
            self._connection.abort()

    def _ended(self, _: object) -> None:
        if not self._finishing and not self.record.ended_ns:
            self.record.ended_ns = time.time_ns()

    def _on_body(self, chunk: bytes) -> None:
        now_ns = time.time_ns()
        for event in self._parser.feed(chunk):
            if event.event == "status":
                self._on_status(event.data, now_ns)
        self.record.heartbeats = self._parser.comments

    def _on_status(self, data: str, now_ns: int) -> None:
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            self.record.error = f"a status event that is not a JSON object: {data[:80]}"
            return
        record = self.record
        state = str(body.get("state") or "")
        record.events += 1
        if not record.first_event_ns:
            record.first_event_ns, record.first_state = now_ns, state
            self._first.set_result(None)
        record.last_state = state
        sold = body.get("sold")
        record.last_sold = sold if isinstance(sold, int) else None
        if state == SOLD_OUT and not record.sold_out_ns:
            record.sold_out_ns = now_ns
            self._on_sold_out()
