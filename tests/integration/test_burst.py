"""The promise under a burst: exactly the stock, to distinct users, in arrival order."""

from __future__ import annotations

from collections import Counter

import pytest
import requests

from tests.support.load import burst, journal_orders

# Thousands of client threads share this machine's 2 cores with the server and
# can starve it (the allocator too) for seconds. These tests are about the sale,
# not about timeouts or the breaker (tests/integration/test_protection.py covers
# those), so both are patient here.
PATIENT = {"FLASHSALE_REPLY_TIMEOUT_S": "10", "FLASHSALE_BREAKER_SILENCE_S": "8"}


@pytest.mark.slow
def test_2000_shoppers_buy_exactly_100_items_through_4_workers(start_server):
    server = start_server(workers=4, env={"FLASHSALE_STOCK": "100", **PATIENT})
    users = [f"shopper-{i:04d}" for i in range(2000)]

    answers = burst(server.url, users, processes=4)

    statuses = Counter(answer.status for answer in answers)
    assert set(statuses) == {201, 410}, statuses
    confirmed = {a.user_id: a.body for a in answers if a.status == 201}
    assert len(confirmed) == 100 == statuses[201]
    assert sorted(body["position"] for body in confirmed.values()) == list(range(1, 101))
    assert all(a.body["outcome"] == "sold_out" for a in answers if a.status == 410)

    status = server.status()
    assert (status["state"], status["remaining"], status["sold"]) == ("sold_out", 0, 100)
    assert journal_orders(server.db_path) == {u: b["orderId"] for u, b in confirmed.items()}
    for user_id, body in confirmed.items():
        lookup = requests.get(f"{server.url}/flash-sale/purchase/{user_id}", timeout=5).json()
        assert lookup["orderId"] == body["orderId"]

    # Every worker counts into its own row; the sum is what the clients sent.
    metrics = requests.get(f"{server.url}/flash-sale/metrics", timeout=5).json()
    assert metrics["requests"]["purchase"] == 2000
    assert metrics["outcomes"]["confirmed"] == 100
    assert metrics["outcomes"]["sold_out"] == 1900


def test_a_repeat_buyer_gets_409_with_the_same_order_even_after_sell_out(start_server):
    server = start_server(workers=2, env={"FLASHSALE_STOCK": "2"})
    buy = lambda user: requests.post(  # noqa: E731
        f"{server.url}/flash-sale/purchase", json={"userId": user}, timeout=10
    )
    first = buy("ann")
    assert first.status_code == 201
    again = buy("ann")
    assert again.status_code == 409
    assert again.json()["outcome"] == "already_purchased"
    assert again.json()["orderId"] == first.json()["orderId"]

    assert buy("bob").status_code == 201
    assert buy("cyd").status_code == 410
    after_sell_out = buy("ann")
    assert after_sell_out.status_code == 409
    assert after_sell_out.json()["orderId"] == first.json()["orderId"]

    lookup = requests.get(f"{server.url}/flash-sale/purchase/ann", timeout=5)
    assert lookup.status_code == 200
    assert lookup.json()["orderId"] == first.json()["orderId"]
    assert requests.get(f"{server.url}/flash-sale/purchase/cyd", timeout=5).status_code == 404


@pytest.mark.slow
def test_ten_users_sending_a_dozen_simultaneous_attempts_get_one_sale_each(start_server):
    # The rate limit (10 a minute) would refuse two of the twelve: this is about the sale.
    server = start_server(
        workers=4, env={"FLASHSALE_STOCK": "100", "FLASHSALE_RATE_LIMIT": "50", **PATIENT}
    )
    users = [f"eager-{i}" for i in range(10) for _ in range(12)]

    answers = burst(server.url, users, processes=4)

    assert Counter(a.status for a in answers) == {201: 10, 409: 110}
    orders = {a.user_id: a.body["orderId"] for a in answers if a.status == 201}
    assert len(orders) == 10
    for answer in answers:
        assert answer.body["orderId"] == orders[answer.user_id]
    assert journal_orders(server.db_path) == orders
    assert server.status()["sold"] == 10


def test_purchases_are_granted_in_arrival_order(start_server):
    server = start_server(workers=4, env={"FLASHSALE_STOCK": "50", **PATIENT})
    with requests.Session() as session:
        positions = [
            session.post(
                f"{server.url}/flash-sale/purchase", json={"userId": f"queue-{i}"}, timeout=10
            ).json()["position"]
            for i in range(50)
        ]
    assert positions == list(range(1, 51))
