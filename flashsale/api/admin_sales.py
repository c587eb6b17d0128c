"""The sales as the operator runs them (bearer admin token):

- `POST /flash-sale/admin/sales`: make the next sale (refused while the current one is
  in progress, unless the request replaces it by `If-Match` or `replaces`; made once
  per `Idempotency-Key`), and `GET` every sale, newest first;
- `GET /flash-sale/admin/sales/{saleId}`: one sale, with its ETag;
- `PATCH /flash-sale/admin/sales/{saleId}`: pause, resume or end the current sale, or
  move its end.

The allocator (or Redis) decides each command and audits it (flashsale.api.admin_access);
today's `/flash-sale/admin/sale` is flashsale.api.admin.
"""

from __future__ import annotations

import falcon
import falcon.asgi

from flashsale.admin_commands import CREATE, AdminAnswer, ChangeSale, CreateSale
from flashsale.api.admin_access import AdminAccess, Attempt
from flashsale.api.admin_answers import answer_admin
from flashsale.api.admin_reads import AdminReads, SaleWithSold
from flashsale.api.admin_terms import change, fingerprint, idempotency_key, if_match, new_sale
from flashsale.api.admin_terms import sale_id_of as parse_sale_id
from flashsale.api.body import read_json_body
from flashsale.api.problems import NOT_FOUND, HTTPProblem
from flashsale.api.representations import sale_resource_json
from flashsale.catalogue import ProductSettings
from flashsale.clock import now_us
from flashsale.shm.sale_board import SaleBoard


async def create_sale(
    access: AdminAccess,
    default_product: ProductSettings,
    req: falcon.asgi.Request,
    attempt: Attempt,
    engine: str = "sqlite",
) -> AdminAnswer:
    """A POST's new sale, decided by the allocator (refusals recorded)."""
    async with access.refusals_recorded(req, attempt):
        attempt.body = await read_json_body(req)
        terms, replaces = new_sale(attempt.body, default_product)
        key = idempotency_key(req)
        command = CreateSale(
            terms, replaces, if_match(req), key, fingerprint(attempt.body) if key else None
        )
    return await access.command(req, attempt, command)


def freshest(stored: SaleWithSold, board: SaleBoard) -> SaleWithSold:
    """The current sale from shared memory when it is as new as the stored one: the
    store's otherwise (another host's change, not followed yet). Sold counts only grow
    within a sale, so each is the larger of the two: this host's sales reach shared
    memory before the store is read again, and another host's (in the Redis engine)
    reach the store before this host follows it."""
    sale, stored_sold = stored
    shown = board.sale()
    if shown is None or shown.sale_id != sale.sale_id or shown.version < sale.lifecycle.version:
        return stored
    sold = shown.sold_by_sku()
    for sku, count in stored_sold.items():
        sold[sku] = max(sold.get(sku, 0), count)
    return shown.record(), sold


class AdminSalesResource:
    def __init__(
        self,
        access: AdminAccess,
        reads: AdminReads,
        board: SaleBoard,
        default_product: ProductSettings,
        engine: str = "sqlite",
    ) -> None:
        self.access = access
        self.reads = reads
        self.board = board
        self.default_product = default_product
        self.engine = engine

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        await self.access.authorize(req, Attempt())
        at_us = now_us()
        sales = [freshest(stored, self.board) for stored in await self.reads.all_sales()]
        resp.media = {"sales": [sale_resource_json(sale, sold, at_us) for sale, sold in sales]}

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        attempt = Attempt(attempted=CREATE)
        await self.access.authorize(req, attempt)
        answer_admin(
            resp,
            await create_sale(self.access, self.default_product, req, attempt, self.engine),
        )


class AdminSaleItemResource:
    def __init__(self, access: AdminAccess, reads: AdminReads, board: SaleBoard) -> None:
        self.access = access
        self.reads = reads
        self.board = board

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, sale_id: str
    ) -> None:
        await self.access.authorize(req, Attempt())
        number = parse_sale_id(sale_id)
        stored = await self.reads.one_sale(number) if number is not None else None
        if stored is None:
            raise _no_sale(sale_id)
        sale, sold = freshest(stored, self.board)
        resp.media = sale_resource_json(sale, sold, now_us())
        resp.set_header("ETag", sale.etag)

    async def on_patch(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, sale_id: str
    ) -> None:
        attempt = Attempt()
        await self.access.authorize(req, attempt)
        async with self.access.refusals_recorded(req, attempt):
            number = attempt.sale_id = parse_sale_id(sale_id)
            if number is None:
                raise _no_sale(sale_id)
            attempt.body = await read_json_body(req, merge_patch=True)
            asked = change(attempt.body)
            attempt.attempted = asked.action
        command = ChangeSale(number, asked, if_match(req))
        answer_admin(resp, await self.access.command(req, attempt, command))


def _no_sale(text: str) -> HTTPProblem:
    return HTTPProblem(NOT_FOUND, f"there is no sale {text!r}")
