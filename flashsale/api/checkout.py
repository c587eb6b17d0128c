"""POST /flash-sale/orders/{orderId}/confirm|cancel|extend, POST /flash-sale/waitlist and
GET /flash-sale/waitlist/{sku}: a sale's checkout holds and waitlists.

The worker checks the input and the shop's server token (FLASHSALE_CHECKOUT_TOKEN);
the allocator decides, durably, and compares a buyer's checkout token with the digest
it keeps (flashsale.allocator.holds). A waitlist entry is read from the journal with
its waitlist token, which also yields the checkout token of the hold it was offered.
"""

from __future__ import annotations

import hmac
import re
from typing import Any, Protocol

import falcon
import falcon.asgi

from flashsale.allocator.client import Decision
from flashsale.api.answers import unavailable_problem
from flashsale.api.bearer import CHALLENGE, INVALID_TOKEN_CHALLENGE
from flashsale.api.body import read_json_body
from flashsale.api.identity import Identity
from flashsale.api.problems import (
    BY_SLUG,
    INVALID_BODY,
    INVALID_PAYMENT_REF,
    INVALID_TOKEN,
    PROBLEM_JSON,
    STARTING,
    TOKEN_REQUIRED,
    UNKNOWN_ORDER,
    HTTPProblem,
)
from flashsale.api.validation import parse_json_object
from flashsale.checkout_commands import (
    CONFIRM,
    JOIN,
    ORDER_COMMANDS,
    CheckoutAnswer,
    CheckoutRequest,
)
from flashsale.checkout_rules import offered_checkout_token, token_digest
from flashsale.clock import iso_from_us
from flashsale.lookups import OrderLookups
from flashsale.outcomes import Outcome
from flashsale.shm.sale_board import SaleBoard

_PAYMENT_REF = re.compile(r"[\x21-\x7e]{1,128}").fullmatch
_ORDER_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").fullmatch
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,128}").fullmatch


class CheckoutGateway(Protocol):
    async def checkout(self, request: CheckoutRequest) -> Decision: ...


def bearer_token(req: falcon.Request) -> str:
    """The request's bearer token; 401 with the RFC 6750 challenge without one."""
    header = req.get_header("Authorization") or ""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise HTTPProblem(
            TOKEN_REQUIRED,
            "send the order's checkoutToken (or the shop's token) as a bearer token",
            headers={"WWW-Authenticate": CHALLENGE},
        )
    if not _TOKEN(token):
        raise _wrong_token()
    return token


def _wrong_token() -> HTTPProblem:
    return HTTPProblem(
        INVALID_TOKEN,
        "this token is not the order's checkout token",
        headers={"WWW-Authenticate": INVALID_TOKEN_CHALLENGE},
    )


async def decided(gateway: CheckoutGateway, request: CheckoutRequest) -> CheckoutAnswer:
    decision = await gateway.checkout(request)
    if decision.outcome is not Outcome.CONFIRMED or not decision.body:
        raise unavailable_problem("the allocator did not answer in time", 1)
    return CheckoutAnswer.decode(decision.body)


def answer(resp: falcon.Response, result: CheckoutAnswer, shown: dict[str, Any] | None) -> None:
    if result.problem is None:
        resp.status = falcon.code_to_http_status(result.status)
        resp.media = shown
        return
    if result.problem == "invalid-checkout-token":
        raise _wrong_token()
    if result.problem == "not-selling":
        raise unavailable_problem("the journal cannot be written", 1)
    problem = BY_SLUG[result.problem]
    extensions = dict(result.extensions)
    detail = extensions.pop("detail", problem.title)
    resp.status = problem.status_line
    resp.content_type = PROBLEM_JSON
    resp.media = problem.document(detail, **extensions)


class OrderCheckoutResource:
    """POST /flash-sale/orders/{orderId}/confirm, /cancel and /extend."""

    def __init__(self, gateway: CheckoutGateway, shop_token: str | None) -> None:
        self.gateway = gateway
        self.shop_token = shop_token

    async def _command(self, req: falcon.asgi.Request, order_id: str, command: str) -> Any:
        token = bearer_token(req)
        payment_ref = None
        if command == CONFIRM:
            body = parse_json_object(await read_json_body(req), allowed=frozenset({"paymentRef"}))
            payment_ref = body.get("paymentRef")
            if not isinstance(payment_ref, str) or not _PAYMENT_REF(payment_ref):
                raise HTTPProblem(
                    INVALID_PAYMENT_REF, "paymentRef must be 1 to 128 visible ASCII characters"
                )
        if not _ORDER_ID(order_id):
            raise HTTPProblem(UNKNOWN_ORDER, f"there is no order {order_id!r}")
        shop = self.shop_token is not None and hmac.compare_digest(
            token.encode(), self.shop_token.encode()
        )
        return await decided(
            self.gateway,
            CheckoutRequest(
                command, order_id, None if shop else token, shop, payment_ref=payment_ref
            ),
        )

    async def on_post_confirm(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, order_id: str
    ) -> None:
        result = await self._command(req, order_id, CONFIRM)
        answer(resp, result, {"outcome": "confirmed", **(result.order or {})})

    async def on_post_cancel(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, order_id: str
    ) -> None:
        result = await self._command(req, order_id, ORDER_COMMANDS[1])
        answer(resp, result, result.order)

    async def on_post_extend(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, order_id: str
    ) -> None:
        result = await self._command(req, order_id, ORDER_COMMANDS[2])
        answer(resp, result, result.order)


class WaitlistResource:
    """POST /flash-sale/waitlist and GET /flash-sale/waitlist/{sku}."""

    def __init__(
        self,
        board: SaleBoard,
        gateway: CheckoutGateway,
        identity: Identity,
        lookups: OrderLookups,
    ) -> None:
        self.board = board
        self.gateway = gateway
        self.identity = identity
        self.lookups = lookups

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        user_id, sku = self.identity.buyer(req, await read_json_body(req))
        sale = self.board.sale()
        if sale is None:
            raise HTTPProblem(STARTING, "the allocator is recovering the sale")
        if sku is None:
            if len(sale.products) != 1:
                raise HTTPProblem(INVALID_BODY, "sku is required: this sale has several products")
            sku = sale.products[0].product.sku
        result = await decided(self.gateway, CheckoutRequest(JOIN, user_id=user_id, sku=sku))
        answer(resp, result, result.entry)

    async def on_get_entry(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, sku: str
    ) -> None:
        token = bearer_token(req)
        sale = self.board.sale()
        if sale is None:
            raise HTTPProblem(STARTING, "the allocator is recovering the sale")
        entry = await self.lookups.waitlist_entry(sale.sale_id, sku, token_digest(token))
        if entry is None:
            raise HTTPProblem(
                INVALID_TOKEN,
                "this token is not a waitlist token of this product",
                headers={"WWW-Authenticate": INVALID_TOKEN_CHALLENGE},
            )
        shown: dict[str, Any] = {"sku": entry.sku, "place": entry.place, "state": entry.state}
        if entry.order_id is not None:
            shown["orderId"] = entry.order_id
            rows = [
                row
                for row in await self.lookups.checkout_of_user(sale.sale_id, entry.user_id)
                if row.order_id == entry.order_id
            ]
            if rows:
                row = rows[0]
                shown["hold"] = {
                    "orderId": row.order_id,
                    "state": row.state,
                    "expiresAt": iso_from_us(row.expires_at_us),
                    "checkoutToken": offered_checkout_token(token),
                }
        resp.media = shown
