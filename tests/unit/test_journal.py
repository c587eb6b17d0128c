from __future__ import annotations

import sqlite3

import pytest

from flashsale.errors import JournalLocked
from flashsale.journal import Journal, JournalLock, JournalReader, OrderRecord


def order(n: int, user: str, unit: int = 1, sale_id: int = 1) -> OrderRecord:
    return OrderRecord(f"order-{n}-{user}-{unit}", sale_id, user, unit, n, 1000 + n)


@pytest.fixture
def journal(tmp_path):
    journal = Journal(tmp_path / "j.db")
    yield journal
    journal.close()


def test_sales_are_recorded_and_read_back(journal, tmp_path):
    sale = journal.create_sale(2, 1, None, None)
    journal.record([order(1, "ann"), order(2, "bob")])
    assert [o.user_id for o in journal.orders_of_sale(sale.sale_id)] == ["ann", "bob"]
    assert journal.latest_sale() == sale
    reader = JournalReader(tmp_path / "j.db")
    assert reader.orders_of_user(sale.sale_id, "bob")[0].position == 2
    assert reader.orders_of_user(sale.sale_id, "cyd") == []


def test_a_large_batch_is_recorded_whole_and_in_order(journal):
    # 301 rows: one INSERT of each size the batch is cut into.
    sale = journal.create_sale(301, 1, None, None)
    batch = [order(n, f"user-{n}") for n in range(1, 302)]
    journal.record(batch)
    assert journal.orders_of_sale(sale.sale_id) == batch


@pytest.mark.parametrize(
    "bad",
    [
        [order(1, "ann"), order(2, "ann")],  # a second unit for a limit of 1
        [order(1, "ann"), order(1, "bob")],  # a position sold twice
        [order(1, "a"), order(2, "b"), order(3, "c")],  # more than the stock
        [order(0, "ann")],  # no position 0
    ],
)
def test_the_schema_refuses_an_oversell_or_a_double_buy(journal, bad):
    journal.create_sale(2, 1, None, None)
    with pytest.raises(sqlite3.IntegrityError):
        journal.record(bad)
    assert journal.orders_of_sale(1) == []  # the whole batch rolled back


def test_the_journal_is_synced_at_each_commit(journal):
    assert journal._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert journal._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_only_one_holder_of_the_lock(tmp_path):
    first, second = JournalLock(tmp_path / "j.db"), JournalLock(tmp_path / "j.db")
    first.acquire()
    with pytest.raises(JournalLocked, match="already served"):
        second.acquire()
    first.release()
    second.acquire()
    second.release()


def test_user_ids_journaled_before_nfkc_are_rewritten_so_one_person_stays_one(tmp_path):
    journal = Journal(tmp_path / "journal.db")
    sale = journal.create_sale(10, 1, None, None)
    fullwidth = "\uff41\uff4c\uff49\uff43\uff45"  # alice, as an older version kept it
    journal.record([order(1, fullwidth), order(2, "bob"), order(3, "\uff42\uff4f\uff42")])
    assert journal.normalise_user_ids() == (1, 1)  # bob's second spelling collides: kept
    users = [o.user_id for o in journal.orders_of_sale(sale.sale_id)]
    assert users == ["alice", "bob", "\uff42\uff4f\uff42"]
    assert journal.normalise_user_ids() == (0, 1)  # nothing left to do
