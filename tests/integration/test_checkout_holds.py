"""Checkout holds and the waitlist against a real server (the SQLite engine): a hold,
its confirm (twice, and with another paymentRef), a cancel that offers the unit to the
first on the waitlist, the offered hold's token read with the waitlist token, wrong
tokens, and a hold that expires by the allocator's clock."""

from __future__ import annotations

from typing import Any

import requests

from tests.support.sales import start_next_sale
from tests.support.server import running_server, wait_until

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


def test_holds_confirm_cancel_waitlist_and_expiry(tmp_path) -> None:
    env = {"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN, "FLASHSALE_CHECKOUT_TOKEN": SHOP_TOKEN}
    with running_server(tmp_path / "j.db", workers=2, env=env) as server:
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
