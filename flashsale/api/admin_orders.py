"""GET /flash-sale/admin/sales/{saleId}/orders (pages) and .../orders.csv (every order,
streamed): a sale's orders for its operator (the admin token, flashsale.api.admin_access).

Pages are cursor-paged in position order (flashsale.api.paging): `{"orders":
[...], "next": <cursor or null>}`, `next` null on the last page.

The CSV (flashsale.orders_csv) is read and sent a page at a time, never the
whole list: each page one short read on the export thread, written as CSV there
too (a WAL reader does not block the allocator's commits, and nothing stays open
between pages, so checkpoints go on), sent before the next is read. An export
yields: after each page it rests as long as the page took (EXPORT_REST_RATIO), so
it takes at most about half of a worker's time and the purchases it serves
meanwhile keep their latency; 100,000 orders still export in seconds (figures:
docs/performance.md). Sending waits while the
client's socket is full (the server's write backpressure), so a slow downloader
holds a page or two of memory, not the list; the event loop serves everything
else meanwhile. A worker streams at most `exports_per_worker` exports at once
(beyond: 503 with Retry-After), and an export whose client takes nothing for
`export_stall_s` is cut off, so that nobody holds a slot by not reading. A
client that leaves is noticed by the server, which ends its request within its
disconnect grace period (3 s).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

import falcon
import falcon.asgi

from flashsale.api.admin_access import AdminAccess, Attempt
from flashsale.api.paging import encode_cursor, page_after, page_limit
from flashsale.api.problems import EXPORTS_BUSY, HTTPProblem
from flashsale.api.sale_ids import sale_in_path, unknown_sale
from flashsale.clock import iso_from_us
from flashsale.config import Settings
from flashsale.lookups import ExportPage
from flashsale.orders_csv import HEADER, MEDIA_TYPE
from flashsale.records import ListedOrder

log = logging.getLogger("flashsale.api")

ORDERS_PATH = "/flash-sale/admin/sales/{sale_id}/orders"
CSV_PATH = ORDERS_PATH + ".csv"
# An export's page: about 100 KB of CSV, one read of a few milliseconds.
EXPORT_PAGE_ROWS = 1000
# After each page an export rests this many times as long as the page took to read
# and write: the longer pages take (a busy worker, a busy disk), the more it yields.
EXPORT_REST_RATIO = 1.0
RETRY_AFTER_BUSY_S = 5


class OrderPages(Protocol):
    """Where the pages are read (flashsale.lookups.OrderLookups)."""

    async def sale_exists(self, sale_id: int) -> bool: ...

    async def orders_after(self, sale_id: int, position: int, limit: int) -> list[ListedOrder]: ...

    async def export_page(self, sale_id: int, position: int, limit: int) -> ExportPage: ...


def register_admin_orders(
    app: falcon.asgi.App[falcon.asgi.Request, falcon.asgi.Response],
    access: AdminAccess,
    pages: OrderPages,
    settings: Settings,
) -> None:
    app.add_route(ORDERS_PATH, AdminOrdersResource(access, pages))
    slots = ExportSlots(settings.exports_per_worker)
    app.add_route(CSV_PATH, AdminOrdersCsvResource(access, pages, slots, settings.export_stall_s))


def order_row_json(order: ListedOrder) -> dict[str, Any]:
    return {
        "orderId": order.order_id,
        "userId": order.user_id,
        "sku": order.sku,
        "position": order.position,
        "purchasedAt": iso_from_us(order.purchased_at_us),
        "state": order.state,
        "paymentRef": order.payment_ref,
    }


def orders_scope(sale_id: int) -> str:
    """What a cursor of this sale's orders is bound to (flashsale.api.paging)."""
    return f"orders-{sale_id}"


class AdminOrdersResource:
    def __init__(self, access: AdminAccess, pages: OrderPages) -> None:
        self.access = access
        self.pages = pages

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, sale_id: str
    ) -> None:
        await self.access.authorize(req, Attempt())
        sale = sale_in_path(sale_id)
        scope = orders_scope(sale)
        limit, after = page_limit(req), page_after(req, scope)
        # One more than asked: whether a next page exists, without a read of its own.
        orders = await self.pages.orders_after(sale, after, limit + 1)
        if not orders and not await self.pages.sale_exists(sale):
            raise unknown_sale(sale_id)
        shown = orders[:limit]
        more = len(orders) > limit
        resp.cache_control = ["no-store"]
        resp.media = {
            "orders": [order_row_json(order) for order in shown],
            "next": encode_cursor(scope, shown[-1].position) if more else None,
        }


class ExportSlots:
    """How many exports this worker streams at once (one event loop: a plain count)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0

    def take(self) -> bool:
        if self.taken >= self.limit:
            return False
        self.taken += 1
        return True

    def give_back(self) -> None:
        self.taken -= 1


class AdminOrdersCsvResource:
    def __init__(
        self, access: AdminAccess, pages: OrderPages, slots: ExportSlots, stall_s: float
    ) -> None:
        self.access = access
        self.pages = pages
        self.slots = slots
        self.stall_s = stall_s

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, sale_id: str
    ) -> None:
        await self.access.authorize(req, Attempt())
        sale = sale_in_path(sale_id)
        if not await self.pages.sale_exists(sale):
            raise unknown_sale(sale_id)
        if not self.slots.take():
            raise HTTPProblem(
                EXPORTS_BUSY,
                f"this worker is streaming {self.slots.limit} exports already; "
                f"try again in {RETRY_AFTER_BUSY_S} s",
                headers={"Retry-After": str(RETRY_AFTER_BUSY_S)},
            )
        resp.content_type = MEDIA_TYPE
        resp.set_header("Content-Disposition", f'attachment; filename="sale-{sale}-orders.csv"')
        resp.cache_control = ["no-store"]
        resp.stream = CsvExport(self.pages, sale, self.slots.give_back, stall_s=self.stall_s)


class CsvExport:
    """The CSV of one sale's orders as Falcon streams it: an async iterator of chunks
    (the header with the first page, then a page each), closed by Falcon when the
    answer ends, however it ends; closing gives the export's slot back.

    Between handing a chunk over and being asked for the next, Falcon is sending
    it: a watchdog cancels the request's task if that takes longer than `stall_s`
    (the client reads nothing), which closes the connection.
    """

    def __init__(
        self,
        pages: OrderPages,
        sale_id: int,
        give_back: Callable[[], None],
        *,
        stall_s: float,
        page_rows: int = EXPORT_PAGE_ROWS,
    ) -> None:
        self._pages = pages
        self._sale_id = sale_id
        self._give_back = give_back
        self._page_rows = page_rows
        self._stall_s = stall_s
        self._after = 0  # the last position sent
        self._rest_s = 0.0  # before reading the next page
        self._started = False
        self._finished = False
        self._closed = False
        self._watchdog: asyncio.TimerHandle | None = None

    def __aiter__(self) -> CsvExport:
        return self

    async def __anext__(self) -> bytes:
        self._disarm()  # the last chunk is sent: the client is reading
        if self._finished:
            raise StopAsyncIteration
        loop = asyncio.get_running_loop()
        if self._rest_s:
            await asyncio.sleep(self._rest_s)
        started = loop.time()
        page = await self._pages.export_page(self._sale_id, self._after, self._page_rows)
        # A short page is the last: orders sold meanwhile come after the end the export saw.
        self._finished = page.rows < self._page_rows
        chunk = page.csv
        if not self._started:
            self._started = True
            chunk = HEADER + chunk
        elif not page.rows:
            raise StopAsyncIteration
        self._after = page.last_position
        self._arm()
        # As long as the page took to read and write, queueing included: a busy worker
        # makes the export yield more.
        self._rest_s = EXPORT_REST_RATIO * (loop.time() - started)
        return chunk

    async def close(self) -> None:
        self._disarm()
        if not self._closed:
            self._closed = True
            self._give_back()

    def _arm(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            loop = asyncio.get_running_loop()
            self._watchdog = loop.call_later(self._stall_s, self._cut_off, task)

    def _disarm(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _cut_off(self, task: asyncio.Task[Any]) -> None:
        log.warning(
            "export of sale %d cut off: its client took nothing for %g s (after position %d)",
            self._sale_id,
            self._stall_s,
            self._after,
        )
        task.cancel()
