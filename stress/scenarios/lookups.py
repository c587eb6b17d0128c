"""After a run: look up every shopper's order (`GET /flash-sale/purchase/{userId}`;
in jwt mode `GET /flash-sale/purchase/me` with the shopper's token) with a small
pool of keep-alive sessions."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import requests

from stress.api import PURCHASE_PATH, bearer, iso_to_ns, parse_retry_after, str_or_none
from stress.api_client import decode_json, new_session
from stress.verdicts.orders import HeldOrder, LookupResult

LOOKUP_THREADS = 16
LOOKUP_TIMEOUT_S = 10.0
LOOKUP_TRIES = 4
MAX_WAIT_S = 5.0
OWN_ORDER = "me"  # jwt mode: the caller's order, the buyer being the token's sub


def lookup_all(
    base_url: str, users: Iterable[str], tokens: dict[str, str] | None = None
) -> dict[str, LookupResult]:
    """Every user's order; with `tokens` (user -> token, jwt mode) each looked up as
    that user."""
    local = threading.local()
    base = base_url.rstrip("/") + PURCHASE_PATH + "/"

    def one(user: str) -> LookupResult:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = new_session()
        if tokens is None:
            return lookup_one(session, base, user)
        return lookup_one(session, base, user, tokens[user])

    unique = sorted(set(users))
    with ThreadPoolExecutor(max_workers=LOOKUP_THREADS, thread_name_prefix="lookup") as pool:
        return {result.user: result for result in pool.map(one, unique)}


def lookup_one(
    session: requests.Session, base: str, user: str, token: str | None = None
) -> LookupResult:
    """One look-up, retried on a dropped connection, a 429 or a 503 (bounded)."""
    last = LookupResult(user, 0, error="not tried")
    url, headers = base + quote(user, safe=""), None
    if token is not None:
        url, headers = base + OWN_ORDER, bearer(token)
    for _ in range(LOOKUP_TRIES):
        try:
            answer = session.get(url, headers=headers, timeout=LOOKUP_TIMEOUT_S)
        except requests.RequestException as exc:
            last = LookupResult(user, 0, error=f"{type(exc).__name__}: {str(exc)[:120]}")
            time.sleep(0.2)
            continue
        if answer.status_code in (429, 503):
            last = LookupResult(user, answer.status_code, error=answer.text[:120])
            time.sleep(min(parse_retry_after(answer.headers.get("Retry-After")) or 1.0, MAX_WAIT_S))
            continue
        body = decode_json(answer)
        if answer.status_code != 200:
            return LookupResult(user, answer.status_code)
        return LookupResult(
            user=user,
            http=200,
            order_id=str_or_none(body.get("orderId")),
            position=_int_or_none(body.get("position")),
            sale_id=str_or_none(body.get("saleId")),
            purchased_at_ns=iso_to_ns(body.get("purchasedAt")),
            sku=str_or_none(body.get("sku")),
            orders=held_orders(body.get("orders")),
        )
    return last


def held_orders(orders: object) -> tuple[HeldOrder, ...]:
    """A look-up's `orders` (a server with products lists every order the user holds)."""
    if not isinstance(orders, list):
        return ()
    return tuple(
        HeldOrder(
            str(order["orderId"]),
            _int_or_none(order.get("position")),
            str_or_none(order.get("sku")),
            str_or_none(order.get("saleId")),
        )
        for order in orders
        if isinstance(order, dict) and order.get("orderId") is not None
    )


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
