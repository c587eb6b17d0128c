"""A buyer's checkout commands, decided by the SQLite allocator in its loop, in order with
the purchases: confirm, cancel and extend an order, join a product's waitlist.

Each is decided against the stock book by flashsale.checkout_rules; what it changes
goes into the group commit of the purchases decided with it, and its answer waits
with theirs for that commit (flashsale.allocator.commits): nobody hears of a change
before it is durable. Holds falling due are expired by the loop (book.expire_due).

With webhooks on, the book writes each decision's outbox events (order.held,
order.confirmed, order.expired, order.cancelled, waitlist.offered, sale.sold_out)
among its changes, so they are appended in the same transaction
(StockBook(events=True)).
"""

from __future__ import annotations

from typing import Any

from flashsale import checkout_rules as rules
from flashsale.allocator.book import Entry, Hold, StockBook
from flashsale.checkout_commands import (
    CANCEL,
    CONFIRM,
    EXTEND,
    JOIN,
    CheckoutAnswer,
    CheckoutRequest,
)
from flashsale.clock import iso_from_us
from flashsale.sale_lifecycle import OPEN, sale_state


def decide_checkout(book: StockBook, request: CheckoutRequest, now_us: int) -> CheckoutAnswer:
    if request.command == JOIN:
        return _join(book, request, now_us)
    hold = book.holds.get(request.order_id)
    if hold is None:
        return _refused(rules.UNKNOWN_ORDER, f"there is no order {request.order_id!r}")
    if not request.shop and not book.token_matches(hold, request.token or ""):
        return _refused(rules.TOKEN_MISMATCH, "this checkout token is not the order's")
    # A hold due now has expired, whether or not the loop has got to it yet.
    book.expire_due(now_us)
    if request.command == CONFIRM:
        return _confirm(book, hold, request.payment_ref or "", now_us)
    if request.command == CANCEL:
        verdict = rules.cancel(hold.state)
        if verdict.action == rules.CANCEL:
            book.release(hold, rules.CANCELLED, now_us)
        return _answer(verdict, hold)
    if request.command == EXTEND:
        checkout = book.checkout
        verdict = rules.extend(hold.state, hold.extended, checkout.extend_s if checkout else 0)
        if verdict.action == rules.EXTEND:
            book.extend(hold)
        return _answer(verdict, hold)
    return CheckoutAnswer(400, "invalid-body", {})


def _confirm(book: StockBook, hold: Hold, payment_ref: str, now_us: int) -> CheckoutAnswer:
    free = hold.state == rules.EXPIRED and book.may_retake(hold)
    verdict = rules.confirm(hold.state, hold.payment_ref, payment_ref, free_unit=free)
    if verdict.action == rules.CONFIRM:
        book.confirm(hold, payment_ref, now_us)
    elif verdict.action == rules.RETAKE:
        book.retake(hold, payment_ref, now_us)
    return _answer(verdict, hold)


def _join(book: StockBook, request: CheckoutRequest, now_us: int) -> CheckoutAnswer:
    shelf = book.shelf(request.sku)
    if shelf is None:
        return _refused((404, "unknown-product"), f"{request.sku!r} is not a product of this sale")
    known = book.entry_of(request.user_id, request.sku)
    if known is not None:
        return CheckoutAnswer(200, entry=entry_json(known))
    sale = book.sale
    state = sale_state(
        sale.lifecycle.phase,
        sale.terms.starts_at_us,
        sale.terms.ends_at_us,
        book.remaining,
        now_us,
    )
    refusal = rules.waitlist_refusal(
        open_now=book.checkout is not None and state in (OPEN, "sold_out"),
        sold_out=shelf.live >= shelf.product.stock,
        held=shelf.held,
    )
    if refusal is not None:
        return CheckoutAnswer(refusal.status, refusal.problem, refusal.extensions)
    entry, token = book.join(request.user_id, request.sku, now_us)
    return CheckoutAnswer(201, entry={**entry_json(entry), "waitlistToken": token})


def entry_json(entry: Entry) -> dict[str, Any]:
    shown: dict[str, Any] = {"sku": entry.sku, "place": entry.place, "state": entry.state}
    if entry.order_id is not None:
        shown["orderId"] = entry.order_id
    return shown


def hold_json(hold: Hold) -> dict[str, Any]:
    order = hold.order
    return {
        "orderId": order.order_id,
        "userId": order.user_id,
        "sku": order.sku,
        "position": order.position,
        "purchasedAt": iso_from_us(order.purchased_at_us),
        "saleId": order.sale_id,
        "state": hold.state,
        "expiresAt": iso_from_us(hold.expires_at_us),
        "extended": hold.extended,
        "paymentRef": hold.payment_ref,
    }


def _answer(verdict: rules.Verdict, hold: Hold) -> CheckoutAnswer:
    if verdict.refused:
        return CheckoutAnswer(
            verdict.status,
            verdict.problem,
            {**verdict.extensions, "orderId": hold.order.order_id, "state": hold.state},
        )
    return CheckoutAnswer(200, order=hold_json(hold))


def _refused(kind: tuple[int, str], detail: str) -> CheckoutAnswer:
    return CheckoutAnswer(kind[0], kind[1], {"detail": detail})
