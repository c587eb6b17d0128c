"""GET /flash-sale/admin/sales/{saleId}/queue: a sale's waiting room as it was recorded,
for its operator (the admin token): every ticket in queue order, with when its holder
joined, was admitted and bought, so the order the start drew can be audited.

Cursor-paged by place (flashsale.api.paging), the pre-queue's tickets without a place
yet (before the start) last, by number: `{"tickets": [...], "next": <cursor or null>,
"shuffledAt", "serving", "closedAt"}`.
"""

from __future__ import annotations

from typing import Any, Protocol

import falcon
import falcon.asgi

from flashsale.api.admin_access import AdminAccess, Attempt
from flashsale.api.paging import encode_cursor, page_after, page_limit
from flashsale.api.sale_ids import sale_in_path, unknown_sale
from flashsale.clock import iso_from_us
from flashsale.journal_queue import QueueRow, TicketRow, page_key

QUEUE_PATH = "/flash-sale/admin/sales/{sale_id}/queue"


class QueuePages(Protocol):
    """Where the pages are read (flashsale.lookups.OrderLookups)."""

    async def sale_exists(self, sale_id: int) -> bool: ...

    async def queue_after(
        self, sale_id: int, after: int, limit: int
    ) -> tuple[list[TicketRow], QueueRow | None]: ...


def ticket_row_json(row: TicketRow) -> dict[str, Any]:
    return {
        "place": row.place,
        "number": row.number,
        "userId": row.user_id,
        "joinedAt": iso_from_us(row.joined_at_us),
        "admittedAt": iso_from_us(row.admitted_at_us),
        "usedAt": iso_from_us(row.used_at_us),
    }


class AdminQueueResource:
    def __init__(self, access: AdminAccess, pages: QueuePages) -> None:
        self.access = access
        self.pages = pages

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, sale_id: str
    ) -> None:
        await self.access.authorize(req, Attempt())
        sale = sale_in_path(sale_id)
        scope = f"queue-{sale}"
        limit, after = page_limit(req), page_after(req, scope)
        rows, stands = await self.pages.queue_after(sale, after, limit + 1)
        if not rows and not await self.pages.sale_exists(sale):
            raise unknown_sale(sale_id)
        shown = rows[:limit]
        more = len(rows) > limit
        resp.cache_control = ["no-store"]
        resp.media = {
            "tickets": [ticket_row_json(row) for row in shown],
            "next": encode_cursor(scope, page_key(shown[-1])) if more else None,
            "shuffledAt": iso_from_us(stands.shuffled_at_us) if stands else None,
            "serving": stands.serving if stands else 0,
            "closedAt": iso_from_us(stands.closed_at_us) if stands else None,
        }
