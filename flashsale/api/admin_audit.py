"""GET /flash-sale/admin/audit?limit=&after=: the audit trail, page by page (bearer admin
token). Entries in the order they were appended (`seq`), `next` the cursor of the
page after, or null at the end; the trail itself is written by the allocator
(flashsale.allocator.admin, or Redis)."""

from __future__ import annotations

from typing import Any

import falcon
import falcon.asgi

from flashsale.api.admin_access import AdminAccess, Attempt
from flashsale.api.admin_reads import AdminReads
from flashsale.api.paging import encode_cursor, page_after, page_limit
from flashsale.api.problems import PROBLEMS_PATH
from flashsale.clock import iso_from_us
from flashsale.journal_sales import AuditEntry

# What an audit cursor is bound to (flashsale.api.paging): the trail, by seq.
AUDIT_SCOPE = "audit"


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
        limit = page_limit(req)
        after = page_after(req, AUDIT_SCOPE)
        entries = await self.reads.audit_page(after, limit + 1)
        page = entries[:limit]
        more = len(entries) > limit
        resp.cache_control = ["no-store"]
        resp.media = {
            "entries": [entry_json(entry) for entry in page],
            "next": encode_cursor(AUDIT_SCOPE, page[-1].seq) if more else None,
        }
