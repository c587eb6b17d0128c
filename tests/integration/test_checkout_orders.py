"""The operator's view of a checkout sale against a real server, in both engines: the
orders' pages and CSV say which order is held, confirmed (with its paymentRef),
cancelled or expired, so that nobody ships an expired hold; the page answers match
the OpenAPI schema. (A sale without checkout: tests/integration/test_orders.py and
test_redis_orders.py, every order `confirmed`.)"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.support.engines import ENGINES, engine_settings
from tests.support.openapi_schema import schema_problems
from tests.support.orders import ADMIN_TOKEN, as_in_csv, csv_rows, download, page, walk
from tests.support.sales import start_next_sale
from tests.support.server import running_server, wait_until

TIMEOUT_S = 10
# A payment reference a spreadsheet would run: the CSV must write it as text.
FORMULA_REF = "=HYPERLINK(pay)"


def _buy(url: str, user: str) -> dict[str, Any]:
    answer = requests.post(f"{url}/flash-sale/purchase", json={"userId": user}, timeout=TIMEOUT_S)
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    assert body["outcome"] == "held", body
    return body


def _act(url: str, hold: dict[str, Any], action: str, **body: Any) -> dict[str, Any]:
    answer = requests.post(
        f"{url}/flash-sale/orders/{hold['orderId']}/{action}",
        json=body or None,
        headers={"Authorization": f"Bearer {hold['checkoutToken']}"},
        timeout=TIMEOUT_S,
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


@pytest.mark.parametrize("engine", ENGINES)
def test_pages_and_csv_of_a_checkout_sale_show_each_orders_state_and_payment_ref(
    tmp_path, engine: str
) -> None:
    with (
        engine_settings(engine, tmp_path) as (engine_env, _),
        running_server(
            tmp_path / "j.db", workers=1, env={"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN} | engine_env
        ) as server,
    ):
        url = server.url
        # 3 s holds that may be extended by 10 minutes: the hold that must stay held
        # is extended at once, the one that must expire is not.
        sale = start_next_sale(
            url, ADMIN_TOKEN, stock=10, checkout={"holdSeconds": 3, "extendSeconds": 600}
        )
        sale_id = sale["saleId"]
        paid, dropped, lapsed = _buy(url, "ann"), _buy(url, "bob"), _buy(url, "cat")
        kept = _buy(url, "dan")
        _act(url, paid, "confirm", paymentRef=FORMULA_REF)
        _act(url, dropped, "cancel")
        _act(url, kept, "extend")

        def lapsed_expired() -> bool:
            return any(
                row["orderId"] == lapsed["orderId"] and row["state"] == "expired"
                for row in walk(server, sale_id, None)
            )

        wait_until(lapsed_expired, timeout_s=30, message="cat's 3 s hold never expired")

        rows = walk(server, sale_id, 2)  # two pages and a last: the states cross pages
        assert [(row["userId"], row["state"], row["paymentRef"]) for row in rows] == [
            ("ann", "confirmed", FORMULA_REF),
            ("bob", "cancelled", None),
            ("cat", "expired", None),
            ("dan", "held", None),
        ]
        assert [row["orderId"] for row in rows] == [
            hold["orderId"] for hold in (paid, dropped, lapsed, kept)
        ]
        body = page(server, sale_id, limit=10).json()
        assert schema_problems(body, "OrdersPage") == []

        exported = csv_rows(download(server, sale_id))
        assert exported == as_in_csv(rows)
        assert exported[0]["paymentRef"] == "'" + FORMULA_REF  # text, never a formula
        assert [row["state"] for row in exported] == ["confirmed", "cancelled", "expired", "held"]
