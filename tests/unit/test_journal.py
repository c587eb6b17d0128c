from __future__ import annotations

import sqlite3

import pytest

from flashsale.errors import JournalLocked
from flashsale.journal import Journal, JournalLock, JournalReader, OrderRecord
from tests.support.catalogue import SKU, product
from tests.support.old_journal import write_old_journal


def order(
    n: int, user: str, unit: int = 1, sale_id: int = 1, sku: str = SKU, sku_position: int = 0
) -> OrderRecord:
    return OrderRecord(
        f"order-{n}-{user}-{unit}", sale_id, user, unit, n, 1000 + n, sku, sku_position or n
    )


@pytest.fixture
def journal(tmp_path):
    journal = Journal(tmp_path / "j.db")
    yield journal
    journal.close()


def test_sales_are_recorded_and_read_back(journal, tmp_path):
    sale = journal.create_sale([product(stock=2)], 1, None, None)
    journal.record([order(1, "ann"), order(2, "bob")])
    assert [o.user_id for o in journal.orders_of_sale(sale.sale_id)] == ["ann", "bob"]
    assert journal.latest_sale() == sale
    reader = JournalReader(tmp_path / "j.db")
    assert reader.orders_of_user(sale.sale_id, "bob")[0].position == 2
    assert reader.orders_of_user(sale.sale_id, "cyd") == []


def test_a_large_batch_is_recorded_whole_and_in_order(journal):
    # 301 rows: one INSERT of each size the batch is cut into.
    sale = journal.create_sale([product(stock=301)], 1, None, None)
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
    journal.create_sale([product(stock=2)], 1, None, None)
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
    sale = journal.create_sale([product(stock=10)], 1, None, None)
    fullwidth = "\uff41\uff4c\uff49\uff43\uff45"  # alice, as an older version kept it
    journal.record([order(1, fullwidth), order(2, "bob"), order(3, "\uff42\uff4f\uff42")])
    assert journal.normalise_user_ids() == (1, 1)  # bob's second spelling collides: kept
    users = [o.user_id for o in journal.orders_of_sale(sale.sale_id)]
    assert users == ["alice", "bob", "\uff42\uff4f\uff42"]
    assert journal.normalise_user_ids() == (0, 1)  # nothing left to do


SIZES = [product("s41", stock=2), product("s42", stock=1, per_user_limit=1)]


@pytest.mark.parametrize(
    "bad",
    [
        [order(1, "ann", sku="s42", sku_position=1), order(2, "bob", sku="s42", sku_position=2)],
        [order(1, "ann", sku="s41", sku_position=1), order(2, "bob", sku="s41", sku_position=1)],
        [order(1, "ann", sku="s99", sku_position=1)],  # no such product
        # a second s43 for ann: its own limit is 1, the sale's 2
        [order(1, "ann", 1, sku="s43", sku_position=1), order(2, "ann", 2, sku="s43",
                                                              sku_position=2)],
    ],
)  # fmt: skip
def test_the_schema_refuses_an_oversell_of_one_product_or_its_own_limit(tmp_path, bad):
    journal = Journal(tmp_path / "j.db")
    journal.create_sale([product("s41", stock=2), product("s42", stock=1),
                         product("s43", stock=2, per_user_limit=1)], 2, None, None)  # fmt: skip
    with pytest.raises(sqlite3.IntegrityError):
        journal.record(bad)
    journal.record([order(1, "ann", 1, sku="s41", sku_position=1),
                    order(2, "ann", 2, sku="s42", sku_position=1)])  # fmt: skip
    assert [o.sku for o in journal.orders_of_sale(1)] == ["s41", "s42"]


def test_a_sale_keeps_its_catalogue_in_order(journal):
    sale = journal.create_sale(SIZES, 1, None, None)
    assert journal.latest_sale() == sale
    assert [p.sku for p in sale.products] == ["s41", "s42"]
    assert sale.stock == 3


def test_a_journal_of_one_product_sales_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.db"
    order_ids = write_old_journal(path, stock=5, users=["ann", "bob"])
    journal = Journal(path)
    assert journal.adopt_products(product("aurora", stock=99)) == 1
    assert journal.adopt_products(product("aurora", stock=99)) == 0  # once
    sale = journal.latest_sale()
    assert [(p.sku, p.stock) for p in sale.products] == [("aurora", 5)]  # the sale's stock
    orders = journal.orders_of_sale(sale.sale_id)
    assert [(o.order_id, o.sku, o.sku_position) for o in orders] == [
        (order_ids[0], "aurora", 1), (order_ids[1], "aurora", 2)
    ]  # fmt: skip
    # The new guards hold for the old sale: its stock, and one each.
    with pytest.raises(sqlite3.IntegrityError):
        journal.record([order(3, "ann", 2, sku="aurora")])
    journal.record([order(3, "cyd", sku="aurora")])
    journal.close()
