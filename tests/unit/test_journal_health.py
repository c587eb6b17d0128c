from __future__ import annotations

import sqlite3

import pytest

from flashsale.allocator.journal_health import JournalHealth
from flashsale.journal import Journal
from flashsale.journal_room import RESERVE_BYTES, Room
from flashsale.records import SaleTerms
from flashsale.shm.store_board import StoreBoard
from tests.support.catalogue import product


class Disk:
    def __init__(self) -> None:
        self.free = 0  # nearly full


@pytest.fixture
def disk() -> Disk:
    return Disk()


@pytest.fixture
def journal(tmp_path, disk):
    path = tmp_path / "j.db"
    journal = Journal(path, room=Room(path, free_bytes=lambda: disk.free))
    journal.create_sale(SaleTerms((product(stock=3),), 1, None, None))
    yield journal
    journal.close()


def full() -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("database or disk is full")
    error.sqlite_errorname = "SQLITE_FULL"
    return error


def test_a_journal_that_failed_sells_again_only_once_its_disk_has_room_to_spare(journal, disk):
    board = StoreBoard()
    health = JournalHealth(journal, board)
    health.failed(full())
    assert board.failing()
    health.check()  # the one-row probe would fit, but the next commit would fail again
    assert health.failing and board.failing()
    assert health.error is not None and "selling resumes with 2 MiB free" in health.error
    disk.free = RESERVE_BYTES
    health.check()
    assert not health.failing and not board.failing()


def test_at_start_up_a_journal_that_can_be_written_sells_whatever_its_room(journal):
    board = StoreBoard()
    health = JournalHealth(journal, board)
    health.check()
    assert not health.failing and not board.failing()
