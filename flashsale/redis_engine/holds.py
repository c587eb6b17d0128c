"""Checkout holds in the Redis engine, the Python side: a buyer's command as library.lua's
flashsale_checkout reads it, its answer as the workers read a CheckoutAnswer, and the
hold counts as the sale board shows them.

The rules themselves run in Redis (library.lua mirrors flashsale.checkout_rules, as
the SQLite allocator applies them in flashsale.allocator.holds). What needs a secret
or randomness Redis has not is done here: a hold's checkout token is a MAC of its
order id under the store's key (checkout_rules.checkout_token), so only its digest
travels; a waitlist entry's token is made here and only its digests are stored.
"""

from __future__ import annotations

from typing import Any

from flashsale.checkout_commands import JOIN, CheckoutAnswer, CheckoutRequest
from flashsale.checkout_rules import (
    checkout_token,
    new_token,
    offered_checkout_token,
    token_digest,
)
from flashsale.clock import iso_from_us
from flashsale.records import SaleRecord

# (live, held, waiting, expired, cancelled) of each product, by its place.
Shelves = dict[int, tuple[int, int, int, int, int]]


def command_json(request: CheckoutRequest, key: bytes) -> tuple[dict[str, Any], str | None]:
    """The command for flashsale_checkout, and the waitlist token a join would give."""
    command: dict[str, Any] = {
        "command": request.command,
        "orderId": request.order_id,
        "shop": request.shop,
        "paymentRef": request.payment_ref,
        "userId": request.user_id,
        "sku": request.sku,
    }
    if request.command == JOIN:
        token = new_token()
        command["digest"] = token_digest(token).hex()
        command["offerDigest"] = token_digest(offered_checkout_token(token)).hex()
        return command, token
    if not request.shop:
        # Redis compares digests: the one presented, and the one the order's token has
        # (an offered hold's own stored digest takes its place there).
        command["presented"] = token_digest(request.token or "").hex()
        command["expected"] = token_digest(checkout_token(key, request.order_id)).hex()
    return command, None


def answer_of(done: dict[str, Any], sale_id: int, waitlist_token: str | None) -> CheckoutAnswer:
    """flashsale_checkout's answer (JSON) as the worker expects it (holds.py's shapes)."""
    status = int(done["status"])
    problem = done.get("problem")
    if problem is not None:
        return CheckoutAnswer(status, problem, dict(done.get("ext") or {}))
    hold = done.get("hold")
    if hold is not None:
        return CheckoutAnswer(status, order=hold_json(hold, sale_id))
    entry = dict(done.get("entry") or {})
    if status == 201 and waitlist_token is not None:
        entry["waitlistToken"] = waitlist_token
    return CheckoutAnswer(status, entry=entry)


def hold_json(hold: dict[str, Any], sale_id: int) -> dict[str, Any]:
    order_id, user, sku, position, _, _, purchased_at_us = str(hold["line"]).split("\t")
    return {
        "orderId": order_id,
        "userId": user,
        "sku": sku,
        "position": int(position),
        "purchasedAt": iso_from_us(int(purchased_at_us)),
        "saleId": sale_id,
        "state": hold["state"],
        "expiresAt": iso_from_us(int(hold["exp"])),
        "extended": bool(hold["ext"]),
        "paymentRef": hold.get("ref"),
    }


def hold_token(key: bytes, order_id: str) -> str:
    """A bought hold's checkout token (told to its buyer, again if the purchase is resent)."""
    return checkout_token(key, order_id)


def shelves(sale: SaleRecord, sold: dict[str, int], counts: dict[bytes, int]) -> Shelves:
    """Each product's figures for SaleBoard.publish_holds, from Redis's hashes."""
    shown: Shelves = {}
    for place, product in enumerate(sale.terms.products):
        sku = product.sku.encode()
        shown[place] = (
            sold.get(product.sku, 0),
            counts.get(b"held:" + sku, 0),
            counts.get(b"waiting:" + sku, 0),
            counts.get(b"expired:" + sku, 0),
            counts.get(b"cancelled:" + sku, 0),
        )
    return shown
