"""Checkout holds and the waitlist against a real server (in both engines): a hold,
its confirm (twice, and with another paymentRef), a cancel that offers the unit to the
first on the waitlist, the offered hold's token read with the waitlist token, wrong
tokens, and a hold that expires by the allocator's clock."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import pytest
import requests

from stress.servers.webhook_receiver import WebhookReceiver
from tests.support.engines import ENGINES, engine_settings
from tests.support.sales import admin_headers, start_next_sale
from tests.support.server import running_server, wait_until
from tests.support.webhooks import SECRET, outbox_rows, redis_outbox_rows, webhook_env

ADMIN_TOKEN = "admin-token-for-checkout"
SHOP_TOKEN = "shop-token-for-checkout"
TIMEOUT_S = 10


def _buy(url: str, user: str) -> requests.Response:
    return requests.post(f"{url}/flash-sale/purchase", json={"userId": user}, timeout=TIMEOUT_S)


def _order(url: str, order_id: str, action: str, token: str, **body: Any) -> requests.Response:
    return requests.post(
        f"{url}/flash-sale/orders/{order_id}/{action}",
        json=body or None,
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT_S,
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_holds_confirm_cancel_waitlist_and_expiry(tmp_path, engine: str) -> None:
    env = {"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN, "FLASHSALE_CHECKOUT_TOKEN": SHOP_TOKEN}
    with (
        engine_settings(engine, tmp_path) as (engine_env, _),
        running_server(tmp_path / "j.db", workers=2, env=env | engine_env) as server,
    ):
        url = server.url
        sale = start_next_sale(
            url, ADMIN_TOKEN, stock=2, checkout={"holdSeconds": 5, "extendSeconds": 5}
        )
        assert sale["checkout"] == {"holdSeconds": 5, "extendSeconds": 5}
        a, b = _buy(url, "alice"), _buy(url, "bob")
        assert a.status_code == b.status_code == 201, (a.text, b.text)
        held = a.json()
        assert held["outcome"] == "held" and held["checkoutToken"] and held["expiresAt"]
        late = _buy(url, "carol")
        assert late.status_code == 410, late.text
        assert late.json()["held"] == 2
        # Holds are sales to the allocator's figures (a hold's row is not an order's).
        health = server.health()
        assert health is not None and health["allocator"]["salesPerCommit"] > 0, health
        assert late.json()["waitlist"] == {"open": True, "length": 0}

        joined = requests.post(
            f"{url}/flash-sale/waitlist", json={"userId": "carol"}, timeout=TIMEOUT_S
        )
        assert joined.status_code == 201, joined.text
        entry = joined.json()
        assert entry["place"] == 1 and entry["state"] == "waiting"
        again = requests.post(
            f"{url}/flash-sale/waitlist", json={"userId": "carol"}, timeout=TIMEOUT_S
        )
        assert again.status_code == 200 and again.json()["place"] == 1

        # Wrong and missing tokens change nothing.
        assert _order(url, held["orderId"], "confirm", "x" * 43, paymentRef="p1").status_code == 401
        missing = requests.post(
            f"{url}/flash-sale/orders/{held['orderId']}/confirm",
            json={"paymentRef": "p1"},
            timeout=TIMEOUT_S,
        )
        assert missing.status_code == 401 and "WWW-Authenticate" in missing.headers

        token = held["checkoutToken"]
        confirmed = _order(url, held["orderId"], "confirm", token, paymentRef="pay-1")
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["state"] == "confirmed"
        same = _order(url, held["orderId"], "confirm", token, paymentRef="pay-1")
        assert same.status_code == 200 and same.json()["paymentRef"] == "pay-1"
        other = _order(url, held["orderId"], "confirm", SHOP_TOKEN, paymentRef="pay-2")
        assert other.status_code == 409 and other.json()["type"] == "/problems/payment-ref-mismatch"

        bob = b.json()
        extended = _order(url, bob["orderId"], "extend", bob["checkoutToken"])
        assert extended.status_code == 200 and extended.json()["extended"] is True
        twice = _order(url, bob["orderId"], "extend", bob["checkoutToken"])
        assert twice.status_code == 409
        assert twice.json()["type"] == "/problems/hold-already-extended"
        cancelled = _order(url, bob["orderId"], "cancel", bob["checkoutToken"])
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        late_confirm = _order(url, bob["orderId"], "confirm", bob["checkoutToken"], paymentRef="b")
        assert late_confirm.status_code == 409
        assert late_confirm.json()["refundRequired"] is True

        # The unit went to carol, first on the waitlist, as a new hold.
        waitlist_auth = {"Authorization": f"Bearer {entry['waitlistToken']}"}
        seen = requests.get(
            f"{url}/flash-sale/waitlist/{held['sku']}", headers=waitlist_auth, timeout=TIMEOUT_S
        )
        assert seen.status_code == 200, seen.text
        offered = seen.json()
        assert offered["state"] == "offered" and offered["hold"]["state"] == "held"
        look = requests.get(f"{url}/flash-sale/purchase/carol", timeout=TIMEOUT_S).json()
        assert look["orders"][0]["state"] == "held"
        assert look["waitlist"][0]["state"] == "offered"

        # Carol never pays: her hold expires by the allocator's clock; the unit is free again.
        def expired() -> bool:
            status = requests.get(f"{url}/flash-sale/status", timeout=TIMEOUT_S).json()
            return bool(status["remaining"] == 1)

        wait_until(expired, timeout_s=30, message="carol's hold never expired")
        look = requests.get(f"{url}/flash-sale/purchase/carol", timeout=TIMEOUT_S).json()
        assert look["orders"][0]["state"] == "expired"
        # Her late confirm takes the free unit back.
        back = _order(
            url, offered["orderId"], "confirm", offered["hold"]["checkoutToken"], paymentRef="c"
        )
        assert back.status_code == 200, back.text
        assert back.json()["state"] == "confirmed"


def _sold_in_admin_list(url: str, sale_id: int) -> int:
    """The sale's sold count as the admin's list of sales reads it from the journal."""
    listed = requests.get(
        f"{url}/flash-sale/admin/sales", headers=admin_headers(ADMIN_TOKEN), timeout=TIMEOUT_S
    ).json()["sales"]
    (sale,) = [s for s in listed if s["saleId"] == sale_id]
    return int(sale["sold"])


@pytest.mark.parametrize("engine", ENGINES)
def test_each_hold_event_reaches_the_receiver_in_order_per_order(tmp_path, engine: str) -> None:
    """Held, sold out, cancelled, offered, confirmed, expired, held and sold out again:
    each event in the outbox (the journal's table, or Redis's stream) in decision order,
    and each delivered signed, each order's in its order."""
    env = {"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN, **webhook_env("")}
    with (
        engine_settings(engine, tmp_path) as (engine_env, redis),
        WebhookReceiver(SECRET) as receiver,
    ):
        env["FLASHSALE_WEBHOOK_URL"] = receiver.url
        with running_server(tmp_path / "j.db", workers=2, env=env | engine_env) as server:
            url = server.url
            sale = start_next_sale(
                url, ADMIN_TOKEN, stock=2, checkout={"holdSeconds": 5, "extendSeconds": 0}
            )
            ann, bob = _buy(url, "ann").json(), _buy(url, "bob").json()
            assert ann["outcome"] == bob["outcome"] == "held"
            joined = requests.post(
                f"{url}/flash-sale/waitlist", json={"userId": "cat"}, timeout=TIMEOUT_S
            )
            assert joined.status_code == 201, joined.text
            cancel = _order(url, bob["orderId"], "cancel", bob["checkoutToken"])
            assert cancel.status_code == 200, cancel.text
            confirm = _order(url, ann["orderId"], "confirm", ann["checkoutToken"], paymentRef="p")
            assert confirm.status_code == 200, confirm.text

            # Cat's offered hold is never paid: it expires, and the unit goes back to stock.
            wait_until(
                lambda: (
                    requests.get(f"{url}/flash-sale/status", timeout=TIMEOUT_S).json()["remaining"]
                    == 1
                ),
                timeout_s=30,
                message="cat's offered hold never expired",
            )
            assert _sold_in_admin_list(url, sale["saleId"]) == 1  # live units, not slots
            dan = _buy(url, "dan").json()
            assert dan["outcome"] == "held"
            assert _sold_in_admin_list(url, sale["saleId"]) == 2

            rows = outbox_rows(server.db_path) if redis is None else redis_outbox_rows(redis.url)
            outbox = [row for row in rows if row["sale_id"] == sale["saleId"]]
            cat_order = next(
                json.loads(row["payload"])["data"]["orderId"]
                for row in outbox
                if row["type"] == "waitlist.offered"
            )
            assert [(row["type"], row["order_id"]) for row in outbox] == [
                ("order.held", ann["orderId"]),
                ("order.held", bob["orderId"]),
                ("sale.sold_out", None),
                ("order.cancelled", bob["orderId"]),
                ("order.held", cat_order),
                ("waitlist.offered", cat_order),
                ("order.confirmed", ann["orderId"]),
                ("order.expired", cat_order),
                ("order.held", dan["orderId"]),
                ("sale.sold_out", None),
            ]
            ids = {row["event_id"] for row in outbox}
            wait_until(
                lambda: ids <= {a.webhook_id for a in receiver.received()},
                timeout_s=60,
                message="every event of the sale delivered",
            )
            arrived = [a for a in receiver.received() if a.webhook_id in ids]
            assert len(arrived) == len(ids)
            assert receiver.counts.get("forged", 0) == receiver.counts.get("stale", 0) == 0
            seq_of = {row["event_id"]: row["seq"] for row in outbox}
            lanes: dict[str, list[int]] = {}
            for arrival in arrived:
                if "orderId" in arrival.data:
                    lanes.setdefault(arrival.data["orderId"], []).append(seq_of[arrival.webhook_id])
            assert all(seqs == sorted(seqs) for seqs in lanes.values()), lanes
            confirmed = next(a for a in arrived if a.type == "order.confirmed")
            assert confirmed.data["paymentRef"] == "p"
            offered = next(a for a in arrived if a.type == "waitlist.offered")
            assert offered.data["userId"] == "cat" and offered.data["place"] == 1
            # The same payload in both engines: events.py's fields, in its order.
            held = next(a for a in arrived if a.type == "order.held")
            assert list(held.data) == [
                "orderId",
                "saleId",
                "userId",
                "sku",
                "position",
                "purchasedAt",
                "state",
                "expiresAt",
            ]
            assert held.data["saleId"] == sale["saleId"] and held.data["state"] == "held"
            assert list(offered.data) == [
                "orderId",
                "saleId",
                "userId",
                "sku",
                "place",
                "expiresAt",
            ]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_sold_out_checkout_sale_answers_from_shared_memory(tmp_path, engine: str) -> None:
    """Every product held or paid for: a burst's later shoppers are told sold out (410)
    and a holder that asks again 409, without the allocator (frozen here), as a sale
    without holds is answered; a released order does not count against its buyer."""
    env = {"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN}
    with (
        engine_settings(engine, tmp_path) as (engine_env, _),
        running_server(tmp_path / "j.db", workers=2, env=env | engine_env) as server,
    ):
        url = server.url
        start_next_sale(url, ADMIN_TOKEN, stock=2, checkout={"holdSeconds": 600})
        first = _buy(url, "dora")
        assert first.status_code == 201, first.text
        assert _order(url, first.json()["orderId"], "cancel", first.json()["checkoutToken"])
        held = [_buy(url, user) for user in ("ed", "fay")]
        assert [h.status_code for h in held] == [201, 201], [h.text for h in held]
        wait_until(
            lambda: (
                requests.get(f"{url}/flash-sale/status", timeout=TIMEOUT_S).json()["state"]
                == "sold_out"
            ),
            30,
            message="the sale sold out",
        )
        allocator = server.allocator_pid()
        os.kill(allocator, signal.SIGSTOP)
        try:
            late = [_buy(url, f"late-{i}") for i in range(20)]
            assert {answer.status_code for answer in late} == {410}, late[0].text
            assert late[0].json()["held"] == 2
            again = _buy(url, "ed")
            assert again.status_code == 409, again.text
            assert again.json()["orderId"] == held[0].json()["orderId"]
            # dora's cancelled order is not hers any more: the product is sold out to her.
            released = _buy(url, "dora")
            assert released.status_code == 410, released.text
        finally:
            os.kill(allocator, signal.SIGCONT)
