"""The allocator process: the only code that changes stock.

One loop: wait for readable worker connections (at most HEARTBEAT_S), drain
every complete request into a batch, acknowledge what was read to each worker,
and only then read the clock and decide the batch in arrival order. The sales
go to the journal in one synced transaction (the group commit), written by the
Committer's thread while the loop decides the next batch; the sold count is
published and the replies sent only once that commit is durable. Accepting
connections runs on a side thread so a slow handshake never delays a decision.
"""

from __future__ import annotations

import contextlib
import json
import logging
import operator
import os
import queue
import selectors
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing import AuthenticationError
from multiprocessing.connection import Connection, Listener
from pathlib import Path

from flashsale.allocator.book import StockBook
from flashsale.allocator.committer import Committer
from flashsale.allocator.protocol import (
    ACK,
    FRAMED_ACK,
    FRAMED_REPLY,
    LENGTH,
    REPLY,
    REQUEST,
    RESENT,
    FrameBuffer,
    Kind,
    Reply,
    authenticate,
)
from flashsale.journal import Journal, JournalLock, OrderRecord, SaleRecord
from flashsale.outcomes import Outcome
from flashsale.shm.sale_board import SaleBoard

log = logging.getLogger("flashsale.allocator")

HEARTBEAT_S = 0.05
# Commits start at most this often while requests keep coming; a batch of
# PACED_BATCH requests is committed without waiting.
COMMIT_INTERVAL_S = 0.002
PACED_BATCH = 256
READ_CHUNK_BYTES = 256 * 1024
GIL_SWITCH_INTERVAL_S = 0.0002
# A worker that stops reading its replies is cut off rather than allowed to
# make the allocator buffer without bound.
MAX_UNSENT_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class FirstSale:
    """The sale a brand-new journal starts with (from the settings)."""

    stock: int
    per_user_limit: int
    starts_at_us: int | None
    ends_at_us: int | None


@dataclass(eq=False)  # peers are compared (and hashed) by identity
class _Peer:
    conn: Connection
    fd: int
    frames: FrameBuffer = field(default_factory=FrameBuffer)
    unsent: bytearray = field(default_factory=bytearray)
    waiting_to_write: bool = False  # registered for EVENT_WRITE: replies are pending
    closed: bool = False
    frames_read: int = 0  # request frames read from this connection, ever
    # Of those, how many the worker has been told of (an ACK in its socket):
    # only these may be sold to (see _acknowledge).
    acknowledged: int = 0


@dataclass
class _Group:
    """Decided requests whose replies wait for one commit: its sales and all before them."""

    orders: list[OrderRecord] = field(default_factory=list)
    replies: dict[_Peer, list[bytes]] = field(default_factory=dict)


class Allocator:
    def __init__(
        self,
        *,
        address: str,
        authkey: bytes,
        db_path: Path,
        first_sale: FirstSale,
        board: SaleBoard,
        lock: JournalLock,
    ) -> None:
        self.address = address
        self.authkey = authkey
        self.db_path = db_path
        self.first_sale = first_sale
        self.board = board
        self.lock = lock
        self._selector = selectors.DefaultSelector()
        self._accepted: queue.SimpleQueue[Connection] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        self._stopping = False
        self._last_commit_s = 0.0
        self._next = _Group()  # decided, waiting for the committer
        self._in_flight: _Group | None = None  # being made durable
        # One read buffer for every peer: os.read would allocate (and, at this
        # size, mmap) a fresh bytes object for each read of a few dozen bytes.
        self._chunk = bytearray(READ_CHUNK_BYTES)
        self._chunk_view = memoryview(self._chunk)

    # -- process entry ------------------------------------------------------------
    def run(self, parent_pid: int | None = None) -> None:
        """Recover, serve until SIGTERM (or the parent's death), then stop cleanly."""
        if not self.lock.held:
            self.lock.acquire()  # before anything else: a refused allocator changes nothing
        signal.signal(signal.SIGTERM, lambda *_: self._stop())
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the master decides when we stop
        # The committer thread needs the GIL for a moment between SQLite calls
        # while this loop decides in pure Python; at the default 5 ms it would
        # wait that long each time.
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        self.board.announce_allocator(os.getpid())
        self.journal = Journal(self.db_path)
        self.book = self._recover()
        self.board.publish_sale(self.book.snapshot())
        self._committer = Committer(self.journal)
        self._selector.register(self._committer.done_fd, selectors.EVENT_READ, _COMMIT_DONE)
        listener = self._listen()
        self.board.mark_ready(os.getpid())
        log.info(
            "allocator %s ready: sale %s, %s of %s sold",
            os.getpid(), self.book.sale.sale_id, self.book.sold, self.book.sale.stock,
        )  # fmt: skip
        try:
            while not self._stopping:
                self._serve_once()
                if parent_pid is not None and os.getppid() != parent_pid:
                    log.warning("allocator %s: master is gone, exiting", os.getpid())
                    break
            self._settle()
        finally:
            listener.close()
            self.journal.close()

    def _stop(self) -> None:
        self._stopping = True
        os.write(self._wake_w, b"x")

    def _recover(self) -> StockBook:
        sale = self.journal.latest_sale()
        if sale is None:
            first = self.first_sale
            sale = self.journal.create_sale(
                first.stock, first.per_user_limit, first.starts_at_us, first.ends_at_us
            )
        return StockBook(sale, self.journal.orders_of_sale(sale.sale_id))

    def _listen(self) -> Listener:
        # A killed allocator leaves its socket file behind; nobody else may use
        # this path because we hold the journal lock.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.address)
        # No authkey here: the handshake runs below with timeouts, so a worker
        # frozen halfway through it cannot stall everyone else's connection.
        listener = Listener(self.address, family="AF_UNIX", backlog=512)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        threading.Thread(
            target=self._accept_forever, args=(listener,), name="accept", daemon=True
        ).start()
        return listener

    def _accept_forever(self, listener: Listener) -> None:
        while True:
            try:
                conn = listener.accept()
            except OSError:
                if self._stopping:
                    return
                log.warning("allocator: accept failed", exc_info=True)
                continue
            try:
                authenticate(conn, self.authkey, accepting=True)
            except (OSError, EOFError, AuthenticationError) as exc:
                log.warning("allocator: a worker failed the handshake (%s)", exc)
                conn.close()
                continue
            self._accepted.put(conn)
            os.write(self._wake_w, b"c")

    # -- the loop -------------------------------------------------------------------
    def _serve_once(self) -> None:
        batch: list[_Item] = []
        wait_s = HEARTBEAT_S
        if self._next.orders and not self._committer.busy:
            wait_s = max(0.0, self._last_commit_s + COMMIT_INTERVAL_S - time.monotonic())
        self._gather(batch, wait_s)
        if batch:
            self._decide(batch)
        self._advance()

    def _gather(self, batch: list[_Item], timeout_s: float) -> None:
        """Wait up to `timeout_s` for work; read every request that came into `batch`,
        then tell each worker how much of its connection has been read."""
        events = self._selector.select(timeout_s)
        self.board.beat()
        read_from: list[_Peer] = []
        for key, mask in events:
            peer = key.data
            if peer is None:
                self._admit_new_peers()
                continue
            if peer is _COMMIT_DONE:
                self._complete_commit()
                continue
            if mask & selectors.EVENT_READ and self._drain(peer, batch):
                read_from.append(peer)
            if mask & selectors.EVENT_WRITE and not peer.closed:
                self._flush(peer)
        for peer in read_from:
            self._acknowledge(peer)

    def _acknowledge(self, peer: _Peer) -> None:
        """Tell the worker how many of its frames have been read, before the clock is read.

        A worker whose request times out answers 503 only if no ACK covers it:
        this ACK is in its socket before _decide reads the clock, so a request
        it does not cover is decided later, past its sell deadline (nothing
        sold). An ACK that cannot be written whole now (the worker is not
        reading its replies) covers nothing: its requests are decided as if
        expired, so the worker's 503 stays true.
        """
        peer.unsent += FRAMED_ACK.pack(ACK.size, Kind.ACK, peer.frames_read)
        self._flush(peer)
        if not peer.unsent and not peer.closed:
            peer.acknowledged = peer.frames_read

    def _admit_new_peers(self) -> None:
        os.read(self._wake_r, 4096)
        while True:
            try:
                conn = self._accepted.get_nowait()
            except queue.Empty:
                return
            fd = conn.fileno()
            os.set_blocking(fd, False)
            peer = _Peer(conn, fd)
            self._selector.register(fd, selectors.EVENT_READ, peer)

    def _drain(self, peer: _Peer, batch: list[_Item]) -> bool:
        """Read every complete request the peer has sent; a broken peer is dropped.

        Returns whether any frame was read (and is to be acknowledged).
        """
        chunk = self._chunk
        read_before = peer.frames_read
        while True:
            try:
                size = os.readv(peer.fd, (chunk,))
            except BlockingIOError:
                break
            except OSError:
                size = 0
            if not size:
                self._drop(peer)
                break
            try:
                frames = peer.frames.feed(self._chunk_view[:size])
            except ValueError:
                log.warning("allocator: malformed frame from a worker, dropping its line")
                self._drop(peer)
                return False
            number = peer.frames_read
            for payload in frames:
                # The hot path keeps the header as a plain tuple (no Request object).
                header = REQUEST.unpack_from(payload)
                number += 1
                batch.append((header[6], peer, header, payload[REQUEST.size :], number))
            peer.frames_read = number
            if size < READ_CHUNK_BYTES:
                break
        return peer.frames_read > read_before and not peer.closed

    def _decide(self, batch: list[_Item]) -> None:
        purchases = [item for item in batch if item[2][0] == Kind.PURCHASE]
        purchases.sort(key=_arrival)
        now_ns = time.monotonic_ns()
        now_us = time.time_ns() // 1000
        decide = self.book.decide
        replies = self._next.replies
        expired_count = late = 0
        for _, peer, header, body, number in purchases:
            _, flags, _, _, seq, request_id, _, sell_deadline_ns = header
            expired = now_ns > sell_deadline_ns or number > peer.acknowledged
            outcome, order = decide(
                body.decode("utf-8"), request_id, now_us, expired, flags & RESENT
            )
            if outcome is Outcome.EXPIRED:
                expired_count += 1
                late += now_ns > sell_deadline_ns
            if order is None:
                reply = FRAMED_REPLY.pack(
                    REPLY.size, Kind.DECISION, outcome, 0, 0, seq, request_id, 0, 0
                )
            else:
                order_id = order.order_id.encode()
                reply = FRAMED_REPLY.pack(
                    REPLY.size + len(order_id), Kind.DECISION, outcome, order.unit,
                    order.sale_id, seq, request_id, order.position, order.purchased_at_us,
                ) + order_id  # fmt: skip
            replies.setdefault(peer, []).append(reply)
        if expired_count:
            # One line a batch: after a freeze, thousands of requests expire at once.
            log.warning(
                "allocator: nothing sold to %s requests (%s read past their sell deadline, "
                "the rest not acknowledged to their worker)", expired_count, late,
            )  # fmt: skip
        self._next.orders += self.book.take_unjournaled()
        for _, peer, header, body, _ in batch:
            if header[0] == Kind.START_SALE:
                self._settle()  # the old sale's decisions are durable and answered first
                reply = self._start_sale(header, body).encode()
                self._send({peer: [LENGTH.pack(len(reply)) + reply]})

    # -- group commits ------------------------------------------------------------------
    def _advance(self, *, paced: bool = True) -> None:
        """Hand the decided group to the committer if it is free; answer at once if it sold nothing.

        A refusal waits like a sale for the commit before it (a "sold out"
        must not outlive the sales that sold out if the machine dies).
        Pacing: under steady load a commit starts at most every
        COMMIT_INTERVAL_S, so one fsync carries many sales (each fsync costs
        the machine about 0.2 ms of CPU besides its wait); after a pause the
        first sale is committed at once.
        """
        group = self._next
        if self._committer.busy or not group.replies:
            return
        if not group.orders:
            self._next = _Group()
            self._send(group.replies)
            return
        now_s = time.monotonic()
        early = now_s < self._last_commit_s + COMMIT_INTERVAL_S
        if paced and early and len(group.orders) < PACED_BATCH:
            return  # _serve_once wakes up in time for it
        self._last_commit_s = now_s
        self._in_flight, self._next = group, _Group()
        self._committer.start(group.orders)

    def _complete_commit(self) -> None:
        """The commit in flight is durable (or failed, which raises): publish and answer."""
        self._committer.finish()
        group, self._in_flight = self._in_flight, None
        assert group is not None
        self.board.publish_sold(group.orders[-1].position, len(group.orders))
        self._send(group.replies)

    def _settle(self) -> None:
        """Make every decided sale durable and send every reply: before a new sale, and at exit."""
        while self._committer.busy or self._next.replies:
            if self._committer.busy:
                self._complete_commit()
            else:
                self._advance(paced=False)

    def _start_sale(self, header: _Header, body: bytes) -> Reply:
        spec = json.loads(body)
        sale: SaleRecord = self.journal.create_sale(
            spec["stock"], spec["perUserLimit"], spec.get("startsAtUs"), spec.get("endsAtUs")
        )
        self.book = StockBook(sale)
        self.board.publish_sale(self.book.snapshot())
        log.info("allocator: sale %s started with stock %s", sale.sale_id, sale.stock)
        reply_body = json.dumps(
            {
                "saleId": sale.sale_id,
                "stock": sale.stock,
                "perUserLimit": sale.per_user_limit,
                "startsAtUs": sale.starts_at_us,
                "endsAtUs": sale.ends_at_us,
                "createdAtUs": sale.created_at_us,
            }
        ).encode()
        return Reply(Kind.SALE_STARTED, Outcome.CONFIRMED, header[4], header[5],
                     sale_id=sale.sale_id, body=reply_body)  # fmt: skip

    # -- replies ----------------------------------------------------------------------
    def _send(self, replies: dict[_Peer, list[bytes]]) -> None:
        for peer, frames in replies.items():
            if not peer.closed:  # else its worker is gone: the answers have nobody to go to
                peer.unsent += b"".join(frames)
                self._flush(peer)

    def _flush(self, peer: _Peer) -> None:
        try:
            written = os.write(peer.fd, peer.unsent)
        except BlockingIOError:
            written = 0
        except OSError:
            self._drop(peer)
            return
        del peer.unsent[:written]
        if len(peer.unsent) > MAX_UNSENT_BYTES:
            log.warning("allocator: a worker stopped reading its replies, dropping its line")
            self._drop(peer)
            return
        blocked = bool(peer.unsent)
        if blocked != peer.waiting_to_write:  # epoll_ctl only when that changes
            peer.waiting_to_write = blocked
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if blocked else 0)
            self._selector.modify(peer.fd, events, peer)

    def _drop(self, peer: _Peer) -> None:
        if peer.closed:
            return
        peer.closed = True
        self._selector.unregister(peer.fd)
        peer.conn.close()


# The selector's mark for the committer's "done" pipe (peers carry a _Peer, the wake pipe None).
_COMMIT_DONE = object()

# REQUEST's fields: kind, flags, body size, slot, seq, request id, arrival and
# sell deadline (monotonic ns).
_Header = tuple[int, int, int, int, int, bytes, int, int]
# A batch item: the arrival time, the peer, the request header, the body, and
# the frame's number on its connection (from 1).
_Item = tuple[int, _Peer, _Header, bytes, int]
_arrival = operator.itemgetter(0)
