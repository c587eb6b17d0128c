"""A sale's orders in the Redis engine, against two real hosts on one real redis-server:
the pages and the CSV of either host are Redis's orders list row for row, and an
earlier sale's buyer finds their order on the other host."""

from __future__ import annotations

from typing import Any

import pytest
import redis
import requests

from flashsale.api.paging import encode_cursor
from flashsale.clock import iso_from_us
from stress.servers.redis_server import RedisServer, redis_server_binary
from tests.integration.test_burst import PATIENT
from tests.support.orders import (
    ADMIN_TOKEN,
    TRICKY_USERS,
    as_in_csv,
    assert_problem,
    buy_all,
    csv_rows,
    download,
    look_up,
    page,
    walk,
)
from tests.support.sales import start_next_sale
from tests.support.server import ServerProcess, wait_until

pytestmark = pytest.mark.skipif(
    redis_server_binary() is None,
    reason="redis-server is not installed (test.sh installs Debian's redis-server)",
)

SOLD = 130


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def two_hosts(start_server, redis_server) -> list[ServerProcess]:
    settings = {
        "FLASHSALE_ENGINE": "redis",
        "FLASHSALE_REDIS_URL": redis_server.url,
        "FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN,
        "FLASHSALE_REDIS_TIMEOUT_S": "5",
        "FLASHSALE_STOCK": "500",
        **PATIENT,
    }
    return [start_server(db_name=f"host-{n}.db", workers=1, env=settings) for n in range(2)]


def redis_rows(redis_server: RedisServer, sale_id: int) -> list[dict[str, Any]]:
    """The sale's orders list as Redis holds it, read directly, as the API shows an order
    (a record: order id, user, sku, position, sku position, unit, time, tab-separated)."""
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        records = client.lrange(f"{{flashsale}}:sale:{sale_id}:orders", 0, -1)
    finally:
        client.close()
    rows = []
    for record in records:
        text = record if isinstance(record, str) else record.decode()
        order_id, user, sku, position, _, _, at_us = text.split("\t")
        rows.append(
            {
                "orderId": order_id,
                "userId": user,
                "sku": sku,
                "position": int(position),
                "purchasedAt": iso_from_us(int(at_us)),
                "state": "confirmed",  # a sale without checkout: no hold hashes
                "paymentRef": None,
            }
        )
    return rows


def test_each_hosts_pages_and_csv_are_redis_orders_list_row_for_row(two_hosts, redis_server):
    first, second = two_hosts
    users = [*TRICKY_USERS, *(f"r-{i:03d}" for i in range(SOLD - len(TRICKY_USERS)))]
    half = len(users) // 2
    buy_all(first, [(user, None) for user in users[:half]])
    buy_all(second, [(user, None) for user in users[half:]])

    expected = redis_rows(redis_server, 1)
    assert len(expected) == SOLD
    assert [row["position"] for row in expected] == list(range(1, SOLD + 1))
    for host in (first, second):
        assert walk(host, 1, 7) == expected
        assert walk(host, 1, None) == expected
        assert csv_rows(download(host, 1)) == as_in_csv(expected)

    last = page(second, 1, limit=5, after=encode_cursor("orders-1", SOLD - 2)).json()
    assert last == {"orders": expected[-2:], "next": None}
    beyond = page(first, 1, after=encode_cursor("orders-1", SOLD + 10)).json()
    assert beyond == {"orders": [], "next": None}
    for host in (first, second):
        assert_problem(page(host, 2), 404, "unknown-sale")
        assert_problem(download(host, 2), 404, "unknown-sale")


def test_an_earlier_sales_buyer_finds_their_order_on_another_host(two_hosts):
    first, second = two_hosts
    bought = requests.post(
        f"{first.url}/flash-sale/purchase", json={"userId": "erin"}, timeout=30
    ).json()
    assert bought["saleId"] == 1

    start_next_sale(first.url, ADMIN_TOKEN, stock=5)
    wait_until(lambda: second.status()["saleId"] == 2, 10, message="the other host follows")

    assert_problem(look_up(second, "erin"), 404, "no-purchase")
    earlier = look_up(second, "erin", saleId="1")
    assert earlier.status_code == 200, earlier.text
    assert (earlier.json()["orderId"], earlier.json()["saleId"]) == (bought["orderId"], 1)
    assert_problem(look_up(second, "erin", saleId="2"), 404, "no-purchase")
    assert_problem(look_up(second, "erin", saleId="3"), 404, "unknown-sale")
    assert_problem(look_up(second, "erin", saleId="x1"), 400, "invalid-parameter")
    assert [order["userId"] for order in walk(second, 1, None)] == ["erin"]
    assert walk(first, 2, None) == []
