"""GET /flash-sale/admin/audit?limit=&after=: the audit trail, page by page (bearer admin
token). Entries in the order they were appended (`seq`), `next` the cursor of the
page after, or null at the end; the trail itself is written by the allocator
(flashsale.allocator.admin, or Redis)."""

from __future__ import annotations

from typing import Any

import falcon
import falcon.asgi

from flashsale.api.admin_access import AdminAccess, Attempt
from flashsale.api.admin_reads import AdminReads, cursor_after, place_after
from flashsale.api.problems import INVALID_QUERY, PROBLEMS_PATH, HTTPProblem
from flashsale.clock import iso_from_us
from flashsale.journal_sales import AuditEntry

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    context = entry.context
    return {
        "seq": entry.seq,
        "at": iso_from_us(entry.at_us),
        "action": entry.action,
        "attempted": entry.attempted,
        "saleId": entry.sale_id,
        "status": entry.status,
        "outcome": "ok" if entry.problem is None else PROBLEMS_PATH + entry.problem,
        "replayed": entry.replayed,
        "request": {
            "method": context.method,
            "path": context.path,
            "body": context.body,
            "bodyTruncated": context.body_truncated,
            "ifMatch": context.if_match,
            "idempotencyKey": context.idempotency_key,
        },
        "address": context.address,
        "token": context.token,
    }


class AdminAuditResource:
    def __init__(self, access: AdminAccess, reads: AdminReads) -> None:
        self.access = access
        self.reads = reads

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        await self.access.authorize(req, Attempt())
        limit = _limit(req.get_param("limit"))
        after = place_after(req.get_param("after"))
        if after is None:
            raise HTTPProblem(INVALID_QUERY, "after is not a cursor this server gave")
        entries = await self.reads.audit_page(after, limit + 1)
        page = entries[:limit]
        more = len(entries) > limit
        resp.cache_control = ["no-store"]
        resp.media = {
            "entries": [entry_json(entry) for entry in page],
            "next": cursor_after(page[-1].seq) if more else None,
        }


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise HTTPProblem(INVALID_QUERY, f"limit must be an integer within [1, {MAX_LIMIT}]")
    return int(text)
