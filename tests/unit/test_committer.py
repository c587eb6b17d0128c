from __future__ import annotations

import select
import sqlite3

import pytest

from flashsale.allocator.committer import Committer
from flashsale.journal import Journal, OrderRecord
from tests.support.catalogue import SKU, product

DONE_TIMEOUT_S = 30


def order(position: int, user: str) -> OrderRecord:
    return OrderRecord(f"order-{position}", 1, user, 1, position, 1000 + position, SKU, position)


@pytest.fixture
def journal(tmp_path):
    journal = Journal(tmp_path / "j.db")
    journal.create_sale([product(stock=3)], 1, None, None)
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
