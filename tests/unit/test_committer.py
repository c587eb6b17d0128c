from __future__ import annotations

import select
import sqlite3
from pathlib import Path

import pytest

from flashsale.allocator.committer import Committer
from flashsale.journal import Journal
from flashsale.journal_room import Room, file_bytes
from flashsale.records import OrderRecord, SaleTerms
from tests.support.catalogue import SKU, product

DONE_TIMEOUT_S = 30


def order(position: int, user: str) -> OrderRecord:
    return OrderRecord(f"order-{position}", 1, user, 1, position, 1000 + position, SKU, position)


@pytest.fixture
def journal(tmp_path):
    journal = Journal(tmp_path / "j.db")
    journal.create_sale(SaleTerms((product(stock=3),), 1, None, None))
    yield journal
    journal.close()


def finish(committer: Committer) -> None:
    ready, _, _ = select.select([committer.done_fd], [], [], DONE_TIMEOUT_S)
    assert ready, "the commit never finished"
    committer.finish()


def test_batches_become_durable_in_the_order_they_were_handed_over(journal):
    committer = Committer(journal)
    committer.start([order(1, "ann"), order(2, "bob")])
    assert committer.busy
    finish(committer)
    committer.start([order(3, "cyd")])
    finish(committer)
    assert not committer.busy
    assert [o.user_id for o in journal.orders_of_sale(1)] == ["ann", "bob", "cyd"]


def test_one_commit_at_a_time(journal):
    committer = Committer(journal)
    committer.start([order(1, "ann")])
    with pytest.raises(RuntimeError, match="already being written"):
        committer.start([order(2, "bob")])
    finish(committer)


def test_a_failed_commit_is_raised_to_the_loop_and_writes_nothing(journal):
    committer = Committer(journal)
    committer.start([order(1, "ann"), order(2, "ann")])  # a second unit over the limit
    with pytest.raises(sqlite3.IntegrityError):
        finish(committer)
    assert journal.orders_of_sale(1) == []


def test_a_commit_on_a_disk_short_of_room_is_over_once_the_wal_is_checkpointed(tmp_path):
    free = [10 << 20]  # room, but not so much that it is looked at only now and then
    path = tmp_path / "j.db"
    journal = Journal(path, room=Room(path, free_bytes=lambda: free[0]))
    journal.create_sale(SaleTerms((product(stock=3),), 1, None, None))
    committer = Committer(journal)
    committer.start([order(1, "ann")])
    finish(committer)
    assert file_bytes(Path(f"{path}-wal")) > 0  # plenty of room: left to the autocheckpoint
    free[0] = 0
    committer.start([order(2, "bob")])
    finish(committer)
    assert file_bytes(Path(f"{path}-wal")) == 0
    assert [o.user_id for o in journal.orders_of_sale(1)] == ["ann", "bob"]
    journal.close()


def test_a_checkpoint_that_fails_after_a_commit_leaves_the_commit_durable(journal, monkeypatch):
    def full() -> bool:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(journal, "checkpoint", full)
    monkeypatch.setattr(journal.room, "short", lambda: True)
    committer = Committer(journal)
    committer.start([order(1, "ann")])
    ready, _, _ = select.select([committer.done_fd], [], [], DONE_TIMEOUT_S)
    assert ready, "the commit never finished"
    assert committer.finish() is None  # nobody is refused a sale the journal holds
    assert [o.user_id for o in journal.orders_of_sale(1)] == ["ann"]
