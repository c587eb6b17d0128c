"""A worker's client of the allocator: one connection, shared by every request in flight.

Requests are multiplexed by request id. A purchase queues its frame and awaits
a future; frames queued in one turn of the event loop go out in one write, and
the connection's protocol, called by the loop as data arrives, resolves the
futures from the replies. No thread waits for the allocator.

The rule that keeps a 503 honest: a request whose reply is late is answered
`unavailable` only if the allocator never read it. The allocator sends an ACK
(the count of frames it has read from this connection) before it reads the
clock to decide them, and it sells nothing past a request's sell deadline. So
at the reply deadline, which is after the sell deadline, a frame that no ACK
covers, with no ACK still waiting unread in our socket, can only be read
later, past its sell deadline: nothing can be sold to it. (The kernel's own
count of unread bytes cannot say this for one request among several: on
AF_UNIX, SIOCOUTQ counts buffer memory, 768 for a 60-byte write, not bytes.)
A request that was read, or was in flight when the connection broke, is
answered `pending` if no reply comes within the commit budget.

When the connection breaks (the allocator died), the client connects to its
successor and resends what was in flight, flagged RESENT, so a sale the dead
allocator committed is found in the journal instead of being sold again.
Connecting runs multiprocessing's blocking HMAC handshake on a thread, with
timeouts, so a frozen allocator never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import logging
import os
import random
import socket
import struct
import termios
import time
from dataclasses import dataclass
from multiprocessing import AuthenticationError
from multiprocessing.connection import Connection

from flashsale.admin_commands import AdminRequest
from flashsale.allocator.messages import (
    ACK,
    HANDSHAKE_TIMEOUT_S,
    HOLD_CHARS,
    NO_SLOT,
    ORDER_ID_CHARS,
    REPLY,
    RESENT,
    FrameBuffer,
    Kind,
    Request,
    authenticate,
    purchase_body,
    read_hold_text,
)
from flashsale.checkout_commands import CheckoutRequest
from flashsale.metrics import MetricsRecorder
from flashsale.outcomes import Outcome
from flashsale.records import Confirmation, Order

log = logging.getLogger("flashsale.allocator.client")

RECONNECT_INTERVAL_S = 0.02
# An operator's command waits for the purchases before it to be durable, then its own commit.
ADMIN_TIMEOUT_S = 5.0
_UNREAD_BYTES = struct.Struct("i")


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    order: Order | None = None
    body: bytes = b""
    # A hold's (checkout token, expires_at_us): outcome HELD only.
    hold: tuple[str, int] | None = None


class _Call:
    """One request in flight, from its frame's queueing to its answer."""

    __slots__ = ("connection", "crashed", "future", "number", "request", "timer")

    def __init__(self, request: Request, future: asyncio.Future[Decision]) -> None:
        self.request = request
        self.future = future
        self.connection: _Connection | None = None  # None: waiting for a connection
        self.number = 0  # its frame's number on `connection`, from 1
        self.crashed = False  # it was on a connection that broke: maybe decided
        self.timer: asyncio.TimerHandle | None = None


def connect_blocking(address: str, authkey: bytes) -> socket.socket:
    """`multiprocessing.connection.Client`, with timeouts on every blocking step.

    Runs on a thread: the handshake blocks, for HANDSHAKE_TIMEOUT_S at most.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(HANDSHAKE_TIMEOUT_S)
        sock.connect(address)
        sock.setblocking(True)
        # The handshake speaks through a Connection on a duplicate descriptor.
        with Connection(os.dup(sock.fileno())) as conn:
            authenticate(conn, authkey, accepting=False)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class _Connection(asyncio.Protocol):
    """One connection to the allocator: sends frames, reads ACKs and replies."""

    def __init__(self, client: AllocatorClient) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.calls: dict[bytes, _Call] = {}  # in flight, by request id
        self.sent = 0  # frames queued on this connection
        self.acknowledged = 0  # frames the allocator says it has read
        self.lost = False
        self._frames = FrameBuffer()
        self._outbox: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's, duck-typed

    def send(self, call: _Call) -> None:
        request = call.request
        if call.crashed:
            request = _resent(request)
        self.sent += 1
        call.connection, call.number = self, self.sent
        self.calls[request.request_id] = call
        self._outbox.append(request.frame())
        if len(self._outbox) == 1:
            self.client.loop.call_soon(self._flush)

    def _flush(self) -> None:
        if self._outbox and not self.lost:
            assert self.transport is not None
            self.transport.write(b"".join(self._outbox))
        self._outbox.clear()

    def data_received(self, data: bytes) -> None:
        try:
            payloads = self._frames.feed(data)
        except ValueError:
            log.error("malformed frame from the allocator; reconnecting")
            self.close()
            return
        for payload in payloads:
            if payload[0] == Kind.ACK:
                self.acknowledged = ACK.unpack_from(payload)[1]
                continue
            request_id, decision = decode_reply(payload)
            call = self.calls.pop(request_id, None)
            if call is not None:  # else its worker stopped waiting for it
                self.client.resolve(call, decision)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.client.connection_lost(self)

    def read_by_allocator(self, call: _Call) -> bool:
        """Has the allocator read this call's frame, or may it have? (False: it never will
        before the frame's sell deadline; see the module's docstring.)"""
        if self.acknowledged >= call.number:
            return True
        # An ACK may sit in our socket, not yet handed to data_received.
        return self._unread_input_bytes() > 0

    def _unread_input_bytes(self) -> int:
        assert self.transport is not None
        sock = self.transport.get_extra_info("socket")
        if sock is None:
            return 0
        try:
            raw = fcntl.ioctl(sock.fileno(), termios.FIONREAD, bytes(_UNREAD_BYTES.size))
        except OSError:
            return 0
        unread_bytes: int = _UNREAD_BYTES.unpack(raw)[0]
        return unread_bytes

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class AllocatorClient:
    """The allocator as a worker's coroutines see it: one awaitable call per purchase."""

    def __init__(
        self,
        address: str,
        authkey: bytes,
        *,
        slot: int | None,
        metrics: MetricsRecorder | None = None,
        reply_timeout_s: float,
        commit_budget_s: float,
    ) -> None:
        self.address = address
        self.authkey = authkey
        self.slot = NO_SLOT if slot is None else slot
        # Counts the requests in flight: the queue's depth and its high-water mark.
        self._metrics = MetricsRecorder(None) if metrics is None else metrics
        self.reply_timeout_ns = int(reply_timeout_s * 1e9)
        self.commit_budget_s = commit_budget_s
        self._connection: _Connection | None = None
        # Calls with no connection to go on yet, by request id, in arrival order.
        self._waiting: dict[bytes, _Call] = {}
        self._connecting: asyncio.Task[None] | None = None
        self._closed = False
        self._seq = itertools.count(1)
        # Request ids need to be unique, not secret: a generator seeded from
        # os.urandom after the fork spares each purchase a getrandom() call.
        self._ids = random.Random(os.urandom(32))
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    # -- the worker's life ------------------------------------------------------------
    async def start(self, timeout_s: float) -> bool:
        """Connect before serving; False if the allocator could not be reached in
        time (it may be restarting): the client keeps trying meanwhile, and
        requests wait for it within their own deadlines."""
        self._ensure_connecting()
        assert self._connecting is not None
        await asyncio.wait({self._connecting}, timeout=timeout_s)
        return self._connection is not None

    async def close(self) -> None:
        self._closed = True
        if self._connecting is not None:
            self._connecting.cancel()
        if self._connection is not None:
            self._connection.close()

    # -- what requests call -----------------------------------------------------------
    async def purchase(self, user_id: str, sku: str, arrival_ns: int) -> Decision:
        reply_deadline_ns = arrival_ns + self.reply_timeout_ns
        sell_deadline_ns = reply_deadline_ns - int(self.commit_budget_s * 1e9)
        return await self._call(
            Kind.PURCHASE,
            purchase_body(user_id, sku),
            arrival_ns,
            sell_deadline_ns,
            reply_deadline_ns,
        )

    async def admin(self, request: AdminRequest) -> Decision:
        """An operator's command: its answer (flashsale.admin_commands.AdminAnswer) is the
        decision's body; UNAVAILABLE or PENDING when none came in time."""
        now_ns = time.monotonic_ns()
        deadline_ns = now_ns + max(self.reply_timeout_ns, int(ADMIN_TIMEOUT_S * 1e9))
        return await self._call(Kind.ADMIN, request.encode(), now_ns, deadline_ns, deadline_ns)

    async def checkout(self, request: CheckoutRequest) -> Decision:
        """A buyer's checkout command: its answer (flashsale.checkout_commands.CheckoutAnswer)
        is the decision's body; UNAVAILABLE or PENDING when none came in time."""
        now_ns = time.monotonic_ns()
        deadline_ns = now_ns + max(self.reply_timeout_ns, int(ADMIN_TIMEOUT_S * 1e9))
        return await self._call(Kind.CHECKOUT, request.encode(), now_ns, deadline_ns, deadline_ns)

    async def _call(
        self,
        kind: Kind,
        body: bytes,
        arrival_ns: int,
        sell_deadline_ns: int,
        reply_deadline_ns: int,
    ) -> Decision:
        loop = self.loop
        request = Request(
            kind,
            0,
            self.slot,
            next(self._seq),
            # A random request id names the order it may become (a UUID).
            self._ids.randbytes(16),
            arrival_ns,
            sell_deadline_ns,
            body,
        )
        call = _Call(request, loop.create_future())
        call.timer = loop.call_later(
            (reply_deadline_ns - time.monotonic_ns()) / 1e9, self._reply_deadline_passed, call
        )
        self._metrics.queue_entered()
        try:
            connection = self._connection
            if connection is not None and not connection.lost:
                connection.send(call)
            else:
                self._waiting[request.request_id] = call
                self._ensure_connecting()
            return await call.future
        finally:
            self._metrics.queue_left()
            self._forget(call)

    def resolve(self, call: _Call, decision: Decision) -> None:
        if not call.future.done():
            call.future.set_result(decision)

    # -- late answers -------------------------------------------------------------------
    def _reply_deadline_passed(self, call: _Call) -> None:
        if call.future.done():
            return
        left_s = (call.request.sell_deadline_ns - time.monotonic_ns()) / 1e9
        if left_s > 0:  # never decide before the sell deadline (a timer may fire early)
            call.timer = self.loop.call_later(left_s, self._reply_deadline_passed, call)
            return
        connection = call.connection
        if connection is None:
            # No allocator could be reached in time. Unless a dead one read
            # it, nobody has this request: nothing can be sold to it.
            self.resolve(call, Decision(Outcome.PENDING if call.crashed else Outcome.UNAVAILABLE))
        elif not call.crashed and not connection.read_by_allocator(call):
            self.resolve(call, Decision(Outcome.UNAVAILABLE))
        else:
            # Read, or caught in a crash: a sale may be committing. Give the
            # commit its budget, then say "pending" rather than guess.
            call.timer = self.loop.call_later(self.commit_budget_s, self._budget_spent, call)

    def _budget_spent(self, call: _Call) -> None:
        self.resolve(call, Decision(Outcome.PENDING))

    def _forget(self, call: _Call) -> None:
        if call.timer is not None:
            call.timer.cancel()
        request_id = call.request.request_id
        if call.connection is not None:
            call.connection.calls.pop(request_id, None)
        self._waiting.pop(request_id, None)

    # -- connections ----------------------------------------------------------------------
    def connection_lost(self, connection: _Connection) -> None:
        if connection is self._connection:
            self._connection = None
        for request_id, call in connection.calls.items():  # in the order they were sent
            # Handed to the socket: the dead allocator may have decided it.
            call.crashed, call.connection = True, None
            self._waiting[request_id] = call
        connection.calls.clear()
        if self._waiting and not self._closed:
            self._ensure_connecting()

    def _ensure_connecting(self) -> None:
        if self._connecting is None or self._connecting.done():
            self._connecting = self.loop.create_task(self._connect())

    async def _connect(self) -> None:
        loop = self.loop
        while not self._closed:
            try:
                sock = await loop.run_in_executor(
                    None, connect_blocking, self.address, self.authkey
                )
            except (OSError, EOFError, AuthenticationError):
                await asyncio.sleep(RECONNECT_INTERVAL_S)
                continue
            try:
                _, connection = await loop.create_unix_connection(
                    lambda: _Connection(self), sock=sock
                )
            except OSError:
                sock.close()
                await asyncio.sleep(RECONNECT_INTERVAL_S)
                continue
            self._connection = connection
            waiting, self._waiting = self._waiting, {}
            for call in waiting.values():
                connection.send(call)
            return


def _resent(request: Request) -> Request:
    return request._replace(flags=request.flags | RESENT)


# Outcomes by value: Outcome(value) costs an enum look-up on every reply.
_OUTCOMES = {outcome.value: outcome for outcome in Outcome}


def decode_reply(payload: bytes) -> tuple[bytes, Decision]:
    """A REPLY payload as (request id, decision), on the worker's hot path."""
    kind, outcome, unit, sale_id, _, request_id, position, purchased_at_us = REPLY.unpack_from(
        payload
    )
    body = payload[REPLY.size :]
    if kind != Kind.DECISION or position == 0:
        return request_id, Decision(_OUTCOMES[outcome], body=body)
    text = body.decode()
    if outcome == Outcome.HELD:
        end = ORDER_ID_CHARS + HOLD_CHARS
        order = Confirmation(
            text[:ORDER_ID_CHARS], sale_id, unit, position, purchased_at_us, text[end:]
        )
        hold = read_hold_text(text[ORDER_ID_CHARS:end])
        return request_id, Decision(Outcome.HELD, order, hold=hold)
    order = Confirmation(
        text[:ORDER_ID_CHARS], sale_id, unit, position, purchased_at_us, text[ORDER_ID_CHARS:]
    )
    return request_id, Decision(_OUTCOMES[outcome], order)
