"""The operator's and the shopper's views of a sale's orders, as the tests read them: the
pages walked, the CSV parsed and its framing checked, the journal's own rows, and
a look-up; test_orders and test_redis_orders share them."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import requests

from flashsale.clock import iso_from_us
from tests.support.sales import admin_headers
from tests.support.server import ServerProcess

ADMIN_TOKEN = "admin-token-for-orders"
ADMIN = admin_headers(ADMIN_TOKEN)
CSV_HEADER = b"orderId,userId,sku,position,purchasedAt,state,paymentRef\r\n"
# Ids a spreadsheet would run as formulas, ids that need quoting, and a fullwidth
# equals sign that NFKC makes a plain one.
TRICKY_USERS = (
    "=1+1",
    "+SUM(A1)",
    "-2",
    "@here",
    '=HYPERLINK("evil.example","y")',
    "a,b",
    'say "hi"',
    "it's",
    "\uff1dwide",
    "plain",
)


# -- the wire ----------------------------------------------------------------------------
def orders_url(server: ServerProcess, sale_id: object) -> str:
    return f"{server.url}/flash-sale/admin/sales/{sale_id}/orders"


def page(server: ServerProcess, sale_id: object, **params: Any) -> requests.Response:
    return requests.get(orders_url(server, sale_id), params=params, headers=ADMIN, timeout=30)


def walk(server: ServerProcess, sale_id: int, limit: int | None) -> list[dict[str, Any]]:
    """Every order, page after page of `limit` (None: the default), following `next`."""
    orders: list[dict[str, Any]] = []
    params: dict[str, Any] = {} if limit is None else {"limit": limit}
    while True:
        answer = page(server, sale_id, **params)
        assert answer.status_code == 200, answer.text
        assert answer.headers["Cache-Control"] == "no-store"
        body = answer.json()
        assert set(body) == {"orders", "next"}
        assert len(body["orders"]) <= (limit or 100)
        orders += body["orders"]
        if body["next"] is None:
            return orders
        assert len(body["orders"]) == (limit or 100), "a page with a next is full"
        params["after"] = body["next"]


def download(server: ServerProcess, sale_id: object) -> requests.Response:
    return requests.get(f"{orders_url(server, sale_id)}.csv", headers=ADMIN, timeout=60)


def csv_rows(answer: requests.Response) -> list[dict[str, Any]]:
    """The CSV's rows as the API's orders read them (position an integer), after checking
    its framing: the header line first, every line ended by CRLF."""
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.headers["Cache-Control"] == "no-store"
    raw = answer.content
    assert raw.startswith(CSV_HEADER)
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8"), newline=""))
    return [{**row, "position": int(row["position"])} for row in reader]


def look_up(server: ServerProcess, who: str, headers: dict[str, str] | None = None, **params):
    return requests.get(
        f"{server.url}/flash-sale/purchase/{who}", params=params, headers=headers, timeout=30
    )


# -- what the journal holds ----------------------------------------------------------------
def journal_rows(db_path: Path, sale_id: int) -> list[dict[str, Any]]:
    """The sale's orders read from the journal's table, as the API shows an order."""
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT order_id, user_id, sku, position, purchased_at_us, state, payment_ref "
            "FROM orders "
            "WHERE sale_id = ? ORDER BY position",
            (sale_id,),
        ).fetchall()
    return [
        {
            "orderId": order_id,
            "userId": user_id,
            "sku": sku,
            "position": position,
            "purchasedAt": iso_from_us(at_us),
            "state": state,
            "paymentRef": payment_ref,
        }
        for order_id, user_id, sku, position, at_us, state, payment_ref in rows
    ]


def defused(text: str) -> str:
    """What a spreadsheet must be given for a user id or payment reference: never a
    formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def as_in_csv(orders: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The API's orders as the CSV writes them: text defused, no payment reference empty."""
    return [
        {
            **order,
            "userId": defused(order["userId"]),
            "paymentRef": "" if order["paymentRef"] is None else defused(order["paymentRef"]),
        }
        for order in orders
    ]


def buy_all(server: ServerProcess, purchases: list[tuple[str, str | None]]) -> None:
    """Each (user, sku) buys, a few at a time; every one must be confirmed."""

    def buy(purchase: tuple[str, str | None]) -> int:
        user, sku = purchase
        body = {"userId": user} if sku is None else {"userId": user, "sku": sku}
        answer = requests.post(f"{server.url}/flash-sale/purchase", json=body, timeout=30)
        return answer.status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(buy, purchases))
    assert statuses == [201] * len(purchases)


def assert_problem(answer: requests.Response, status: int, slug: str, *words: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == "application/problem+json"
    body = answer.json()
    assert body["type"] == f"/problems/{slug}", body
    for word in words:
        assert word in body["detail"], body
