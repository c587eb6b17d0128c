"""A worker's client of the allocator, shared by the worker's threads.

Each worker process opens its own connection after it forks, so workers share
no lock: a worker killed mid-send only breaks its own connection. A reader
thread routes replies to the waiting request threads by sequence number and,
when the allocator dies, reconnects to its successor and resends what was in
flight (flagged RESENT, so a sale the dead allocator committed is found in the
journal instead of being sold again).

The rule that keeps a 503 honest: a request that times out is answered
`unavailable` only if the allocator never read it (its `read_seq` in shared
memory is lower), because the allocator sells nothing once a request's sell
deadline has passed. A request that was read, or was in flight at a crash, is
answered `pending` instead if no reply comes in time.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
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
    set_timeouts,
)
from flashsale.journal import OrderRecord
from flashsale.outcomes import Outcome
from flashsale.shm.slots import IN_FLIGHT, READ_SEQ, ProcessSlots

log = logging.getLogger("flashsale.client")

RECONNECT_INTERVAL_S = 0.02
POLL_INTERVAL_S = 0.5
SOCKET_TIMEOUT_S = 5.0
READ_CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    order: OrderRecord | None = None
    body: bytes = b""


def _taken_lock() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass(eq=False)
class _Pending:
    request: Request
    reply_deadline_ns: int
    # Released once by the reader thread when the reply is in. A bare lock is a
    # tenth of the cost of a threading.Event, and one is made per purchase.
    done: threading.Lock = field(default_factory=_taken_lock)
    reply: Reply | None = None
    sent_epoch: int | None = None  # connection epoch it was last sent on
    crashed: bool = False  # it was on a connection that broke: it may have been decided


class AllocatorClient:
    def __init__(
        self,
        address: str,
        authkey: bytes,
        *,
        slot: int | None,
        slots: ProcessSlots | None,
        reply_timeout_s: float,
        commit_budget_s: float,
    ) -> None:
        self.address = address
        self.authkey = authkey
        self.slot = slot
        self._row = slots.row(slot) if slots is not None and slot is not None else None
        self.reply_timeout_ns = int(reply_timeout_s * 1e9)
        self.commit_budget_ns = int(commit_budget_s * 1e9)
        self._lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._conn: Connection | None = None
        self._epoch = 0
        self._seq = 0
        self._stopped = threading.Event()
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name="allocator-client", daemon=True)
        self._thread.start()

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

    def wait_connected(self, timeout_s: float) -> bool:
        """Block until the first connection is up (a new worker calls it before serving)."""
        return self._connected.wait(timeout_s)

    def close(self) -> None:
        self._stopped.set()

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
        with self._lock:
            self._seq += 1
            seq = self._seq
            request = Request(
                kind, 0, NO_SLOT if self.slot is None else self.slot, seq,
                # A random request id names the order it may become (a UUID).
                os.urandom(16), arrival_ns, sell_deadline_ns, body,
            )  # fmt: skip
            pending = _Pending(request, reply_deadline_ns)
            self._pending[seq] = pending
            self._count_in_flight(+1)
            self._send_locked(pending)
        try:
            if pending.done.acquire(timeout=_seconds_until(reply_deadline_ns)):
                return _decision(pending.reply)
            with self._lock:
                if pending.reply is not None:
                    return _decision(pending.reply)
                if not pending.crashed and (pending.sent_epoch is None or self._read_seq() < seq):
                    # Never read by any allocator; removing it now means it will
                    # not be (re)sent, and if it is read later its sell deadline
                    # has passed, so nothing can be sold to it.
                    return Decision(Outcome.UNAVAILABLE)
            # Read, or caught in a crash: a sale may be committing. Give the
            # commit its budget, then say "pending" rather than guess.
            if pending.done.acquire(timeout=self.commit_budget_ns / 1e9):
                return _decision(pending.reply)
            log.warning(
                "worker %s: request %s read but unanswered%s: answered pending",
                os.getpid(), seq, " (allocator crashed)" if pending.crashed else "",
            )  # fmt: skip
            return Decision(Outcome.PENDING)
        finally:
            with self._lock:
                self._pending.pop(seq, None)
                self._count_in_flight(-1)

    def _read_seq(self) -> int:
        # Without a slot the allocator cannot tell us what it read: assume all.
        return self._row[READ_SEQ] if self._row is not None else 2**63 - 1

    def _count_in_flight(self, delta: int) -> None:
        if self._row is not None:
            self._row[IN_FLIGHT] += delta

    def _send_locked(self, pending: _Pending) -> None:
        conn = self._conn
        if conn is None:
            return  # sent by the reader thread once connected
        request = pending.request
        if pending.crashed:
            request = Request(
                request.kind, request.flags | RESENT, request.slot, request.seq,
                request.request_id, request.arrival_ns, request.sell_deadline_ns, request.body,
            )  # fmt: skip
        try:
            conn.send_bytes(request.encode())
        except OSError:
            # Part of the frame may be out: the stream is unusable. Shut it so
            # the reader thread sees the break and reconnects; the request may
            # have reached the allocator, so treat it as caught in a crash.
            pending.crashed = True
            _shutdown(conn)
            return
        pending.sent_epoch = self._epoch

    # -- the reader thread ----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopped.is_set():
            conn = self._connect()
            if conn is None:
                return
            self._serve(conn)

    def _connect(self) -> Connection | None:
        while not self._stopped.is_set():
            try:
                conn = _open_connection(self.address, self.authkey)
            except (OSError, EOFError):
                time.sleep(RECONNECT_INTERVAL_S)
                continue
            with self._lock:
                hello = Request(Kind.HELLO, 0, NO_SLOT if self.slot is None else self.slot,
                                os.getpid(), bytes(16), 0, 0, b"")  # fmt: skip
                try:
                    conn.send_bytes(hello.encode())
                except OSError:
                    conn.close()
                    continue
                self._epoch += 1
                self._conn = conn
                self._connected.set()
                now = time.monotonic_ns()
                for pending in list(self._pending.values()):
                    if pending.sent_epoch is None and pending.reply_deadline_ns > now:
                        self._send_locked(pending)
            return conn
        return None

    def _serve(self, conn: Connection) -> None:
        """Read replies in large chunks (one syscall for many) and hand each to its waiter."""
        frames = FrameBuffer()
        fd = conn.fileno()
        try:
            while not self._stopped.is_set():
                if not conn.poll(POLL_INTERVAL_S):
                    continue
                data = os.read(fd, READ_CHUNK_BYTES)
                if not data:
                    raise EOFError
                for payload in frames.feed(data):
                    self._deliver(Reply.decode(payload))
        except (EOFError, OSError, ValueError):
            log.warning("worker %s: lost the allocator, reconnecting", os.getpid())
        finally:
            with self._lock:
                self._conn = None
                for pending in self._pending.values():
                    if pending.sent_epoch == self._epoch:
                        pending.crashed = True
                        pending.sent_epoch = None
            conn.close()

    def _deliver(self, reply: Reply) -> None:
        with self._lock:
            pending = self._pending.get(reply.seq)
            if pending is None or pending.request.request_id != reply.request_id:
                return  # its request thread has already answered
            pending.reply = reply
        pending.done.release()


def _decision(reply: Reply | None) -> Decision:
    assert reply is not None
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


def _seconds_until(deadline_ns: int) -> float:
    return max(deadline_ns - time.monotonic_ns(), 0) / 1e9


def _open_connection(address: str, authkey: bytes) -> Connection:
    """`multiprocessing.connection.Client`, with timeouts on every blocking step."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(HANDSHAKE_TIMEOUT_S)
        sock.connect(address)
        sock.setblocking(True)
    except OSError:
        sock.close()
        raise
    conn = Connection(sock.detach())
    try:
        authenticate(conn, authkey, accepting=False)
        # Replies are awaited with poll(); a reply cut in half by a frozen
        # allocator still fails after SOCKET_TIMEOUT_S instead of hanging.
        set_timeouts(conn, SOCKET_TIMEOUT_S)
    except BaseException:
        conn.close()
        raise
    return conn


def _shutdown(conn: Connection) -> None:
    sock = socket.socket(fileno=conn.fileno())
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.detach()
