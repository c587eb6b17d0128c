"""The request queue at the process level: an allocator process and real client processes.

A `multiprocessing.Queue` writer killed while holding the queue's lock blocks
every other writer forever. Our workers each own a connection instead; these
tests kill writers in the middle of a frame and check that nobody else waits.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from multiprocessing.connection import Listener

import pytest

from flashsale.allocator.client import AllocatorClient, Line
from flashsale.allocator.loop import Allocator, FirstSale
from flashsale.allocator.protocol import NO_SLOT, Kind, Request, authenticate, frame
from flashsale.errors import JournalLocked
from flashsale.journal import Journal, JournalLock
from flashsale.outcomes import Outcome
from flashsale.shm.sale_board import SaleBoard
from tests.support.server import wait_until

FORK = multiprocessing.get_context("fork")


@pytest.fixture
def allocator(tmp_path):
    board = SaleBoard()
    address, authkey = str(tmp_path / "allocator.sock"), os.urandom(32)
    process = FORK.Process(
        target=Allocator(
            address=address, authkey=authkey, db_path=tmp_path / "journal.db",
            first_sale=FirstSale(50, 1, None, None), board=board,
            lock=JournalLock(tmp_path / "journal.db"),
        ).run,
    )  # fmt: skip
    process.start()
    try:
        wait_until(lambda: board.allocator().ready, 30, message="allocator ready")
        yield address, authkey, board
    finally:
        process.terminate()
        process.join(10)
        assert process.exitcode == 0


def _die_halfway_through_a_frame(address: str, authkey: bytes) -> None:
    line = Line.open(address, authkey)
    request = Request(
        Kind.PURCHASE, 0, NO_SLOT, 1, os.urandom(16), time.monotonic_ns(),
        time.monotonic_ns() + 10**9, b"half-sent",
    )  # fmt: skip
    data = frame(request.encode())
    line.send(data[: len(data) // 2])
    os.kill(os.getpid(), signal.SIGKILL)


def test_writers_killed_mid_frame_do_not_block_the_others(allocator):
    address, authkey, board = allocator
    for _ in range(20):
        writer = FORK.Process(target=_die_halfway_through_a_frame, args=(address, authkey))
        writer.start()
        writer.join(10)
        assert writer.exitcode == -signal.SIGKILL
    client = AllocatorClient(
        address, authkey, slot=None, metrics_row=None, reply_timeout_s=5, commit_budget_s=1
    )
    try:
        assert client.open_lines(1, 10)
        started = time.monotonic()
        decision = client.purchase("survivor", time.monotonic_ns())
        assert decision.outcome is Outcome.CONFIRMED
        assert time.monotonic() - started < 5
        assert board.sale().sold == 1  # the half-sent request was never sold
    finally:
        client.close()


def test_a_second_allocator_cannot_serve_the_same_journal(allocator, tmp_path):
    second = Allocator(
        address=str(tmp_path / "second.sock"), authkey=b"k", db_path=tmp_path / "journal.db",
        first_sale=FirstSale(50, 1, None, None), board=SaleBoard(),
        lock=JournalLock(tmp_path / "journal.db"),
    )  # fmt: skip
    with pytest.raises(JournalLocked):
        second.run()


class _SilentAllocator:
    """A listener that completes the handshake, then reads requests (or not) and never answers."""

    def __init__(self, tmp_path, *, reads: bool) -> None:
        self.address, self.authkey = str(tmp_path / "silent.sock"), os.urandom(32)
        self.reads = reads
        self.received = threading.Event()
        self._listener = Listener(self.address, family="AF_UNIX")
        self._conns = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn = self._listener.accept()
        authenticate(conn, self.authkey, accepting=True)
        self._conns.append(conn)
        if self.reads:
            conn.recv_bytes()
            self.received.set()

    def close(self) -> None:
        for conn in self._conns:
            conn.close()
        self._listener.close()


@pytest.mark.parametrize(
    ("reads", "expected"), [(False, Outcome.UNAVAILABLE), (True, Outcome.PENDING)]
)
def test_a_late_reply_is_503_only_if_the_allocator_never_read_the_request(
    tmp_path, reads, expected
):
    allocator = _SilentAllocator(tmp_path, reads=reads)
    client = AllocatorClient(
        allocator.address, allocator.authkey, slot=None, metrics_row=None,
        reply_timeout_s=0.5, commit_budget_s=0.2,
    )  # fmt: skip
    try:
        assert client.open_lines(1, 10)
        decision = client.purchase("someone", time.monotonic_ns())
        assert allocator.received.is_set() is reads
        assert decision.outcome is expected
    finally:
        client.close()
        allocator.close()


def test_a_line_knows_whether_its_request_was_read(tmp_path):
    listener = Listener(str(tmp_path / "peer.sock"), family="AF_UNIX")
    accepted = []

    def accept() -> None:
        conn = listener.accept()
        authenticate(conn, b"key", accepting=True)
        accepted.append(conn)

    acceptor = threading.Thread(target=accept)
    acceptor.start()
    line = Line.open(str(tmp_path / "peer.sock"), b"key")
    acceptor.join(10)
    try:
        assert not line.unread()
        line.send(frame(b"x" * 60))
        assert line.unread()
        accepted[0].recv_bytes()
        assert not line.unread()
    finally:
        line.close()
        accepted[0].close()
        listener.close()


def _serve_with_held_commits(allocator: Allocator, entered, release) -> None:
    """Run the allocator with every journal commit held until the test releases it."""
    record = Journal.record

    def held(journal: Journal, orders) -> None:
        entered.set()
        release.wait(60)
        record(journal, orders)

    Journal.record = held  # in this forked process only
    allocator.run()


def _purchase_frame(user: str, request_id: bytes) -> bytes:
    now = time.monotonic_ns()
    request = Request(Kind.PURCHASE, 0, NO_SLOT, 1, request_id, now, now + 60 * 10**9,
                      user.encode())  # fmt: skip
    return frame(request.encode())


def test_no_answer_goes_out_before_the_sales_it_depends_on_are_durable(tmp_path):
    # While ann's sale is being committed, her second try is decided "already
    # purchased": that answer must wait for the commit, or a crash could leave
    # her told she owns one that the journal never got.
    board, entered, release = SaleBoard(), FORK.Event(), FORK.Event()
    address, authkey = str(tmp_path / "allocator.sock"), os.urandom(32)
    allocator = Allocator(
        address=address, authkey=authkey, db_path=tmp_path / "journal.db",
        first_sale=FirstSale(50, 1, None, None), board=board,
        lock=JournalLock(tmp_path / "journal.db"),
    )  # fmt: skip
    process = FORK.Process(target=_serve_with_held_commits, args=(allocator, entered, release))
    process.start()
    first = second = None
    try:
        wait_until(lambda: board.allocator().ready, 30, message="allocator ready")
        first, second = Line.open(address, authkey), Line.open(address, authkey)
        sale_id, retry_id = os.urandom(16), os.urandom(16)
        first.send(_purchase_frame("ann", sale_id))
        assert entered.wait(30), "the sale's commit never started"
        second.send(_purchase_frame("ann", retry_id))
        # Decided at once, but held back: nothing may arrive while the commit is held.
        assert second.receive(retry_id, time.monotonic_ns() + 500_000_000) is None
        assert board.sale().sold == 0
        release.set()
        far = time.monotonic_ns() + 30 * 10**9
        assert first.receive(sale_id, far).outcome is Outcome.CONFIRMED
        assert second.receive(retry_id, far).outcome is Outcome.ALREADY_PURCHASED
        assert board.sale().sold == 1
    finally:
        release.set()
        for line in (first, second):
            if line is not None:
                line.close()
        process.terminate()
        process.join(10)
    assert process.exitcode == 0
