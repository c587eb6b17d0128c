"""The request queue at the process level: an allocator process and real client processes.

A `multiprocessing.Queue` writer killed while holding the queue's lock blocks
every other writer forever. Our workers each own a connection instead; these
tests kill writers in the middle of a frame and check that nobody else waits,
and check the rule that makes a 503 honest when several requests share one
connection: only a request the allocator never read is answered 503.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection, Listener
from typing import Any
from unittest import mock

import pytest

from flashsale.allocator.client import AllocatorClient, _Call, _Connection, connect_blocking
from flashsale.allocator.loop import Allocator
from flashsale.allocator.messages import (
    ACK,
    FRAMED_ACK,
    NO_SLOT,
    FrameBuffer,
    Kind,
    Reply,
    Request,
    authenticate,
    frame,
    purchase_body,
)
from flashsale.errors import JournalLocked
from flashsale.journal import Journal, JournalLock
from flashsale.outcomes import Outcome
from flashsale.records import OrderRecord, SaleTerms
from flashsale.shm.sale_board import SaleBoard
from flashsale.shm.store_board import StoreBoard
from tests.support.catalogue import SKU, product
from tests.support.load import journal_orders
from tests.support.server import wait_until

FORK = multiprocessing.get_context("fork")


def _allocator(tmp_path, board: SaleBoard, stock: int = 50) -> tuple[Allocator, str, bytes]:
    address, authkey = str(tmp_path / "allocator.sock"), os.urandom(32)
    allocator = Allocator(
        address=address,
        authkey=authkey,
        db_path=tmp_path / "journal.db",
        first_sale=SaleTerms((product(stock=stock),), 1, None, None),
        board=board,
        store_board=StoreBoard(),
        lock=JournalLock(tmp_path / "journal.db"),
    )
    return allocator, address, authkey


@pytest.fixture
def allocator(tmp_path):
    board = SaleBoard()
    allocator, address, authkey = _allocator(tmp_path, board)
    process = FORK.Process(target=allocator.run)
    process.start()
    try:
        wait_until(lambda: board.allocator().ready, 30, message="allocator ready")
        yield address, authkey, board
    finally:
        process.terminate()
        process.join(10)
        assert process.exitcode == 0


def sold(board: SaleBoard) -> int:
    sale = board.sale()
    assert sale is not None, "no sale on the board"
    return sale.sold


def _client(address: str, authkey: bytes, reply_timeout_s: float = 5, budget_s: float = 1):
    return AllocatorClient(
        address,
        authkey,
        slot=None,
        reply_timeout_s=reply_timeout_s,
        commit_budget_s=budget_s,
    )


def _purchase_frame(user: str, request_id: bytes, lifetime_s: float = 60) -> bytes:
    now = time.monotonic_ns()
    request = Request(
        Kind.PURCHASE,
        0,
        NO_SLOT,
        1,
        request_id,
        now,
        now + int(lifetime_s * 1e9),
        purchase_body(user, SKU),
    )
    return frame(request.encode())


class RawLine:
    """A blocking connection that speaks the protocol by hand, for what the client never does."""

    def __init__(self, address: str, authkey: bytes) -> None:
        self.sock = connect_blocking(address, authkey)
        self.sock.setblocking(True)
        self.frames = FrameBuffer()
        self.acknowledged = 0

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self, request_id: bytes, timeout_s: float) -> Reply | None:
        """The reply to `request_id` (ACKs are noted on the way), or None at the timeout."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return None
            assert data, "the allocator closed the connection"
            for payload in self.frames.feed(data):
                if payload[0] == Kind.ACK:
                    self.acknowledged = ACK.unpack_from(payload)[1]
                elif (reply := Reply.decode(payload)).request_id == request_id:
                    return reply
        return None

    def reply(self, request_id: bytes, timeout_s: float) -> Reply:
        reply = self.receive(request_id, timeout_s)
        assert reply is not None, f"no reply within {timeout_s} s"
        return reply

    def close(self) -> None:
        self.sock.close()


def _die_halfway_through_a_frame(address: str, authkey: bytes) -> None:
    line = RawLine(address, authkey)
    data = _purchase_frame("half-sent", os.urandom(16))
    line.send(data[: len(data) // 2])
    os.kill(os.getpid(), signal.SIGKILL)


def test_writers_killed_mid_frame_do_not_block_the_others(allocator):
    address, authkey, board = allocator
    for _ in range(20):
        writer = FORK.Process(target=_die_halfway_through_a_frame, args=(address, authkey))
        writer.start()
        writer.join(10)
        assert writer.exitcode == -signal.SIGKILL

    async def survivor() -> tuple[Outcome, float]:
        client = _client(address, authkey)
        try:
            assert await client.start(10)
            started = time.monotonic()
            decision = await client.purchase("survivor", SKU, time.monotonic_ns())
            return decision.outcome, time.monotonic() - started
        finally:
            await client.close()

    outcome, seconds = asyncio.run(survivor())
    assert outcome is Outcome.CONFIRMED
    assert seconds < 5
    assert sold(board) == 1  # the half-sent requests were never sold


def test_many_requests_share_one_connection_each_getting_its_own_answer(allocator):
    address, authkey, board = allocator

    async def crowd() -> list[Outcome]:
        client = _client(address, authkey)
        try:
            assert await client.start(10)
            users = [f"crowd-{i % 40}" for i in range(120)]  # each of 40 users thrice
            now = time.monotonic_ns()
            decisions = await asyncio.gather(*(client.purchase(u, SKU, now) for u in users))
            return [d.outcome for d in decisions]
        finally:
            await client.close()

    outcomes = asyncio.run(crowd())
    assert outcomes.count(Outcome.CONFIRMED) == 40
    assert outcomes.count(Outcome.ALREADY_PURCHASED) == 80
    assert sold(board) == 40


def test_a_worker_that_stops_reading_its_replies_is_cut_off(allocator):
    # Its replies would pile up in the allocator without bound; past
    # MAX_UNSENT_BYTES the allocator drops the connection instead.
    address, authkey, board = allocator
    flood = RawLine(address, authkey)
    frames = b"".join(_purchase_frame(f"flood-{i}", os.urandom(16)) for i in range(20_000))
    deadline, cut = time.monotonic() + 60, False
    try:
        while not cut and time.monotonic() < deadline:
            try:
                flood.send(frames)  # never reading a reply
            except (BrokenPipeError, ConnectionResetError):
                cut = True
    finally:
        flood.close()
    assert cut, "the allocator kept a connection that never reads"

    async def another_worker() -> Outcome:
        client = _client(address, authkey)
        try:
            assert await client.start(10)
            return (await client.purchase("someone-else", SKU, time.monotonic_ns())).outcome
        finally:
            await client.close()

    assert asyncio.run(another_worker()) is Outcome.SOLD_OUT  # the flood bought the 50
    assert sold(board) == 50


def test_a_second_allocator_cannot_serve_the_same_journal(allocator, tmp_path):
    second = Allocator(
        address=str(tmp_path / "second.sock"),
        authkey=b"k",
        db_path=tmp_path / "journal.db",
        first_sale=SaleTerms((product(stock=50),), 1, None, None),
        board=SaleBoard(),
        store_board=StoreBoard(),
        lock=JournalLock(tmp_path / "journal.db"),
    )
    with pytest.raises(JournalLocked):
        second.run()


class _SilentAllocator:
    """A listener that completes the handshake, then reads (and acknowledges, as the
    real allocator does before deciding) the first `reads` frames, and never answers."""

    def __init__(self, tmp_path, *, reads: int) -> None:
        self.address, self.authkey = str(tmp_path / "silent.sock"), os.urandom(32)
        self.reads = reads
        self.read_all = threading.Event()
        self._listener = Listener(self.address, family="AF_UNIX")
        self._conns: list[Connection] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn = self._listener.accept()
        authenticate(conn, self.authkey, accepting=True)
        self._conns.append(conn)
        for number in range(1, self.reads + 1):
            conn.recv_bytes()
            conn.send_bytes(ACK.pack(Kind.ACK, number))
        self.read_all.set()

    def close(self) -> None:
        for conn in self._conns:
            conn.close()
        self._listener.close()


@pytest.mark.parametrize("reads", [0, 1, 2])
def test_a_late_reply_is_503_only_for_requests_the_allocator_never_read(tmp_path, reads):
    allocator = _SilentAllocator(tmp_path, reads=reads)

    async def three_in_flight() -> list[Outcome]:
        client = _client(allocator.address, allocator.authkey, reply_timeout_s=0.6, budget_s=0.2)
        try:
            assert await client.start(10)
            now = time.monotonic_ns()
            calls = []
            for user in ("first", "second", "third"):  # one after the other, on one connection
                calls.append(asyncio.ensure_future(client.purchase(user, SKU, now)))
                await asyncio.sleep(0.02)
            return [d.outcome for d in await asyncio.gather(*calls)]
        finally:
            await client.close()

    try:
        outcomes = asyncio.run(three_in_flight())
    finally:
        allocator.close()
    assert allocator.read_all.is_set()
    assert outcomes == [Outcome.PENDING] * reads + [Outcome.UNAVAILABLE] * (3 - reads)


def test_an_acknowledgement_not_yet_read_counts_as_read(tmp_path):
    # At a reply deadline the client may not have read an ACK the allocator
    # already wrote; the request must then count as read (never a false 503).
    async def look() -> tuple[bool, bool]:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ours.setblocking(False)
        transport, connection = await loop.create_unix_connection(
            lambda: _Connection(_client("unused", b"k")), sock=ours
        )
        transport.pause_reading()  # the loop does not get to read it
        body = purchase_body("u", SKU)
        call = _Call(
            Request(Kind.PURCHASE, 0, NO_SLOT, 1, os.urandom(16), 0, 0, body), loop.create_future()
        )
        call.number = 1
        before = connection.read_by_allocator(call)
        theirs.sendall(FRAMED_ACK.pack(ACK.size, Kind.ACK, 1))
        after = connection.read_by_allocator(call)
        transport.close()
        theirs.close()
        return before, after

    assert asyncio.run(look()) == (False, True)


def _serve_with_held_commits(allocator: Allocator, entered, release) -> None:
    """Run the allocator with every journal commit held until the test releases it."""
    record = Journal.record

    def held(journal: Journal, orders: Sequence[OrderRecord], *more: Any) -> None:
        entered.set()
        release.wait(60)
        record(journal, orders, *more)

    with mock.patch.object(Journal, "record", held):  # in this forked process only
        allocator.run()


def test_a_frozen_allocator_gets_pending_for_what_it_read_and_503_for_the_rest(tmp_path):
    # ann's sale is read, acknowledged and decided, its commit held; then the
    # allocator freezes (SIGSTOP) and three more purchases arrive on the same
    # connection, unread. At their deadlines ann gets 202 pending (her sale
    # may be committing) and the others 503. Thawed, the allocator reads the
    # three past their sell deadlines: only ann's sale exists.
    board, entered, release = SaleBoard(), FORK.Event(), FORK.Event()
    allocator, address, authkey = _allocator(tmp_path, board)
    process = FORK.Process(target=_serve_with_held_commits, args=(allocator, entered, release))
    process.start()
    pid = process.pid
    assert pid is not None

    async def until(predicate, message: str) -> None:
        deadline = time.monotonic() + 30
        while not predicate():  # polled on the loop: it must keep reading meanwhile
            assert time.monotonic() < deadline, message
            await asyncio.sleep(0.01)

    async def scenario() -> list[Outcome]:
        client = _client(address, authkey, reply_timeout_s=1.5, budget_s=0.3)
        try:
            assert await client.start(10)
            connection = client._connection
            ann = asyncio.ensure_future(client.purchase("ann", SKU, time.monotonic_ns()))
            await until(entered.is_set, "ann's commit never started")
            await until(lambda: connection.acknowledged == 1, "ann's ACK never came")
            os.kill(pid, signal.SIGSTOP)
            try:
                now = time.monotonic_ns()
                others = [client.purchase(user, SKU, now) for user in ("bob", "cy", "di")]
                outcomes = [d.outcome for d in await asyncio.gather(ann, *others)]
            finally:
                os.kill(pid, signal.SIGCONT)
            # Still connected: the thawed allocator reads the three (their ACK
            # reaches us) past their sell deadlines, and must sell none of them.
            await until(lambda: connection.acknowledged == 4, "the three were never read")
            release.set()
            await until(lambda: sold(board) == 1, "ann's sale never committed")
            return outcomes
        finally:
            await client.close()

    try:
        wait_until(lambda: board.allocator().ready, 30, message="allocator ready")
        outcomes = asyncio.run(scenario())
    finally:
        release.set()
        process.terminate()  # it settles everything it decided before it exits
        process.join(10)
    assert outcomes == [Outcome.PENDING] + [Outcome.UNAVAILABLE] * 3
    assert process.exitcode == 0
    assert set(journal_orders(tmp_path / "journal.db")) == {"ann"}
    assert sold(board) == 1


def test_no_answer_goes_out_before_the_sales_it_depends_on_are_durable(tmp_path):
    # While ann's sale is being committed, her second try is decided "already
    # purchased": that answer must wait for the commit, or a crash could leave
    # her told she owns one that the journal never got.
    board, entered, release = SaleBoard(), FORK.Event(), FORK.Event()
    allocator, address, authkey = _allocator(tmp_path, board)
    process = FORK.Process(target=_serve_with_held_commits, args=(allocator, entered, release))
    process.start()
    first = second = None
    try:
        wait_until(lambda: board.allocator().ready, 30, message="allocator ready")
        first, second = RawLine(address, authkey), RawLine(address, authkey)
        sale_id, retry_id = os.urandom(16), os.urandom(16)
        first.send(_purchase_frame("ann", sale_id))
        assert entered.wait(30), "the sale's commit never started"
        second.send(_purchase_frame("ann", retry_id))
        # Decided at once, but held back: nothing may arrive while the commit is held.
        assert second.receive(retry_id, 0.5) is None
        assert second.acknowledged == 1  # read, though: its ACK came at once
        assert sold(board) == 0
        release.set()
        assert first.reply(sale_id, 30).outcome is Outcome.CONFIRMED
        assert second.reply(retry_id, 30).outcome is Outcome.ALREADY_PURCHASED
        assert sold(board) == 1
    finally:
        release.set()
        for line in (first, second):
            if line is not None:
                line.close()
        process.terminate()
        process.join(10)
    assert process.exitcode == 0
