"""A sold-out sale's buyers are answered from memory: read once for a sale without
holds, and read again after each published change for a sale with holds (units come
back), so the shoppers of a burst that sold out cost no read each."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

from flashsale.journal import Journal, JournalReader
from flashsale.lookups import OrderLookups
from flashsale.records import CheckoutTerms, OrderRecord, SaleTerms
from flashsale.shm.sale_board import SaleSnapshot
from tests.support.catalogue import SKU, product


class CountingReader:
    """The journal's reader, counting each kind of read."""

    def __init__(self, path: Path) -> None:
        self._reader = JournalReader(path)
        self.reads: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        read = getattr(self._reader, name)

        def counted(*args: Any) -> Any:
            self.reads[name] = self.reads.get(name, 0) + 1
            return read(*args)

        return counted


class ReaderWithoutLiveOrders(CountingReader):
    """As the Redis engine's store: no read of a sale's live orders."""

    def __getattr__(self, name: str) -> Any:
        if name == "live_orders_of_sale":
            raise AttributeError(name)
        return super().__getattr__(name)


def _held_sale(path: Path) -> tuple[Journal, SaleSnapshot, list[OrderRecord]]:
    journal = Journal(path)
    terms = SaleTerms((product(stock=2),), 1, None, None, CheckoutTerms(60, 0))
    sale = journal.create_sale(terms)
    orders = [
        OrderRecord(f"order-{n}", sale.sale_id, user, 1, n, 1000 + n, SKU, n)
        for n, user in ((1, "ann"), (2, "bob"))
    ]
    journal.record(orders)
    snapshot = SaleSnapshot.of(sale, {SKU: 2, "": 2})
    return journal, replace(snapshot, changes=1), orders


def _buyers(lookups: OrderLookups, sale: SaleSnapshot, *users: str) -> list[Any]:
    """What the purchase path learns of each user's orders in a sold-out sale: a sale
    with holds, their live orders if kept in memory (else None); else their orders."""

    async def read() -> list[Any]:
        if sale.checkout is None:
            return [await lookups.orders_of_user(sale, user) for user in users]
        return [await lookups.live_orders_if_known(sale, user) for user in users]

    return asyncio.run(read())


def test_a_sold_out_sale_with_holds_reads_its_live_buyers_once_a_change(tmp_path):
    journal, sale, (ann, bob) = _held_sale(tmp_path / "j.db")
    reader = CountingReader(tmp_path / "j.db")
    lookups = OrderLookups(reader)  # type: ignore[arg-type]
    try:
        assert _buyers(lookups, sale, "ann", "bob", "cyd", "dan") == [[ann], [bob], [], []]
        assert reader.reads == {"live_orders_of_sale": 1}
        # Ann's hold expires: a change the allocator publishes after its commit.
        with journal.transaction():
            journal.db.execute("UPDATE orders SET state = 'expired' WHERE order_id = 'order-1'")
        assert _buyers(lookups, sale, "ann") == [[ann]]  # unchanged: nothing published yet
        later = replace(sale, changes=2)
        assert _buyers(lookups, later, "ann", "bob", "cyd") == [[], [bob], []]
        assert reader.reads == {"live_orders_of_sale": 2}
    finally:
        lookups.close()
        journal.close()


def test_a_sale_with_holds_in_the_redis_engine_keeps_no_buyers(tmp_path):
    # Another host's changes are not this host's to count: each buyer is read as before.
    journal, sale, _ = _held_sale(tmp_path / "j.db")
    reader = ReaderWithoutLiveOrders(tmp_path / "j.db")
    lookups = OrderLookups(reader)  # type: ignore[arg-type]
    try:
        assert _buyers(lookups, sale, "ann", "cyd") == [None, None]
        assert reader.reads == {}
    finally:
        lookups.close()
        journal.close()


def test_a_sold_out_sale_without_holds_reads_its_buyers_once(tmp_path):
    journal = Journal(tmp_path / "j.db")
    sale = journal.create_sale(SaleTerms((product(stock=1),), 1, None, None))
    order = OrderRecord("order-1", sale.sale_id, "ann", 1, 1, 1001, SKU, 1)
    journal.record([order])
    reader = CountingReader(tmp_path / "j.db")
    lookups = OrderLookups(reader)  # type: ignore[arg-type]
    snapshot = replace(SaleSnapshot.of(sale, {SKU: 1, "": 1}), changes=5)
    try:
        assert _buyers(lookups, snapshot, "ann", "bob") == [[order], []]
        assert _buyers(lookups, replace(snapshot, changes=6), "ann") == [[order]]
        assert reader.reads == {"orders_of_sale": 1}
    finally:
        lookups.close()
        journal.close()
