"""GET/POST /flash-sale/admin/sale, as before the sales were resources (bearer token):
the current sale, or a new one.

POST makes a sale as `POST /flash-sale/admin/sales` does (flashsale.api.admin_sales):
refused while the current sale is in progress unless it says it replaces it. Both
answer the sale resource, with the `stock` (its total) they always showed.
"""

from __future__ import annotations

from typing import Any

import falcon
import falcon.asgi

from flashsale.admin_commands import CREATE
from flashsale.api.admin_access import AdminAccess, Attempt
from flashsale.api.admin_answers import answer_admin
from flashsale.api.admin_sales import create_sale
from flashsale.api.representations import sale_resource_json
from flashsale.api.status import starting_up
from flashsale.catalogue import ProductSettings
from flashsale.clock import now_us
from flashsale.shm.sale_board import SaleBoard


class AdminSaleResource:
    def __init__(
        self,
        access: AdminAccess,
        board: SaleBoard,
        default_product: ProductSettings,
        engine: str = "sqlite",
    ) -> None:
        self.access = access
        self.board = board
        self.default_product = default_product
        self.engine = engine

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        await self.access.authorize(req, Attempt())
        sale = self.board.sale()
        if sale is None:
            raise starting_up()
        record = sale.record()
        resp.media = _with_stock(sale_resource_json(record, sale.sold_by_sku(), now_us()))
        resp.set_header("ETag", record.etag)

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        attempt = Attempt(attempted=CREATE)
        await self.access.authorize(req, attempt)
        answer_admin(
            resp,
            await create_sale(self.access, self.default_product, req, attempt, self.engine),
        )
        if isinstance(resp.media, dict):
            resp.media = _with_stock(resp.media)


def _with_stock(resource: dict[str, Any]) -> dict[str, Any]:
    """`stock`: the total, under the name this endpoint has always given it."""
    return {**resource, "stock": resource["total"]}
