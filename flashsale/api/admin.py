"""GET/POST /flash-sale/admin/sale: show the sale, or start a new one (bearer token).

A new sale is `{"products": [...]}` (flashsale.catalogue), or today's `{"stock": N}`:
one product, the settings' default one, with that stock.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import falcon
import falcon.asgi

from flashsale.allocator.client import Decision
from flashsale.api.bearer import BearerAuth
from flashsale.api.body import read_json_body
from flashsale.api.problems import NOT_FOUND, NOT_SELLING, UNAVAILABLE, HTTPProblem
from flashsale.api.representations import sale_json
from flashsale.api.status import starting_up
from flashsale.api.validation import parse_json_object
from flashsale.catalogue import Product, ProductSettings, parse_products
from flashsale.clock import RANGE_TEXT, instant_us, iso_from_us, now_us, representable
from flashsale.config import Settings, declared
from flashsale.errors import InvalidSale
from flashsale.outcomes import Outcome
from flashsale.records import SaleTerms
from flashsale.setting import Integer, parse_instant
from flashsale.shm.sale_board import SaleBoard

# A new sale takes the bounds (and default) of the settings that make the first one.
STOCK = declared("stock", Integer)
PER_USER_LIMIT = declared("per_user_limit", Integer)
SALE_FIELDS = frozenset({"products", "stock", "perUserLimit", "startsAt", "endsAt"})


class SaleStarter(Protocol):
    async def start_sale(self, terms: SaleTerms) -> Decision: ...


class AdminSaleResource:
    def __init__(
        self,
        auth: BearerAuth | None,
        board: SaleBoard,
        starter: SaleStarter,
        default_product: ProductSettings,
    ) -> None:
        self.auth = auth
        self.board = board
        self.starter = starter
        self.default_product = default_product

    async def _authorize(self, req: falcon.asgi.Request) -> None:
        if self.auth is None:
            raise HTTPProblem(NOT_FOUND, "the admin API is off (no FLASHSALE_ADMIN_TOKEN)")
        await self.auth.authorize(req)

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        await self._authorize(req)
        sale = self.board.sale()
        if sale is None:
            raise starting_up()
        resp.media = {
            **sale_json(sale, now_us()),
            "stock": sale.stock,
            "createdAt": iso_from_us(sale.created_at_us),
        }
        for shown, item in zip(resp.media["products"], sale.products, strict=True):
            shown["stock"] = item.product.stock

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        await self._authorize(req)
        terms = _sale_terms(
            parse_json_object(await read_json_body(req), allowed=SALE_FIELDS),
            self.default_product,
        )
        decision = await self.starter.start_sale(terms)
        if decision.outcome is not Outcome.CONFIRMED:
            raise _not_started(decision)
        sale = json.loads(decision.body)
        resp.status = falcon.HTTP_201
        resp.media = {
            "saleId": sale["saleId"],
            "stock": sale["stock"],
            "total": sale["stock"],
            "perUserLimit": sale["perUserLimit"],
            "products": sale["products"],
            "startsAt": iso_from_us(sale["startsAtUs"]),
            "endsAt": iso_from_us(sale["endsAtUs"]),
            "createdAt": iso_from_us(sale["createdAtUs"]),
        }


def _bounded_int(body: dict[str, Any], name: str, default: int | None, bounds: Integer) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSale(f"Invalid {name}", f"{name} must be an integer")
    if not bounds.low <= value <= bounds.high:
        raise InvalidSale(f"Invalid {name}", f"{name} must be within [{bounds.low}, {bounds.high}]")
    return value


def _instant_us(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidSale(f"Invalid {name}", f"{name} must be an ISO-8601 string or null")
    try:
        moment_us = instant_us(parse_instant(value))
    except ValueError:
        raise InvalidSale(f"Invalid {name}", f"{name} is not an ISO-8601 time") from None
    if not representable(moment_us):
        raise InvalidSale(f"Invalid {name}", f"{name} must be {RANGE_TEXT}")
    return moment_us


def _sale_terms(body: dict[str, Any], default_product: ProductSettings) -> SaleTerms:
    limit = _bounded_int(body, "perUserLimit", Settings.per_user_limit, PER_USER_LIMIT)
    if ("stock" in body) == ("products" in body):
        raise InvalidSale("Invalid sale", "send either products or stock (one product)")
    if "stock" in body:
        products: tuple[Product, ...] = (
            default_product.product(_bounded_int(body, "stock", None, STOCK)),
        )
    else:
        products = parse_products(body["products"], max_stock=STOCK.high, sale_limit=limit)
    starts_us, ends_us = _instant_us(body, "startsAt"), _instant_us(body, "endsAt")
    if starts_us is not None and ends_us is not None and ends_us <= starts_us:
        raise InvalidSale("Invalid endsAt", "endsAt must be later than startsAt")
    return SaleTerms(products, limit, starts_us, ends_us)


def _not_started(decision: Decision) -> HTTPProblem:
    """The allocator did not start the sale: busy, or its journal cannot be written."""
    retry_after = {"Retry-After": "1"}
    if decision.body:  # the allocator's refusal names the journal's error
        error = json.loads(decision.body)["error"]
        return HTTPProblem(
            NOT_SELLING,
            f"the sale was not started: the journal cannot be written ({error})",
            headers=retry_after,
        )
    return HTTPProblem(
        UNAVAILABLE, "the sale was not started: the allocator is busy", headers=retry_after
    )
