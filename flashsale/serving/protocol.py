"""One HTTP/1 connection: gunicorn 27's ASGIProtocol with read deadlines, load
shedding, whole bodies only, and JSON error pages.

gunicorn's protocol gives a connection no deadline until its first request head
is complete, and a body only the worker timeout (30 s) per wait, so a client
that sends half a head or half a body holds its connection for that long, or
for ever. This subclass adds, per connection:

- a head deadline from the connection's start: a partial head gets 408, a
  connection that sent nothing is closed quietly (between keep-alive requests
  gunicorn's own keep-alive timer closes an idle or half-sent connection);
- a body deadline from the end of the head: 408;
- the app never acts on a body that did not arrive whole. gunicorn ends a cut
  body (the client gone, a malformed chunk, a deadline) with `http.disconnect`,
  and Falcon's stream then returns the part received as if it were the whole
  body: a truncated `{"userId": "a"}` would buy. Our receiver raises
  CancelledError instead, which ends the request quietly;
- a bound on open connections per worker (gunicorn's `worker_connections`,
  which its asgi worker does not enforce): beyond it a connection gets 503
  with Retry-After at once, before anything is read; and a bound per client
  address (flashsale.serving.address_bounds): beyond it 429, the same way;
- a connection that has ended lets go of what it holds at once: gunicorn's
  protocol, its parser and its body receiver refer to each other, and such a
  cycle waits for a collection of the oldest generation, which comes seldom
  (8,000 closed streams stayed, and the next 8,000 took 44 MiB more);
- a client that half-closes after whole requests still gets their answers (the
  loop's default on EOF is to close at once, dropping them), then the close; an
  app listening for the disconnect (an event stream) hears it at once;
- problem details (flashsale.api.problems) on the answers gunicorn writes itself
  (a malformed request line, an over-long header, a bad chunk), like every other
  error of this service; a WebSocket upgrade is refused here (403): no path is one;
- the head is checked before the app runs (flashsale.serving.request_head): an
  HTTP/1.1 request without one valid Host gets 400, a Content-Length over the
  body limit 413 at once (Falcon waits for the body before the app sees the
  request, and would send `100 Continue` for it), and an absolute-form target
  is served by its path. After such an answer the client's bytes are read and
  dropped until it closes (a lingering close, for a few seconds at most):
  closed with them unread, the connection would be reset;
- pipelined requests are all answered, in order: the parser holds them
  (flashsale.serving.pipelining), and while more than gunicorn's read bound
  (256 KiB) wait unanswered the socket is not read, until half of that is left;
- a stopping worker closes at once the connections waiting for a request of which
  nothing has come (close_idle_connections), as nginx and uvicorn do: gunicorn
  waits for their keep-alive timeout (5 s), so every stop and restart took that
  long while any client kept a connection open.

All of it runs on the event loop as callbacks: a slow client costs a timer and
its buffered bytes, never a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, cast

from gunicorn.asgi.protocol import ASGIProtocol, BodyReceiver

from flashsale.api.problems import PROBLEM_JSON, problem_json
from flashsale.serving.address_bounds import ConnectionsByAddress
from flashsale.serving.pipelining import PipeliningParser
from flashsale.serving.request_head import OriginForm, Refusal, origin_form, refusal

if TYPE_CHECKING:
    from gunicorn.workers.gasgi import ASGIWorker

RETRY_AFTER_SHED_S = 1
# After an answer given before a body was read: how long, and how many of the
# client's bytes, to read and drop before closing (see _close_after_lingering).
LINGER_S = 3.0
LINGER_MAX_BYTES = 1024 * 1024
# A connection shed at once (503, 429) lingers too, its request read and dropped,
# but shorter, and only so many at a time: in a flood of connections the rest are
# closed at once, and a reset costs the flood, not the worker's sockets.
LINGER_SHED_S = 1.0
MAX_LINGERING_SHEDS = 256


@dataclass(frozen=True, slots=True)
class DirectBody:
    """Where the rest of an answer's body may be written by its app itself, past the
    ASGI `send` (RequestReceiver.direct_body): the connection's transport, and whether
    the body is chunked (HTTP/1.1: each write must then be one whole chunk) or runs to
    the connection's close (HTTP/1.0)."""

    transport: asyncio.Transport
    chunked: bool


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_s: float
    body_timeout_s: float
    max_connections: int
    body_max_bytes: int
    by_address: ConnectionsByAddress


def error_page(
    status: int, description: str, extra_headers: Iterable[tuple[str, str]] = ()
) -> bytes:
    """A whole HTTP/1.1 answer with a problem body; the connection closes after it."""
    reason = HTTPStatus(status).phrase
    body = problem_json(status, description)
    extra = "".join(f"{name}: {value}\r\n" for name, value in extra_headers)
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        f"Content-Type: {PROBLEM_JSON}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"{extra}"
        "Connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


def _route_by_path(request: Any, target: OriginForm) -> None:
    """Serve an absolute-form target as its origin form, with the target's host in
    place of the Host header's, which RFC 9112 (3.2.2) says to ignore."""
    request.raw_path, request.path = target.raw_path, target.path
    request.headers_bytes = [
        (name, target.authority if name == b"host" else value)
        for name, value in request.headers_bytes
    ]


class RequestReceiver(BodyReceiver):
    """gunicorn's body receiver, with three changes.

    A body cut short cancels its request (see the module's docstring). A
    client that stops writing after its whole request counts as gone for an app
    that listens for the disconnect once the body is read (an event stream):
    the connection stays open so that an answer can still be written, so the
    loop would not report the disconnect until a write failed.

    And an answer that lasts as long as its connection (an event stream) can
    ask to be called back when the client goes (`watch_departure`), in place of
    a task of its own awaiting `receive()`; its connection then lets go of its
    parser, as no further request can be answered behind an answer that never
    ends (a task, its coroutines and the parser's 4 KiB buffer: about 6 KiB a
    stream).
    """

    __slots__ = ("on_gone", "peer_done_writing")

    def __init__(self, request: object, protocol: ASGIProtocol) -> None:
        super().__init__(request, protocol)
        self.peer_done_writing = False
        self.on_gone: Callable[[], None] | None = None

    def peer_stopped_writing(self) -> None:
        self.peer_done_writing = True
        self._wake_waiter()  # a listener for the disconnect hears it now

    @property
    def gone(self) -> bool:
        """The client has gone: the connection was lost, or it stopped writing
        after its whole request."""
        return bool(self._disconnected or (self._complete and self.peer_done_writing))

    def watch_departure(self, on_gone: Callable[[], None]) -> None:
        """Call `on_gone` once, when the client goes; the answer lasts till then."""
        self.on_gone = on_gone
        if isinstance(self.protocol, FlashSaleProtocol):
            self.protocol.answer_lasts()
        self._wake_waiter()  # gone already: called now

    def stop_watching(self) -> None:
        self.on_gone = None

    def direct_body(self) -> DirectBody | None:
        """The connection's transport, for an answer whose head and first body bytes
        went out through `send` and whose body goes on until the client goes (an event
        stream): one write a message then, with no coroutine woken. None when the
        answer cannot be written so (HTTP/2, an answer not started or not flushed)."""
        protocol = self.protocol
        if isinstance(protocol, FlashSaleProtocol) and not self.gone:
            return protocol.direct_body()
        return None

    def _wake_waiter(self) -> None:
        super()._wake_waiter()
        on_gone = self.on_gone
        if on_gone is not None and self.gone:
            self.on_gone = None
            on_gone()

    async def receive(self) -> dict[str, object]:
        if self._body_finished and self.peer_done_writing:
            return {"type": "http.disconnect"}
        event: dict[str, object] = await super().receive()
        if event["type"] == "http.disconnect" and not self._complete:
            raise asyncio.CancelledError("the request's body was cut short")
        return event


# Shed connections lingering in this worker (one event loop, so a plain counter).
_lingering_sheds = [0]
# This worker's open connections, for close_idle_connections.
_open_connections: set[FlashSaleProtocol] = set()


def close_idle_connections() -> int:
    """Close the connections waiting for a request of which nothing has come; how many.
    For a stopping worker: one that goes on serving closes the others itself, after
    their answer."""
    idle = [connection for connection in _open_connections if connection.idle]
    for connection in idle:
        connection.close_idle()
    return len(idle)


class FlashSaleProtocol(ASGIProtocol):
    # Ours from _setup_callback_parser; None once the connection let go of it.
    _callback_parser: PipeliningParser | None

    def __init__(self, worker: ASGIWorker, limits: ConnectionLimits) -> None:
        super().__init__(worker)
        self._limits = limits
        self._deadline: asyncio.TimerHandle | None = None
        self._received_bytes = False
        self._message_complete = False  # the current request's
        self._client_done_writing = False
        self._lingering = False
        self._discarded_bytes = 0
        self._address = ""  # what this connection is counted under per address
        self._sheds_lingering = False  # a shed connection, counted in _lingering_sheds
        self._chunked_answer = False  # the answer being written has a chunked body

    # -- connections ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.worker.nr_conns >= self._limits.max_connections:
            self._shed(transport, 503, "this server holds as many connections as it may")
            return
        address = self._limits.by_address.admit(transport.get_extra_info("peername"))
        if address is None:
            self._shed(transport, 429, "this address holds as many connections as one address may")
            return
        self._address = address
        super().connection_made(transport)
        _open_connections.add(self)
        self._deadline = self.worker.loop.call_later(
            self._limits.header_timeout_s, self._head_deadline_passed
        )

    def _shed(self, transport: asyncio.BaseTransport, status: int, description: str) -> None:
        # Before anything is set up or read; connection_lost still runs, and takes
        # back this count.
        self.transport = transport
        self.worker.nr_conns += 1
        retry_after = [("Retry-After", str(RETRY_AFTER_SHED_S))]
        self._send_error_response(status, f"{description}; try again in a second", retry_after)
        if _lingering_sheds[0] < MAX_LINGERING_SHEDS:
            _lingering_sheds[0] += 1
            self._sheds_lingering = True
            self._close_after_lingering(LINGER_SHED_S)
        else:
            self._close_transport()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._sheds_lingering:
            self._sheds_lingering = False
            _lingering_sheds[0] -= 1
        self._cancel_deadline()
        _open_connections.discard(self)
        super().connection_lost(exc)
        self._limits.by_address.release(self._address)
        self._address = ""
        if self._task is None or self._task.done():
            self._let_go()
        else:  # the connection's task still runs (the app hears of the disconnect)
            self._task.add_done_callback(self._let_go)

    @property
    def idle(self) -> bool:
        """Waiting for a request of which not a byte has come: closing it now loses
        nothing, as the keep-alive timer's close would not."""
        parser = self._callback_parser
        return (
            self._awaiting_request
            and not self._closed
            and not self._lingering
            and parser is not None
            and parser.untouched
        )

    def close_idle(self) -> None:
        self._keepalive_timeout()  # closes, and wakes the connection's loop to end

    def answer_lasts(self) -> None:
        """The answer being written lasts as long as the connection: no request will
        be read after it, so the parser and its buffer can go now. Bytes that still
        come are dropped: a request pipelined behind an endless answer could never
        be answered."""
        self._callback_parser = None

    def direct_body(self) -> DirectBody | None:
        """See RequestReceiver.direct_body."""
        # uvloop's transports are not asyncio.Transport's subclasses: no isinstance here.
        transport = cast(asyncio.Transport | None, self.transport)
        if (
            self._closed
            or self._response_buffer  # the head is not written yet
            or transport is None
            or transport.is_closing()
        ):
            return None
        return DirectBody(transport, self._chunked_answer)

    def _send_response_start(
        self, status: int, headers: Any, request: Any, close: bool = False
    ) -> None:
        # gunicorn decides the framing in its `send` and adds the header to say so.
        self._chunked_answer = any(
            name.lower() == b"transfer-encoding" and b"chunked" in value.lower()
            for name, value in headers
            if isinstance(name, bytes) and isinstance(value, bytes)
        )
        super()._send_response_start(status, headers, request, close)

    def _let_go(self, _: object = None) -> None:
        """Break the cycles through the connection (see the module's docstring)."""
        self._callback_parser = None
        self._body_receiver = None
        self._current_request = None

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            self._discard(data)
            return
        self._received_bytes = True
        super().data_received(data)
        # A body that did not come with its head gets a deadline; most come
        # whole in one read and need no timer at all.
        if (
            self._current_request is not None
            and not self._message_complete
            and self._deadline is None
            and not self._closed
        ):
            self._deadline = self.worker.loop.call_later(
                self._limits.body_timeout_s, self._body_deadline_passed
            )

    def eof_received(self) -> bool:
        """Keep the connection open (True) to answer a whole request already received."""
        if self._lingering:
            return False  # it has sent everything: close now
        self._client_done_writing = True
        answering = self._current_request is not None and self._message_complete
        if answering and isinstance(self._body_receiver, RequestReceiver):
            self._body_receiver.peer_stopped_writing()
        elif not answering and self._request_ready is not None:
            self._request_ready.set()  # a task waiting for a head: it ends now
        return answering

    def _arm_keepalive_timer(self) -> None:
        """Before waiting for the next request: none can come from a client that has
        stopped writing. Its FIN may arrive while the last answer is still being
        finished, after keep-alive was decided; without this the connection would
        sit in CLOSE-WAIT, counted against the bound, until the keep-alive timeout."""
        if self._client_done_writing:
            self._keepalive_timeout()  # close now, as the timer would
            return
        super()._arm_keepalive_timer()

    def _will_close(self, request: object, response_requires_close: bool) -> bool:
        # A client that stopped writing is let go after its last request: with
        # several pipelined, after the answer to the last of them.
        parser = self._callback_parser  # None once the connection let go of it
        done = self._client_done_writing and not (parser is not None and parser.holds_more())
        return done or super()._will_close(request, response_requires_close)

    # -- the parser's callbacks ---------------------------------------------------------
    def _on_headers_complete(self) -> bool:
        """gunicorn's parser callback; True would skip the body (gunicorn never does)."""
        self._cancel_deadline()
        self._message_complete = False
        skip_body: bool = super()._on_headers_complete()
        request = self._current_request
        if request is not None:
            receiver = self._body_receiver = RequestReceiver(request, self)
            # A request pipelined before the client stopped writing.
            receiver.peer_done_writing = self._client_done_writing
            self._check_head(request)
        return skip_body

    def _on_message_complete(self) -> None:
        self._cancel_deadline()
        self._message_complete = True
        super()._on_message_complete()

    # -- the request head ----------------------------------------------------------------
    def _check_head(self, request: Any) -> None:
        """Refuse a head RFC 9112 refuses, or a body too large, before the app runs
        (see flashsale.serving.request_head); route an absolute-form target by its path."""
        parser = self._callback_parser
        assert parser is not None  # this runs in the parser's own callback
        answer = refusal(
            request.version,
            parser.get_header(b"host"),
            request.content_length,
            self._limits.body_max_bytes,
        )
        if answer is None:
            target = origin_form(request.raw_path)
            if target is None:
                return
            if isinstance(target, OriginForm):
                _route_by_path(request, target)
                return
            answer = target
        self._refuse(answer)

    def _refuse(self, answer: Refusal) -> None:
        """Answer before the app runs, and close: the body, if any, is not read.
        The connection's task, woken for this request, sees the close and ends."""
        self._send_error_response(answer.status, answer.description)
        self._close_after_lingering()

    def _close_after_lingering(self, linger_s: float = LINGER_S) -> None:
        """Close once the client has sent what it was sending, as nginx's lingering
        close does. Closed with the client's bytes unread, the connection would be
        reset (RST): the client's sends fail, and the answer may be lost with them.
        So the answer is followed by our FIN, and what the client still sends is
        read and dropped until it closes, for LINGER_S and LINGER_MAX_BYTES at most."""
        self._lingering = True
        self._closed = True  # nothing more is served or written
        transport = cast(asyncio.Transport, self.transport)  # a TCP connection's
        if transport.can_write_eof():
            transport.write_eof()
        self.worker.loop.call_later(linger_s, transport.close)
        super()._resume_reading()  # if reading was paused: gunicorn's, whatever waits

    def _discard(self, data: bytes) -> None:
        self._discarded_bytes += len(data)
        if self._discarded_bytes > LINGER_MAX_BYTES:
            self.transport.close()

    # -- deadlines --------------------------------------------------------------------
    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_deadline_passed(self) -> None:
        self._deadline = None
        if self._closed or self._current_request is not None:
            return
        if self._received_bytes:
            self._send_error_response(
                408, f"the request head did not arrive within {self._limits.header_timeout_s:g} s"
            )
        self._close_transport()
        # Wake the connection's task, which waits for a head, so that it ends now.
        self._request_ready.set()

    def _body_deadline_passed(self) -> None:
        self._deadline = None
        if self._closed:
            return
        self._send_error_response(
            408, f"the request body did not arrive within {self._limits.body_timeout_s:g} s"
        )
        self._close_transport()
        if self._body_receiver is not None:
            self._body_receiver.signal_disconnect()  # the request ends: its body never will

    # -- the parser, and pipelined requests ---------------------------------------------
    def _setup_callback_parser(self) -> None:
        """gunicorn_h1c's parser (the worker requires it) with gunicorn's limits,
        holding pipelined requests (flashsale.serving.pipelining)."""
        cfg = self.cfg
        self._callback_parser = PipeliningParser(
            on_headers_complete=self._on_headers_complete,
            on_body=self._on_body,
            on_message_complete=self._on_message_complete,
            # gunicorn's 0 means "no limit"; the C parser needs a number (gunicorn's).
            limit_request_line=cfg.limit_request_line or 1024 * 1024,
            limit_request_fields=cfg.limit_request_fields,
            limit_request_field_size=cfg.limit_request_field_size,
            permit_unconventional_http_method=cfg.permit_unconventional_http_method,
            permit_unconventional_http_version=cfg.permit_unconventional_http_version,
        )

    def _http1_buffered(self) -> int:
        """Bytes read and not yet taken: a body's, and pipelined requests'. Above
        gunicorn's bound (_max_buffer_size) the socket is not read; at half, it is again."""
        held: int = super()._http1_buffered()
        parser = self._callback_parser
        return held + (parser.pending_bytes if parser is not None else 0)

    def _resume_reading(self) -> None:
        # gunicorn's connection loop calls this after every answer; the pipelined
        # requests still waiting decide.
        parser = self._callback_parser
        if (
            self._reading_paused
            and parser is not None
            and parser.pending_bytes > self._max_buffer_size // 2
        ):
            return
        super()._resume_reading()

    def _feed_callback_parser(self, data: bytes) -> bool:
        fed: bool = super()._feed_callback_parser(data)
        # After the loop fed in the next pipelined request: fewer may wait now, or
        # none, with the last one not whole yet, which only reading will complete.
        if fed and self._reading_paused:
            self._maybe_resume_reading()
        return fed

    # -- answers gunicorn writes itself -------------------------------------------------
    async def _handle_websocket(self, request: Any, sockname: Any, peername: Any) -> None:
        """No path of this service is a WebSocket: an upgrade is refused here, with a
        problem like every other refusal (gunicorn's own is a bare 403 once the app
        has turned the socket down)."""
        self._callback_parser = None  # nothing is read after the refusal
        self._send_error_response(403, "no path of this service is a WebSocket")
        self._close_transport()

    def _send_error_response(
        self, status: int, message: str, extra_headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        # Also called when an app gave no answer, which ours only does to a
        # client already gone: nothing to write then.
        if self._closed:
            return
        self._safe_write(error_page(status, message, extra_headers))
