"""The request queue at the process level: an allocator process and real client processes.

A `multiprocessing.Queue` writer killed while holding the queue's lock blocks
every other writer forever. Our workers each own a connection instead; these
tests kill writers in the middle of a frame and check that nobody else waits.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest

from flashsale.allocator.client import AllocatorClient, _open_connection
from flashsale.allocator.loop import Allocator, FirstSale
from flashsale.allocator.protocol import NO_SLOT, Kind, Request, frame
from flashsale.errors import JournalLocked
from flashsale.journal import JournalLock
from flashsale.outcomes import Outcome
from flashsale.shm.sale_board import SaleBoard
from flashsale.shm.slots import ProcessSlots
from tests.support.server import wait_until

FORK = multiprocessing.get_context("fork")


@pytest.fixture
def allocator(tmp_path):
    board, slots = SaleBoard(), ProcessSlots()
    address, authkey = str(tmp_path / "allocator.sock"), os.urandom(32)
    process = FORK.Process(
        target=Allocator(
            address=address, authkey=authkey, db_path=tmp_path / "journal.db",
            first_sale=FirstSale(50, 1, None, None), board=board, slots=slots,
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
    conn = _open_connection(address, authkey)
    hello = Request(Kind.HELLO, 0, NO_SLOT, os.getpid(), bytes(16), 0, 0, b"").encode()
    conn.send_bytes(hello)
    request = Request(
        Kind.PURCHASE, 0, NO_SLOT, 1, os.urandom(16), time.monotonic_ns(),
        time.monotonic_ns() + 10**9, b"half-sent",
    )  # fmt: skip
    data = frame(request.encode())
    os.write(conn.fileno(), data[: len(data) // 2])
    os.kill(os.getpid(), signal.SIGKILL)


def test_writers_killed_mid_frame_do_not_block_the_others(allocator):
    address, authkey, board = allocator
    for _ in range(20):
        writer = FORK.Process(target=_die_halfway_through_a_frame, args=(address, authkey))
        writer.start()
        writer.join(10)
        assert writer.exitcode == -signal.SIGKILL
    client = AllocatorClient(
        address, authkey, slot=None, slots=None, reply_timeout_s=5, commit_budget_s=1
    )
    try:
        assert client.wait_connected(10)
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
        first_sale=FirstSale(50, 1, None, None), board=SaleBoard(), slots=None,
        lock=JournalLock(tmp_path / "journal.db"),
    )  # fmt: skip
    with pytest.raises(JournalLocked):
        second.run()
