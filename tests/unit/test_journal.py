from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from flashsale import journal_sales
from flashsale.admin_commands import AuditContext
from flashsale.errors import JournalLocked
from flashsale.journal import WAL_AUTOCHECKPOINT_PAGES, Journal, JournalLock, JournalReader
from flashsale.journal_room import MIB, RECHECK_S, RESERVE_BYTES, Room, file_bytes
from flashsale.journal_sales import AuditEntry
from flashsale.records import CheckoutTerms, Lifecycle, OrderRecord, Phase, SaleTerms
from tests.support.catalogue import SKU, product
from tests.support.old_journal import write_journal_before_lifecycles, write_old_journal


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
    sale = journal.create_sale(SaleTerms((product(stock=2),), 1, None, None))
    journal.record([order(1, "ann"), order(2, "bob")])
    assert [o.user_id for o in journal.orders_of_sale(sale.sale_id)] == ["ann", "bob"]
    assert journal.latest_sale() == sale
    reader = JournalReader(tmp_path / "j.db")
    assert reader.orders_of_user(sale.sale_id, "bob")[0].position == 2
    assert reader.orders_of_user(sale.sale_id, "cyd") == []


def test_a_large_batch_is_recorded_whole_and_in_order(journal):
    # 301 rows: one INSERT of each size the batch is cut into.
    sale = journal.create_sale(SaleTerms((product(stock=301),), 1, None, None))
    batch = [order(n, f"user-{n}") for n in range(1, 302)]
    journal.record(batch)
    assert journal.orders_of_sale(sale.sale_id) == batch


def test_the_sales_of_a_checkout_window_are_written_as_holds_of_it(journal):
    # 37 rows: INSERTs of 32, 4 and 1, each binding the window once.
    terms = SaleTerms((product(stock=40),), 1, None, None, CheckoutTerms(90, 0))
    sale = journal.create_sale(terms)
    batch = [order(n, f"user-{n}") for n in range(1, 38)]
    journal.record(batch)
    assert journal.orders_of_sale(sale.sale_id) == batch
    rows = journal.checkout_rows(sale.sale_id)
    assert [(r.order_id, r.state, r.expires_at_us) for r in rows] == [
        (o.order_id, "held", o.purchased_at_us + 90_000_000) for o in batch
    ]
    assert all(r.token_sha256 is None and not r.extended for r in rows)
    final = journal.create_sale(SaleTerms((product(stock=1),), 1, None, None))
    journal.record([order(1, "ann", sale_id=final.sale_id)])
    assert [r.state for r in journal.checkout_rows(final.sale_id)] == ["confirmed"]


def test_a_batch_mixing_two_sales_is_refused_whole(journal):
    first = journal.create_sale(SaleTerms((product(stock=1),), 1, None, None))
    second = journal.create_sale(SaleTerms((product(stock=1),), 1, None, None))
    mixed = [order(1, "ann", sale_id=first.sale_id), order(1, "bob", sale_id=second.sale_id)]
    with pytest.raises(ValueError, match="one sale"):
        journal.record(mixed)
    assert journal.orders_of_sale(first.sale_id) == []


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
    journal.create_sale(SaleTerms((product(stock=2),), 1, None, None))
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
    sale = journal.create_sale(SaleTerms((product(stock=10),), 1, None, None))
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
        [
            order(1, "ann", 1, sku="s43", sku_position=1),
            order(2, "ann", 2, sku="s43", sku_position=2),
        ],
    ],
)
def test_the_schema_refuses_an_oversell_of_one_product_or_its_own_limit(tmp_path, bad):
    journal = Journal(tmp_path / "j.db")
    journal.create_sale(
        SaleTerms(
            (
                product("s41", stock=2),
                product("s42", stock=1),
                product("s43", stock=2, per_user_limit=1),
            ),
            2,
            None,
            None,
        )
    )
    with pytest.raises(sqlite3.IntegrityError):
        journal.record(bad)
    journal.record(
        [
            order(1, "ann", 1, sku="s41", sku_position=1),
            order(2, "ann", 2, sku="s42", sku_position=1),
        ]
    )
    assert [o.sku for o in journal.orders_of_sale(1)] == ["s41", "s42"]


def test_a_sale_keeps_its_catalogue_in_order(journal):
    sale = journal.create_sale(SaleTerms(tuple(SIZES), 1, None, None))
    assert journal.latest_sale() == sale
    assert [p.sku for p in sale.terms.products] == ["s41", "s42"]
    assert sale.stock == 3


def test_a_journal_of_one_product_sales_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.db"
    order_ids = write_old_journal(path, stock=5, users=["ann", "bob"])
    journal = Journal(path)
    assert journal.adopt_products(product("aurora", stock=99)) == 1
    assert journal.adopt_products(product("aurora", stock=99)) == 0  # once
    sale = journal.latest_sale()
    assert sale is not None
    assert [(p.sku, p.stock) for p in sale.terms.products] == [("aurora", 5)]  # the sale's stock
    orders = journal.orders_of_sale(sale.sale_id)
    assert [(o.order_id, o.sku, o.sku_position) for o in orders] == [
        (order_ids[0], "aurora", 1),
        (order_ids[1], "aurora", 2),
    ]
    # The new guards hold for the old sale: its stock, and one each.
    with pytest.raises(sqlite3.IntegrityError):
        journal.record([order(3, "ann", 2, sku="aurora")])
    journal.record([order(3, "cyd", sku="aurora")])
    journal.close()


class Disk:
    """A disk's free space, as the test sets it."""

    def __init__(self, free_bytes: int) -> None:
        self.free = free_bytes

    def room(self, db_path: Path) -> Room:
        return Room(db_path, free_bytes=lambda: self.free)


def wal_bytes(journal: Journal) -> int:
    return file_bytes(Path(f"{journal.path}-wal"))


@pytest.fixture
def disk() -> Disk:
    return Disk(1024 * MIB)


@pytest.fixture
def small(tmp_path, disk):
    """A journal with a sale of 100, on the disk the test sets."""
    journal = Journal(tmp_path / "j.db", room=disk.room(tmp_path / "j.db"))
    journal.create_sale(SaleTerms((product(stock=100),), 1, None, None))
    yield journal
    journal.close()


def test_the_wal_is_emptied_after_a_commit_once_the_disk_runs_short_of_room(small, disk):
    disk.free = 10 * MIB  # not so much that the disk is looked at only now and then
    small.record([order(n, f"user-{n}") for n in range(1, 11)])
    small.keep_room()  # a disk with room: the WAL waits for its autocheckpoint
    wal = wal_bytes(small)
    assert wal > 0
    disk.free = wal + RESERVE_BYTES  # just enough for a checkpoint and what follows
    small.keep_room()
    assert wal_bytes(small) == wal
    disk.free = wal + RESERVE_BYTES - 1
    small.keep_room()
    assert wal_bytes(small) == 0
    assert len(small.orders_of_sale(1)) == 10  # all of it in the database file now


def test_a_lookup_reading_the_wal_delays_the_early_checkpoint_but_not_for_long(small, disk):
    small.record([order(1, "ann")])
    reader = sqlite3.connect(f"file:{small.path}?mode=ro", uri=True, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM orders").fetchone()  # holds its snapshot: the WAL
    small.record([order(2, "bob")])
    disk.free = 0
    started = time.monotonic()
    small.keep_room()
    # The look-up's wait is SQLite's busy timeout of 5 s everywhere else.
    assert time.monotonic() - started < 2.5
    assert wal_bytes(small) > 0
    reader.execute("COMMIT")
    small.record([order(3, "cyd")])
    small.keep_room()
    assert wal_bytes(small) == 0
    assert [o.user_id for o in small.orders_of_sale(1)] == ["ann", "bob", "cyd"]


def test_a_checkpoint_that_fails_is_not_the_commits_failure(small, disk, monkeypatch, caplog):
    def full() -> bool:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(small, "checkpoint", full)
    disk.free = 0
    small.record([order(1, "ann")])
    small.keep_room()
    small.record([order(2, "bob")])
    small.keep_room()
    assert [o.user_id for o in small.orders_of_sale(1)] == ["ann", "bob"]
    lines = [r.getMessage() for r in caplog.records if r.name == "flashsale.journal"]
    assert len(lines) == 1, "one line a minute at most, not one a commit"
    assert "the last one failed (database or disk is full)" in lines[0]


def test_after_a_failed_write_the_probe_waits_for_room_to_spare(small, disk):
    small.record([order(1, "ann")])
    disk.free = RESERVE_BYTES - 1
    with pytest.raises(sqlite3.OperationalError) as refused:
        small.probe()
    assert refused.value.sqlite_errorname == "SQLITE_FULL"
    assert "selling resumes with 2 MiB free" in str(refused.value)
    assert wal_bytes(small) == 0, "the probe checkpoints first"
    small.probe(need_room=False)  # at start-up: written until a write fails
    disk.free = RESERVE_BYTES
    small.probe()


def test_a_disk_with_plenty_of_room_is_looked_at_now_and_then(small, disk, monkeypatch):
    looks = []

    def free_bytes() -> int:
        looks.append(1)
        return disk.free

    monkeypatch.setattr(small.room, "free_bytes", free_bytes)
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    for n in range(1, 11):
        small.record([order(n, f"user-{n}")])
        small.keep_room()
    assert len(looks) == 1  # the first commit found 1 GiB free
    disk.free = 0
    clock[0] += RECHECK_S
    small.record([order(11, "ann")])
    small.keep_room()
    assert wal_bytes(small) == 0


def test_a_wal_that_outgrew_its_checkpoints_is_cut_back_to_their_size(journal):
    (limit,) = journal._db.execute("PRAGMA journal_size_limit").fetchone()
    (page,) = journal._db.execute("PRAGMA page_size").fetchone()
    assert limit == WAL_AUTOCHECKPOINT_PAGES * (page + 24)


def test_a_journal_before_lifecycles_is_upgraded_in_place_and_once(tmp_path):
    """0.2.0 replaced a sale by the next: each earlier sale is recorded as ended then,
    unless its own end came first; the latest stays the current, active one."""
    path = tmp_path / "before.db"
    write_journal_before_lifecycles(
        path,
        [(1_000, None), (2_000, 2_500), (3_000, None)],  # sale 2 ended by time
    )
    for _ in range(2):  # a second start finds nothing to upgrade
        journal = Journal(path)
        first, second, third = (journal_sales.read_sale(journal.db, n) for n in (1, 2, 3))
        assert first is not None and second is not None and third is not None
        assert first.lifecycle == Lifecycle(Phase.ENDED, 2, None, 2_000)
        assert first.terms.ends_at_us == 2_000  # brought forward to its end
        assert second.lifecycle == Lifecycle() and second.terms.ends_at_us == 2_500
        assert third.lifecycle == Lifecycle() and journal.latest_sale() == third
        changes = journal.db.execute(
            "SELECT sale_id, version, at_us, action, phase, ends_at_us FROM sale_changes "
            "ORDER BY sale_id, version"
        ).fetchall()
        assert changes == [
            (1, 1, 1_000, "create", "active", None),
            (1, 2, 2_000, "replaced", "ended", 2_000),
            (2, 1, 2_000, "create", "active", 2_500),
            (3, 1, 3_000, "create", "active", None),
        ]
        # Its first answer, as an idempotent retry would show it: the end it was made with.
        created = journal_sales.sale_as_created(journal.db, 1)
        assert created is not None and created.terms.ends_at_us is None
        assert created.lifecycle == Lifecycle()
        journal.close()


def test_the_history_of_sales_and_the_audit_trail_cannot_be_rewritten(journal):
    sale = journal.create_sale(SaleTerms((product(stock=2),), 1, None, None))
    context = AuditContext("POST", "/flash-sale/admin/sales", "{}", False, "::1", "none")
    with journal.transaction():
        entry = AuditEntry(0, 5, "create", "create", sale.sale_id, 201, None, False, context)
        journal_sales.append_audit(journal.db, entry)
    for statement in (
        "UPDATE sale_changes SET action = 'end'",
        "DELETE FROM sale_changes",
        "UPDATE audit SET status = 200",
        "DELETE FROM audit",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            journal.db.execute(statement)
    (entry,) = journal_sales.audit_page(journal.db, 0, 10)
    assert (entry.seq, entry.action, entry.status, entry.context) == (1, "create", 201, context)
