"""The journal's answers for the event loop: blocking SQLite reads on a small
thread pool, each with a deadline, and the buyers of a sold-out sale in memory.
The operator's pages of a sale's orders are read there too; an export's pages
on a thread of their own, so that a long export never queues a shopper's look-up.

A read may wait on the disk, so it never runs on the loop. Once a sale is sold
out its buyers can no longer change (the sold count, published after each
durable commit, has reached the stock), so each worker reads them once and
answers every later "sold out" from memory: the most frequent answer of a
flash sale costs neither IPC nor disk. In a sale with holds units come back, so
its live orders are read again whenever its published changes move (the
journal's reader only: the Redis engine's changes may come from other hosts).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, Protocol, TypeVar

from flashsale.errors import Unavailable
from flashsale.journal_queue import QueueRow, TicketRow
from flashsale.orders_csv import csv_lines
from flashsale.records import ListedOrder, OrderRecord
from flashsale.shm.sale_board import SaleSnapshot

T = TypeVar("T")

LOOKUP_THREADS = 2
LOOKUP_TIMEOUT_S = 1.0
# A page of an export may queue behind another export's on its one thread.
EXPORT_PAGE_TIMEOUT_S = 5.0
# A sold-out sale's buyers are kept only if there are at most this many orders; a sale
# with holds, whose buyers are read again after each change, at most this many.
BUYERS_IN_MEMORY_MAX = 100_000
HELD_BUYERS_IN_MEMORY_MAX = 10_000

Buyers = dict[str, list[OrderRecord]]


class ExportPage(NamedTuple):
    """A page of an export, as CSV lines: `rows` orders, the last at `last_position`."""

    rows: int
    last_position: int
    csv: bytes


class OrderReader(Protocol):
    """Where a sale's orders are read: the journal, or Redis (redis_engine.store)."""

    def orders_of_user(self, sale_id: int, user_id: str) -> list[OrderRecord]: ...

    def orders_of_sale(self, sale_id: int) -> list[OrderRecord]: ...

    def sale_exists(self, sale_id: int) -> bool: ...

    def orders_after(self, sale_id: int, position: int, limit: int) -> list[ListedOrder]: ...


class OrderLookups:
    def __init__(self, reader: OrderReader) -> None:
        self._reader = reader
        self._pool = ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="journal")
        self._export_pool = ThreadPoolExecutor(1, thread_name_prefix="export")
        # A sold-out sale's buyers: (sale id, its changes when read, the read).
        self._sold_out: tuple[int, int, asyncio.Future[Buyers]] | None = None

    async def orders_of_user(self, sale: SaleSnapshot, user_id: str) -> list[OrderRecord]:
        """The user's orders in `sale`, first unit first (with holds, its released ones
        too, after the live ones)."""
        # A sale with holds is never final when sold out: units come back.
        if sale.remaining == 0 and sale.stock <= BUYERS_IN_MEMORY_MAX and sale.checkout is None:
            buyers = await self._buyers_of_sold_out(sale.sale_id, 0, self._load_buyers)
            return buyers.get(user_id, [])
        return await self._run(self._reader.orders_of_user, sale.sale_id, user_id)

    async def live_orders_if_known(
        self, sale: SaleSnapshot, user_id: str
    ) -> list[OrderRecord] | None:
        """A sold-out sale with holds: the user's live orders (held, confirmed) from
        memory, read again only when the sale's published changes move; None where they
        are not kept (a larger sale, or the Redis engine)."""
        if sale.remaining or sale.checkout is None or sale.stock > HELD_BUYERS_IN_MEMORY_MAX:
            return None
        read_live = getattr(self._reader, "live_orders_of_sale", None)
        if read_live is None:
            return None
        buyers = await self._buyers_of_sold_out(
            sale.sale_id, sale.changes, functools.partial(_by_buyer, read_live)
        )
        return buyers.get(user_id, [])

    async def orders_of_user_in(self, sale_id: int, user_id: str) -> list[OrderRecord]:
        """The user's orders in any sale (an earlier one: read, never kept)."""
        return await self._run(self._reader.orders_of_user, sale_id, user_id)

    async def checkout_of_user(self, sale_id: int, user_id: str) -> list[Any]:
        """The hold columns of a buyer's orders (journal.CheckoutRow; the Redis engine has
        no holds yet: none)."""
        read = getattr(self._reader, "checkout_of_user", None)
        return [] if read is None else await self._run(read, sale_id, user_id)

    async def waitlist_of_user(self, sale_id: int, user_id: str) -> list[Any]:
        read = getattr(self._reader, "waitlist_of_user", None)
        return [] if read is None else await self._run(read, sale_id, user_id)

    async def waitlist_entry(self, sale_id: int, sku: str, token_sha256: bytes) -> Any:
        read = getattr(self._reader, "waitlist_entry", None)
        return None if read is None else await self._run(read, sale_id, sku, token_sha256)

    async def sale_exists(self, sale_id: int) -> bool:
        return await self._run(self._reader.sale_exists, sale_id)

    async def queue_after(
        self, sale_id: int, after: int, limit: int
    ) -> tuple[list[TicketRow], QueueRow | None]:
        """A page of a sale's waiting room in queue order (journal_queue.tickets_by_place),
        and where it stands (a reader without waiting rooms: none)."""
        read = getattr(self._reader, "queue_after", None)
        if read is None:
            return [], None
        rows, stands = await self._run(read, sale_id, after, limit)
        return rows, stands

    async def orders_after(self, sale_id: int, position: int, limit: int) -> list[ListedOrder]:
        """A page of the sale's orders with their states: at most `limit` after `position`."""
        return await self._run(self._reader.orders_after, sale_id, position, limit)

    async def export_page(self, sale_id: int, position: int, limit: int) -> ExportPage:
        """A page of an export, read and written as CSV on the export thread: the event
        loop only sends it."""
        return await self._run(
            self._export_page,
            sale_id,
            position,
            limit,
            pool=self._export_pool,
            timeout_s=EXPORT_PAGE_TIMEOUT_S,
        )

    def _export_page(self, sale_id: int, position: int, limit: int) -> ExportPage:
        orders = self._reader.orders_after(sale_id, position, limit)
        last = orders[-1].position if orders else position
        return ExportPage(len(orders), last, csv_lines(orders))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._export_pool.shutdown(wait=False, cancel_futures=True)

    async def _buyers_of_sold_out(
        self, sale_id: int, changes: int, load: Callable[[int], Buyers]
    ) -> Buyers:
        known = self._sold_out
        if known is None or known[:2] != (sale_id, changes):
            loading: asyncio.Future[Buyers] = asyncio.ensure_future(self._run(load, sale_id))
            known = self._sold_out = (sale_id, changes, loading)
            loading.add_done_callback(self._forget_failed_load)
        loading = known[2]
        if loading.done():  # loaded: every later sold-out answer comes from here
            return loading.result()
        # Shielded: one caller's cancellation must not cancel the load for all.
        return await asyncio.shield(loading)

    def _forget_failed_load(self, loading: asyncio.Future[Buyers]) -> None:
        failed = loading.cancelled() or loading.exception() is not None
        if failed and self._sold_out is not None and self._sold_out[2] is loading:
            self._sold_out = None  # the next sold-out answer tries again

    def _load_buyers(self, sale_id: int) -> Buyers:
        return _by_buyer(self._reader.orders_of_sale, sale_id)

    async def _run(
        self,
        read: Callable[..., T],
        *args: object,
        pool: ThreadPoolExecutor | None = None,
        timeout_s: float = LOOKUP_TIMEOUT_S,
    ) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(pool or self._pool, read, *args), timeout_s
            )
        except TimeoutError:
            raise Unavailable("the journal did not answer in time") from None


def _by_buyer(read: Callable[[int], list[OrderRecord]], sale_id: int) -> Buyers:
    """A sale's orders as `read` gives them, by buyer."""
    buyers: Buyers = {}
    for order in read(sale_id):  # each buyer's units in order
        buyers.setdefault(order.user_id, []).append(order)
    return buyers
