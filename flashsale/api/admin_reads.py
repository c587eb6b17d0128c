"""The admin API's reads for the event loop: sales and the audit trail, read from the
journal (or Redis) on a thread of their own, each with a deadline.

A read may wait on the disk or on Redis, so it never runs on the loop; one
thread is enough for an operator's few requests, and keeps them off the
shoppers' look-up pool (flashsale.lookups).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from flashsale.errors import Unavailable
from flashsale.journal_sales import AuditEntry
from flashsale.records import SaleRecord

T = TypeVar("T")

READ_TIMEOUT_S = 2.0
SaleWithSold = tuple[SaleRecord, dict[str, int]]


class SalesReader(Protocol):
    """Where sales and the trail are read: the journal (journal_sales.SalesReader), or
    Redis (redis_engine.store.RedisStore)."""

    def all_sales(self) -> list[SaleWithSold]: ...

    def one_sale(self, sale_id: int) -> SaleWithSold | None: ...

    def audit_page(self, after: int, limit: int) -> list[AuditEntry]: ...


class AdminReads:
    def __init__(self, reader: SalesReader) -> None:
        self._reader = reader
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="admin-reads")

    async def all_sales(self) -> list[SaleWithSold]:
        return await self._run(self._reader.all_sales)

    async def one_sale(self, sale_id: int) -> SaleWithSold | None:
        return await self._run(self._reader.one_sale, sale_id)

    async def audit_page(self, after: int, limit: int) -> list[AuditEntry]:
        return await self._run(self._reader.audit_page, after, limit)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _run(self, read: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self._pool, read, *args), READ_TIMEOUT_S
            )
        except TimeoutError:
            raise Unavailable("the journal did not answer in time") from None
        except sqlite3.Error as exc:  # a journal the allocator has not opened (upgraded) yet
            raise Unavailable(f"the journal cannot be read yet ({exc})") from None
