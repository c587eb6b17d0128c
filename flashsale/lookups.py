"""The journal's answers for the event loop: blocking SQLite reads on a small
thread pool, each with a deadline, and the buyers of a sold-out sale in memory.

A read may wait on the disk, so it never runs on the loop. Once a sale is sold
out its buyers can no longer change (the sold count, published after each
durable commit, has reached the stock), so each worker reads them once and
answers every later "sold out" from memory: the most frequent answer of a
flash sale costs neither IPC nor disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from flashsale.errors import Unavailable
from flashsale.records import OrderRecord
from flashsale.shm.sale_board import SaleSnapshot

T = TypeVar("T")

LOOKUP_THREADS = 2
LOOKUP_TIMEOUT_S = 1.0
# A sold-out sale's buyers are kept only if there are at most this many orders.
BUYERS_IN_MEMORY_MAX = 100_000

Buyers = dict[str, list[OrderRecord]]


class OrderReader(Protocol):
    """Where a sale's orders are read: the journal, or Redis (redis_engine.store)."""

    def orders_of_user(self, sale_id: int, user_id: str) -> list[OrderRecord]: ...

    def orders_of_sale(self, sale_id: int) -> list[OrderRecord]: ...


class OrderLookups:
    def __init__(self, reader: OrderReader) -> None:
        self._reader = reader
        self._pool = ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="journal")
        self._sold_out: tuple[int, asyncio.Future[Buyers]] | None = None

    async def orders_of_user(self, sale: SaleSnapshot, user_id: str) -> list[OrderRecord]:
        """The user's orders in `sale`, first unit first."""
        if sale.remaining == 0 and sale.stock <= BUYERS_IN_MEMORY_MAX:
            buyers = await self._buyers_of_sold_out(sale.sale_id)
            return buyers.get(user_id, [])
        return await self._run(self._reader.orders_of_user, sale.sale_id, user_id)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _buyers_of_sold_out(self, sale_id: int) -> Buyers:
        known = self._sold_out
        if known is None or known[0] != sale_id:
            loading: asyncio.Future[Buyers] = asyncio.ensure_future(
                self._run(self._load_buyers, sale_id)
            )
            known = self._sold_out = (sale_id, loading)
            loading.add_done_callback(self._forget_failed_load)
        loading = known[1]
        if loading.done():  # loaded: every later sold-out answer comes from here
            return loading.result()
        # Shielded: one caller's cancellation must not cancel the load for all.
        return await asyncio.shield(loading)

    def _forget_failed_load(self, loading: asyncio.Future[Buyers]) -> None:
        failed = loading.cancelled() or loading.exception() is not None
        if failed and self._sold_out is not None and self._sold_out[1] is loading:
            self._sold_out = None  # the next sold-out answer tries again

    def _load_buyers(self, sale_id: int) -> Buyers:
        buyers: Buyers = {}
        for order in self._reader.orders_of_sale(sale_id):  # by position: units in order
            buyers.setdefault(order.user_id, []).append(order)
        return buyers

    async def _run(self, read: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self._pool, read, *args), LOOKUP_TIMEOUT_S
            )
        except TimeoutError:
            raise Unavailable("the journal did not answer in time") from None
