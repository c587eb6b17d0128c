"""A worker's client of the allocator: one connection per request in flight.

A request thread takes a connection (a `Line`) from its worker's pool, sends
its request and waits for the reply on that line itself. No reader thread sits
in between, so a purchase costs a send, a poll and a receive, and no thread
has to wake another. Lines are opened after the fork, so workers share no
lock: a worker killed mid-send breaks only its own lines.

The rule that keeps a 503 honest: a request whose reply is late is answered
`unavailable` only if the allocator never read it, because the allocator sells
nothing once a request's sell deadline has passed. A line carries one request
at a time, so the kernel's count of the bytes the allocator has not yet read
from it (SIOCOUTQ) says exactly that. A request that was read, or that was on
a line when the allocator died, is answered `pending` instead if no reply
comes in time.

When the allocator dies, the request thread reconnects to its successor and
resends (flagged RESENT, so a sale the dead allocator committed is found in the
journal instead of being sold again).
"""

from __future__ import annotations

import fcntl
import itertools
import os
import random
import socket
import struct
import termios
import threading
import time
from dataclasses import dataclass
from multiprocessing import AuthenticationError
from multiprocessing.connection import Connection

from flashsale.allocator.protocol import (
    HANDSHAKE_TIMEOUT_S,
    NO_SLOT,
    RESENT,
    FrameBuffer,
    Kind,
    Reply,
    Request,
    authenticate,
    frame,
    set_timeouts,
)
from flashsale.journal import OrderRecord
from flashsale.outcomes import Outcome
from flashsale.shm.slots import IN_FLIGHT

RECONNECT_INTERVAL_S = 0.02
# A frozen allocator fails a blocked send or a half-received reply after this.
SOCKET_TIMEOUT_S = 5.0
READ_CHUNK_BYTES = 4096  # a reply is under 100 bytes
_UNREAD_BYTES = struct.Struct("i")
_TIMEVAL = struct.Struct("ll")


def _timeval(microseconds: int) -> bytes:
    return _TIMEVAL.pack(*divmod(microseconds, 1_000_000))


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    order: OrderRecord | None = None
    body: bytes = b""


class Line:
    """One authenticated connection to the allocator, carrying one request at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._frames = FrameBuffer()

    @classmethod
    def open(cls, address: str, authkey: bytes) -> Line:
        """`multiprocessing.connection.Client`, with timeouts on every blocking step."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(HANDSHAKE_TIMEOUT_S)
            sock.connect(address)
            sock.setblocking(True)
            # The handshake speaks through a Connection on a duplicate descriptor.
            with Connection(os.dup(sock.fileno())) as conn:
                authenticate(conn, authkey, accepting=False)
                set_timeouts(conn, SOCKET_TIMEOUT_S)
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self, request_id: bytes, deadline_ns: int) -> Reply | None:
        """The reply to `request_id`, or None if the deadline passes first.

        Replies to earlier requests on this line, whose threads stopped waiting,
        are skipped. Raises OSError or EOFError when the line breaks.
        """
        sock = self.sock
        while True:
            left_us = (deadline_ns - time.monotonic_ns()) // 1000
            if left_us <= 0:
                return None
            # A blocking receive bounded by the kernel (SO_RCVTIMEO), not poll()
            # then recv(): each call that lets go of the GIL costs a busy worker
            # two context switches, as other threads take the GIL meanwhile.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(left_us))
            try:
                data = sock.recv(READ_CHUNK_BYTES)
            except BlockingIOError:  # EAGAIN: the timeout
                continue
            if not data:
                raise EOFError("the allocator closed the line")
            for payload in self._frames.feed(data):
                reply = Reply.decode(payload)
                if reply.request_id == request_id:
                    return reply

    def unread(self) -> bool:
        """Does the allocator still have bytes of this line to read? (Linux SIOCOUTQ)"""
        raw = fcntl.ioctl(self.sock.fileno(), termios.TIOCOUTQ, bytes(_UNREAD_BYTES.size))
        return _UNREAD_BYTES.unpack(raw)[0] > 0

    def close(self) -> None:
        self.sock.close()


class AllocatorClient:
    """The allocator as a worker's threads see it: one blocking call per purchase."""

    def __init__(
        self,
        address: str,
        authkey: bytes,
        *,
        slot: int | None,
        metrics_row: memoryview | None,
        reply_timeout_s: float,
        commit_budget_s: float,
    ) -> None:
        self.address = address
        self.authkey = authkey
        self.slot = NO_SLOT if slot is None else slot
        self._row = metrics_row
        self.reply_timeout_ns = int(reply_timeout_s * 1e9)
        self.commit_budget_ns = int(commit_budget_s * 1e9)
        # Idle lines. list.append and list.pop are atomic, so no lock is needed.
        self._idle: list[Line] = []
        self._seq = itertools.count(1)
        # Request ids need to be unique, not secret: a generator seeded from
        # os.urandom here, after the fork, spares each purchase a getrandom()
        # call (which, like every call that lets go of the GIL, costs two
        # context switches in a busy worker).
        self._ids = random.Random(os.urandom(32))
        self._in_flight_lock = threading.Lock()

    # -- what request threads call ---------------------------------------------------
    def purchase(self, user_id: str, arrival_ns: int) -> Decision:
        reply_deadline = arrival_ns + self.reply_timeout_ns
        return self._call(
            Kind.PURCHASE,
            user_id.encode("utf-8"),
            arrival_ns=arrival_ns,
            sell_deadline_ns=reply_deadline - self.commit_budget_ns,
            reply_deadline_ns=reply_deadline,
        )

    def start_sale(self, body: bytes) -> Decision:
        now = time.monotonic_ns()
        deadline = now + max(self.reply_timeout_ns, 5 * 10**9)
        return self._call(
            Kind.START_SALE,
            body,
            arrival_ns=now,
            sell_deadline_ns=deadline,
            reply_deadline_ns=deadline,
        )

    def open_lines(self, count: int, timeout_s: float) -> bool:
        """Open a line for each of `count` threads before serving; False if the
        allocator could not be reached in time (it may be restarting: requests
        then wait for it within their own deadlines)."""
        deadline_ns = time.monotonic_ns() + int(timeout_s * 1e9)
        while len(self._idle) < count:
            line = self._open_line(deadline_ns)
            if line is None:
                return False
            self._idle.append(line)
        return True

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()

    # -- one call -----------------------------------------------------------------------
    def _call(
        self,
        kind: Kind,
        body: bytes,
        *,
        arrival_ns: int,
        sell_deadline_ns: int,
        reply_deadline_ns: int,
    ) -> Decision:
        request = Request(
            kind, 0, self.slot, next(self._seq),
            # A random request id names the order it may become (a UUID).
            self._ids.randbytes(16), arrival_ns, sell_deadline_ns, body,
        )  # fmt: skip
        self._count_in_flight(+1)
        try:
            return self._exchange(request, reply_deadline_ns)
        finally:
            self._count_in_flight(-1)

    def _exchange(self, request: Request, reply_deadline_ns: int) -> Decision:
        crashed = False  # it was on a line that broke: a dead allocator may have decided it
        while True:
            line = None
            if time.monotonic_ns() < reply_deadline_ns:
                line = self._take_line(reply_deadline_ns)
            if line is None:
                # No allocator could be reached in time. Unless a dead one read
                # it, nobody has this request: nothing can be sold to it.
                return Decision(Outcome.PENDING if crashed else Outcome.UNAVAILABLE)
            try:
                # Not sent whole, a frame cannot be decided: a failed send is a retry.
                line.send(frame(_flagged(request, crashed)))
            except OSError:
                line.close()
                continue
            try:
                reply = line.receive(request.request_id, reply_deadline_ns)
            except (OSError, EOFError, ValueError):
                line.close()
                crashed = True
                continue
            if reply is not None:
                self._idle.append(line)
                return _decision(reply)
            return self._late(request, line, crashed)

    def _late(self, request: Request, line: Line, crashed: bool) -> Decision:
        """No reply by the reply deadline, and `request` is on `line`."""
        if not crashed and line.unread():
            # Read later, it is past its sell deadline: nothing can be sold to it.
            self._idle.append(line)
            return Decision(Outcome.UNAVAILABLE)
        # Read, or caught in a crash: a sale may be committing. Give the commit
        # its budget, then say "pending" rather than guess.
        try:
            reply = line.receive(request.request_id, time.monotonic_ns() + self.commit_budget_ns)
        except (OSError, EOFError, ValueError):
            line.close()
            return Decision(Outcome.PENDING)
        self._idle.append(line)
        return Decision(Outcome.PENDING) if reply is None else _decision(reply)

    def _take_line(self, deadline_ns: int) -> Line | None:
        try:
            return self._idle.pop()
        except IndexError:
            return self._open_line(deadline_ns)

    def _open_line(self, deadline_ns: int) -> Line | None:
        while True:
            try:
                return Line.open(self.address, self.authkey)
            except (OSError, EOFError, AuthenticationError):
                if time.monotonic_ns() + RECONNECT_INTERVAL_S * 1e9 > deadline_ns:
                    return None
                time.sleep(RECONNECT_INTERVAL_S)

    def _count_in_flight(self, delta: int) -> None:
        if self._row is not None:
            with self._in_flight_lock:
                self._row[IN_FLIGHT] += delta


def _flagged(request: Request, resent: bool) -> bytes:
    if not resent:
        return request.encode()
    return Request(
        request.kind, request.flags | RESENT, request.slot, request.seq,
        request.request_id, request.arrival_ns, request.sell_deadline_ns, request.body,
    ).encode()  # fmt: skip


def _decision(reply: Reply) -> Decision:
    if reply.kind is not Kind.DECISION or reply.position == 0:
        return Decision(reply.outcome, body=reply.body)
    order = OrderRecord(
        order_id=reply.body.decode(),
        sale_id=reply.sale_id,
        user_id="",
        unit=reply.unit,
        position=reply.position,
        purchased_at_us=reply.purchased_at_us,
    )
    return Decision(reply.outcome, order)
