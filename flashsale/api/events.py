"""GET /flash-sale/events: the sale's status pushed to every open page (Server-Sent Events).

One StatusBroadcaster per worker reads shared memory every POLL_INTERVAL_S.
When what a page shows has changed (stock, state, breaker) it builds the event
once and sends it on every open stream of this worker; events go out at most every
MIN_EVENT_INTERVAL_S. No stream goes `heartbeat_s` without a write, which keeps
it (and proxies) open: a stream sent nothing for `quiet_s` (`heartbeat_s` less
SCAN_S and a poll) gets a comment, found by a pass over the streams made when the
oldest write falls due (SCAN_S apart at least), so that an idle stream costs one
write each `quiet_s`. A waiting room's "now serving" moves at its rate, which its
pages follow by themselves: it goes out once the last event is `quiet_s` old, so
it takes the heartbeats' place and a waiting page costs no more than an idle one
(flashsale.api.status.queue_tag). The allocator never learns how many pages are
open.

A stream always sends the latest status: a slow reader misses states in
between, never builds up a backlog. On this service's server
(flashsale.serving.protocol) a stream's first event goes out through the ASGI
`send`; after it the broadcaster writes each event, serialized and framed (as
an HTTP/1.1 chunk, or plain on HTTP/1.0) once for all, to every stream's
transport itself: no coroutine is woken for a stream (some 28 us a stream and
wake, measured on idle streams); what is left is a write, mostly the kernel's
(docs/performance.md, "Pages waiting in a moving queue"). A stream whose page
has not taken STREAM_BACKLOG_BYTES of what was written is closed instead (its
page reconnects, to the latest status). A heartbeat goes only to a stream
sent nothing for `quiet_s`: while events flow there are none.

A stream's coroutine then only waits, on a future of its own (not one future
for all: cancelling a task cancels the future it awaits, so one page that left
would end every stream), for its page to go, which the server calls back
(RequestReceiver.watch_departure), or for the worker to stop; it then ends the
body through `send`. On any other ASGI server a stream is served through `send`
alone: its coroutine is woken at each event and heartbeat, and a task of its
own awaits the disconnect.

Streams are served by EventStreams, an ASGI app in front of Falcon: through
Falcon's SSE support a stream also held its request, its response and more,
for as long as the page stayed open (23 KiB a stream in a worker, measured,
against 20 KiB here then, and 13.3 KiB since a stream has no task of its own
and its connection no parser: `python -m stress streams`).

A worker holds at most `max_streams` streams (beyond: 503, the server is full)
and at most `per_address` of one client address (beyond: 429, that client's
share is used up, while other addresses are served; behind a trusted proxy the
forwarded address counts). A stream's slot is taken before anything is sent,
so no two requests can both pass the check for the last slot.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

import orjson

from flashsale.api.client_address import ClientAddress
from flashsale.api.problems import (
    EVENT_STREAMS_FULL,
    METHOD_NOT_ALLOWED,
    PROBLEM_JSON,
    STARTING,
    TOO_MANY_EVENT_STREAMS,
    ProblemType,
)
from flashsale.api.security import RAW_EVERY_ANSWER
from flashsale.api.status import SaleStatus
from flashsale.metrics import MetricsRecorder
from flashsale.serving.address_bounds import AddressCounts, RefusalLog, address_key
from flashsale.serving.protocol import DirectBody, RequestReceiver
from flashsale.shm.slots import Endpoint

log = logging.getLogger(__name__)

EVENTS_PATH = "/flash-sale/events"
POLL_INTERVAL_S = 0.25
# How late a look over the streams may find one due a heartbeat, at most (it is a pass
# over every stream of the worker: made when the oldest write left falls due).
SCAN_S = 5.0
MIN_EVENT_INTERVAL_S = 0.5
# How long a browser's EventSource waits before it reconnects; drawn for each
# stream, so that the pages of a restarted worker do not all come back at once.
RETRY_MS_RANGE = (1000, 4000)
HEARTBEAT = b": heartbeat\n\n"
# Bytes written to a stream and not yet taken by its page beyond which the stream is
# closed (some 100 events): a page that does not read holds no backlog in a worker.
STREAM_BACKLOG_BYTES = 64 * 1024
RETRY_AFTER_S = 5
STREAM_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # a proxy must pass each event on at once
    *RAW_EVERY_ANSWER,
]

AsgiMessage = dict[str, Any]  # an ASGI scope or event
AsgiReceive = Callable[[], Awaitable[AsgiMessage]]
AsgiSend = Callable[[AsgiMessage], Awaitable[None]]
AsgiCall = Callable[[AsgiMessage, AsgiReceive, AsgiSend], Awaitable[None]]


class Refusal(enum.Enum):
    SERVER_FULL = "server_full"  # or stopping
    ADDRESS_FULL = "address_full"


# The answer to each refusal: 503 says the server is full, 429 that this client's
# share is used up (and a proxy that ejects a backend on 5xx must not eject a
# healthy server for one client's excess).
REFUSALS = {
    Refusal.SERVER_FULL: (EVENT_STREAMS_FULL, "this server holds as many live pages as it may"),
    Refusal.ADDRESS_FULL: (
        TOO_MANY_EVENT_STREAMS,
        "this address holds as many live pages as one address may",
    ),
}


class StatusEvent:
    """A status event serialized once, then sent as it is on every stream."""

    __slots__ = ("payload", "tag")

    def __init__(self, tag: str, body: dict[str, Any]) -> None:
        self.tag = tag  # what the page shows; also the event's id
        self.payload = (
            b"event: status\nid: " + tag.encode() + b"\ndata: " + orjson.dumps(body) + b"\n\n"
        )


class _DirectStream:
    """A stream this service's server serves: the broadcaster writes its events to its
    connection's transport itself (see the module's docstring)."""

    __slots__ = ("chunked", "end", "shown", "transport", "written_at")

    def __init__(self, body: DirectBody, shown: str, end: Callable[[], None]) -> None:
        self.transport = body.transport
        self.chunked = body.chunked
        self.shown = shown  # the tag of the last status it was sent
        self.written_at = time.monotonic()
        self.end = end  # ends its coroutine: the page went, or the worker stops


def _chunk(payload: bytes) -> bytes:
    """`payload` as one HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(payload), payload)


class StatusBroadcaster:
    def __init__(
        self,
        status: SaleStatus,
        *,
        max_streams: int,
        per_address: int,
        heartbeat_s: float,
        count_streams: Callable[[int], None],
    ) -> None:
        self._status = status
        self.max_streams = max_streams
        self._by_address = AddressCounts(per_address)
        self._refusals = RefusalLog("event streams", per_address)
        self.heartbeat_s = heartbeat_s  # the longest a stream goes without a write
        self._scan_s = min(SCAN_S, max(POLL_INTERVAL_S, heartbeat_s / 9))
        # Silent this long, a stream is due a write: a pass over the streams (when the
        # oldest write falls due, _scan_s apart at least, at a poll) finds it within
        # heartbeat_s.
        self.quiet_s = max(POLL_INTERVAL_S, heartbeat_s - self._scan_s - POLL_INTERVAL_S)
        self._count_streams = count_streams
        self.open_streams = 0
        self._event: StatusEvent | None = None  # the latest status event
        self._version = 0  # which event that is
        self._beats = 0  # scans for heartbeats so far
        self._stopping = False
        # One future for each stream served through ASGI and waiting (see the module's
        # docstring), resolved at the next event, heartbeat or stop.
        self._waiters: set[asyncio.Future[None]] = set()
        # The streams whose events are written to their transport here.
        self._direct: set[_DirectStream] = set()
        self._poller: asyncio.Task[None] | None = None

    # -- the worker's life --------------------------------------------------------------
    def start(self) -> None:
        self._poller = asyncio.get_running_loop().create_task(self._poll())

    def stop(self) -> None:
        """End every stream (the worker is stopping: they would hold it up)."""
        self._stopping = True
        self._wake_streams()
        for stream in list(self._direct):
            stream.end()
        if self._poller is not None:
            self._poller.cancel()

    async def _poll(self) -> None:
        read = self._status.read()
        shown, prompt_shown = (read.tag, read.prompt_tag) if read else (None, None)
        sent_at = time.monotonic()  # every stream's first event goes out as it connects
        next_scan = sent_at + self._scan_s
        while True:
            await asyncio.sleep(POLL_INTERVAL_S)
            now = time.monotonic()
            try:
                read = self._status.read()
            except Exception:  # a bug here must not leave every page without updates
                log.exception("reading the sale for the event streams failed")
                continue
            # What a page must know goes out at once; the rest (a waiting room's "now
            # serving", which its pages follow at the rate) once a write is due anyway.
            since_s = now - sent_at
            changed = read is not None and (
                read.prompt_tag != prompt_shown or (since_s >= self.quiet_s and read.tag != shown)
            )
            if read is not None and changed and since_s >= MIN_EVENT_INTERVAL_S:
                self._event = StatusEvent(read.tag, self._status.complete(read.body, read.at_us))
                self._version += 1
                shown, prompt_shown, sent_at = read.tag, read.prompt_tag, now
                self._write_event(self._event, now)
                self._wake_streams()
            elif now >= next_scan:  # after an event, at the next poll
                due = self._write_heartbeats(now)
                # Streams served through ASGI look at their own silence at each scan.
                next_scan = now + self._scan_s if self._waiters else max(now + self._scan_s, due)
                self._beats += 1
                self._wake_streams()

    def _wake_streams(self) -> None:
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _write_event(self, event: StatusEvent, now: float) -> None:
        if not self._direct:
            return
        tag, plain = event.tag, event.payload
        chunk = _chunk(plain)
        # A copy: a transport's callbacks may end a stream while the writes go out.
        for stream in tuple(self._direct):
            if stream.shown != tag:  # else the page connected after this change
                stream.shown = tag
                stream.written_at = now
                try:  # inline, not a call: this runs for every stream
                    stream.transport.write(chunk if stream.chunked else plain)
                except (OSError, RuntimeError):
                    stream.end()  # the connection is going
        self._drop_backlogged()

    def _write_heartbeats(self, now: float) -> float:
        """A heartbeat to each stream sent nothing for `quiet_s` (events keep the others
        open). Returns when the next stream is due one, if none connects meanwhile (a
        stream that does is due later than any here): no pass over the streams before."""
        since, oldest, wrote = now - self.quiet_s, now, False
        chunk = _chunk(HEARTBEAT)
        for stream in tuple(self._direct):
            written_at = stream.written_at
            if written_at <= since:
                stream.written_at, wrote = now, True
                try:
                    stream.transport.write(chunk if stream.chunked else HEARTBEAT)
                except (OSError, RuntimeError):
                    stream.end()  # the connection is going
            elif written_at < oldest:
                oldest = written_at
        if wrote:
            self._drop_backlogged()
        return oldest + self.quiet_s

    def _drop_backlogged(self) -> None:
        """Close each stream whose page has not read what was written: a slow reader
        holds no backlog here, and its page reconnects to the latest status."""
        backlogged = [
            stream
            for stream in self._direct
            if stream.transport.get_write_buffer_size() > STREAM_BACKLOG_BYTES
        ]
        for stream in backlogged:
            log.debug("an event stream's page reads too slowly: closed")
            stream.end()
            stream.transport.abort()

    # -- one stream -------------------------------------------------------------------
    def admit(self, address: str) -> Refusal | None:
        """Take a stream's slot, counted against `address` ("": against none); or why not.
        Every slot taken is given back with `leave`."""
        if self._stopping or self.open_streams >= self.max_streams:
            return Refusal.SERVER_FULL
        if address and not self._by_address.take(address):
            self._refusals.note(address)
            return Refusal.ADDRESS_FULL
        self.open_streams += 1
        self._count_streams(+1)
        return None

    def leave(self, address: str) -> None:
        if address:
            self._by_address.give_back(address)
        self.open_streams -= 1
        self._count_streams(-1)

    async def serve(self, first: StatusEvent, send: AsgiSend, receive: AsgiReceive) -> None:
        """Send `first` (the status when the page connected), then every change and
        heartbeat, until the page goes away or the worker stops."""
        waiting = _Waiting()
        gone = _departure_of(receive)
        gone.watch_departure(waiting.wake)
        try:
            await _send_body(send, b"retry: %d\n" % random.randint(*RETRY_MS_RANGE) + first.payload)
            shown = first.tag
            del first  # sent: not held for as long as the page stays
            body = gone.direct_body() if isinstance(gone, RequestReceiver) else None
            if body is not None:
                await self._serve_direct(_DirectStream(body, shown, waiting.wake), waiting, gone)
            else:
                await self._serve_through_asgi(shown, send, waiting, gone)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            gone.stop_watching()

    async def _serve_direct(
        self, stream: _DirectStream, waiting: _Waiting, gone: Departure
    ) -> None:
        """The broadcaster writes to the stream; its coroutine only waits for the end."""
        waiting.stream_of, waiting.direct = stream, self._direct
        if self._stopping or gone.gone:
            return
        self._direct.add(stream)
        try:
            await waiting.next()
        finally:
            self._direct.discard(stream)

    async def _serve_through_asgi(
        self, shown: str, send: AsgiSend, waiting: _Waiting, gone: Departure
    ) -> None:
        """Any other ASGI server: woken at every event and heartbeat, sends through `send`."""
        version, beats, written_at = self._version, self._beats, time.monotonic()
        try:
            while not (self._stopping or gone.gone):
                await waiting.next(self._waiters)
                event = self._event
                if gone.gone:
                    break
                if self._version != version and event is not None:
                    version = self._version
                    if event.tag != shown:  # else the page connected after this change
                        shown, written_at = event.tag, time.monotonic()
                        await _send_body(send, event.payload)
                elif self._beats != beats:
                    beats = self._beats
                    now = time.monotonic()
                    if now - written_at >= self.quiet_s:
                        written_at = now
                        await _send_body(send, HEARTBEAT)
        finally:
            if waiting.future is not None:
                self._waiters.discard(waiting.future)


class _Waiting:
    """What a stream's coroutine waits on: a future of its own (see the module's
    docstring), resolved by `wake` when its page goes or by the broadcaster."""

    __slots__ = ("direct", "future", "stream_of")

    def __init__(self) -> None:
        self.future: asyncio.Future[None] | None = None
        self.stream_of: _DirectStream | None = None  # when the broadcaster writes to it
        self.direct: set[_DirectStream] | None = None

    def next(self, waiters: set[asyncio.Future[None]] | None = None) -> asyncio.Future[None]:
        self.future = asyncio.get_running_loop().create_future()
        if waiters is not None:
            waiters.add(self.future)
        return self.future

    def wake(self) -> None:
        if self.direct is not None and self.stream_of is not None:
            # At once: nothing more is written to a connection that has gone.
            self.direct.discard(self.stream_of)
        if self.future is not None and not self.future.done():
            self.future.set_result(None)


class Departure(Protocol):
    """How a stream learns that its page has gone."""

    @property
    def gone(self) -> bool: ...

    def watch_departure(self, on_gone: Callable[[], None]) -> None: ...

    def stop_watching(self) -> None: ...


def _departure_of(receive: AsgiReceive) -> Departure:
    """This service's server calls back when a page goes (the `receive` of
    flashsale.serving.protocol.RequestReceiver): a stream needs no task for it.
    Any other ASGI server: a task that awaits the disconnect."""
    receiver = getattr(receive, "__self__", None)
    if isinstance(receiver, RequestReceiver):
        return receiver
    return _DisconnectListener(receive)


class _DisconnectListener:
    __slots__ = ("_task",)

    def __init__(self, receive: AsgiReceive) -> None:
        self._task = asyncio.get_running_loop().create_task(_until_disconnect(receive))

    @property
    def gone(self) -> bool:
        return self._task.done()

    def watch_departure(self, on_gone: Callable[[], None]) -> None:
        self._task.add_done_callback(lambda _: on_gone())

    def stop_watching(self) -> None:
        self._task.cancel()


async def _until_disconnect(receive: AsgiReceive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass  # a GET has no body; one that comes anyway is read and dropped


async def _send_body(send: AsgiSend, payload: bytes) -> None:
    await send({"type": "http.response.body", "body": payload, "more_body": True})


class EventStreams:
    """The ASGI app gunicorn serves: GET /flash-sale/events here, all else to `app` (Falcon)."""

    def __init__(
        self,
        app: AsgiCall,
        status: SaleStatus,
        broadcaster: StatusBroadcaster,
        recorder: MetricsRecorder,
        addresses: ClientAddress,
    ) -> None:
        self.app = app
        self.status = status
        self.broadcaster = broadcaster
        self.recorder = recorder
        self.addresses = addresses

    async def __call__(self, scope: AsgiMessage, receive: AsgiReceive, send: AsgiSend) -> None:
        if scope["type"] != "http" or scope["path"] != EVENTS_PATH:
            await self.app(scope, receive, send)
            return
        self.recorder.record(Endpoint.EVENTS, None, 0)
        if scope["method"] != "GET":
            await _answer(send, METHOD_NOT_ALLOWED, "use GET", [(b"allow", b"GET")])
            return
        address = self._client_key(scope)
        refusal = self.broadcaster.admit(address)
        if refusal is not None:
            await _refuse(send, refusal)
            return
        try:
            first = self._status_now()
            if first is None:
                starting = "the allocator is recovering the sale"
                await _answer(send, STARTING, starting, [(b"retry-after", b"1")])
                return
            await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEADERS})
            # `first` goes to the stream, which lets go of it once sent; not kept here.
            stream, first = self.broadcaster.serve(first, send, receive), None
            await stream
        finally:
            self.broadcaster.leave(address)

    def _client_key(self, scope: AsgiMessage) -> str:
        """The address this stream counts against: the client's, or behind a trusted
        proxy the one it forwards; "" (not counted) for a peer that has no address."""
        client = scope.get("client")
        peer = str(client[0]) if client else ""
        forwarded = [value for name, value in scope["headers"] if name == b"x-forwarded-for"]
        if forwarded:
            claimed = self.addresses.client_of(peer, b",".join(forwarded).decode("latin-1"))
            key = address_key(claimed)
            if key is not None:
                return key
        return address_key(peer) or ""

    def _status_now(self) -> StatusEvent | None:
        # Its own frame: the status's dict is not held for the stream's life.
        read = self.status.read()
        if read is None:
            return None
        return StatusEvent(read.tag, self.status.complete(read.body, read.at_us))


async def _refuse(send: AsgiSend, refusal: Refusal) -> None:
    problem, why = REFUSALS[refusal]
    retry_after = [(b"retry-after", b"%d" % RETRY_AFTER_S)]
    await _answer(send, problem, f"{why}; poll /flash-sale/status", retry_after)


async def _answer(
    send: AsgiSend,
    problem: ProblemType,
    detail: str,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """A problem, as every error of this service is (flashsale.api.problems)."""
    body = orjson.dumps(problem.document(detail))
    await send(
        {
            "type": "http.response.start",
            "status": problem.status,
            "headers": [(b"content-type", PROBLEM_JSON.encode()), *RAW_EVERY_ANSWER, *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})
