"""A sale with checkout holds in a real browser against a real server: shopper A wins a
held unit, sees it count down and pays (confirmed); shopper B wins the last unit;
shopper C, on a page of their own, finds it sold out and joins the waitlist; B's hold
expires and C's page shows the unit offered to C as a hold, which C pays for. The
dashboard then counts the confirmed and expired units and shows the webhook backlog.

Screenshots at desktop and phone width go to tests/e2e/artifacts/ (and to
FLASHSALE_CHECKOUT_SHOTS, when set, for review).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import DESKTOP, PHONE, screenshot
from tests.support.admin import Admin

pytestmark = pytest.mark.browser

ADMIN_TOKEN = "e2e-admin-token-of-some-length"
# A hold long enough for the browser to act on it before it expires (holdSeconds 1..86400).
HOLD_S = 5
# Nothing listens there: the sender keeps the events and retries, which the dashboard shows.
WEBHOOK_ENV = {
    "FLASHSALE_WEBHOOK_URL": "http://127.0.0.1:9/hooks",
    "FLASHSALE_WEBHOOK_SECRET": "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}


def expect_api() -> Any:
    from playwright.sync_api import expect

    return expect


def shot(page: Any, name: str) -> None:
    path = screenshot(page, name)
    folder = os.environ.get("FLASHSALE_CHECKOUT_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(folder) / path.name)


def buy(page: Any, user_id: str) -> None:
    page.get_by_test_id("buy-user-id").fill(user_id)
    page.get_by_test_id("buy-button").click()


def test_holds_pay_expire_and_go_to_the_waitlist(
    start_server: Callable[..., Any], open_page: Callable[..., Any]
) -> None:
    expect = expect_api()
    server = start_server(env={"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN, **WEBHOOK_ENV})
    sale = Admin(server.url, ADMIN_TOKEN).fresh_sale(
        {"stock": 2, "checkout": {"holdSeconds": HOLD_S, "extendSeconds": 0}}
    )
    assert sale["checkout"] == {"holdSeconds": HOLD_S, "extendSeconds": 0}

    # A wins a held unit: it counts down, and A pays before it runs out.
    alice = open_page(f"{server.url}/", viewport=DESKTOP)
    buy(alice, "alice")
    hold = alice.get_by_test_id("hold")
    expect(hold).to_have_attribute("data-kind", "held")
    expect(hold).to_contain_text(re.compile(r"Held for you, 0:0[1-5] left"))
    shot(alice, "checkout-held-desktop")
    alice.get_by_test_id("pay-button").click()
    expect(hold).to_have_attribute("data-kind", "confirmed")
    expect(hold).to_contain_text(re.compile(r"confirmed \(payment demo-[0-9a-f]{12}\)"))
    shot(alice, "checkout-confirmed-desktop")

    # B wins the last unit and does not pay.
    bob = open_page(f"{server.url}/", viewport=DESKTOP)
    buy(bob, "bob")
    expect(bob.get_by_test_id("hold")).to_have_attribute("data-kind", "held")

    # C finds it sold out while B's hold is outstanding, and joins the waitlist.
    carol = open_page(f"{server.url}/", viewport=PHONE)
    buy(carol, "carol")
    expect(carol.get_by_test_id("purchase-outcome")).to_contain_text("Join the waitlist")
    carol.get_by_test_id("join-waitlist").click()
    expect(carol.get_by_test_id("waitlist")).to_contain_text("You are number 1 on the waitlist")
    shot(carol, "checkout-waitlist-phone")

    # B's hold runs out: B's page says so, and C's page shows the unit held for C.
    expect(bob.get_by_test_id("hold")).to_have_attribute("data-kind", "expired")
    expect(bob.get_by_test_id("hold")).to_contain_text(
        "Your hold expired; the unit went to the next shopper"
    )
    shot(bob, "checkout-expired-desktop")
    offered = carol.get_by_test_id("hold")
    expect(offered).to_have_attribute("data-kind", "held", timeout=HOLD_S * 1000 + 5000)
    expect(offered).to_contain_text("A unit came back")
    shot(carol, "checkout-offered-phone")
    carol.get_by_test_id("pay-button").click()
    expect(offered).to_have_attribute("data-kind", "confirmed")

    # The server agrees: alice's and carol's orders confirmed, bob's expired.
    states = {}
    for user in ("alice", "bob", "carol"):
        found = requests.get(f"{server.url}/flash-sale/purchase/{user}", timeout=5).json()
        states[user] = [order["state"] for order in found["orders"]]
    assert states == {"alice": ["confirmed"], "bob": ["expired"], "carol": ["confirmed"]}

    # The dashboard: no unit held, two confirmed, and the webhook events not delivered.
    dashboard = open_page(f"{server.url}/dashboard", viewport=DESKTOP)
    expect(dashboard.get_by_test_id("tile-checkout-value")).to_have_text("0 held")
    expect(dashboard.get_by_test_id("tile-checkout")).to_contain_text("2 confirmed")
    expect(dashboard.get_by_test_id("tile-checkout-expired")).to_have_text("1 expired")
    expect(dashboard.get_by_test_id("tile-checkout-cancelled")).to_have_text("0 cancelled")
    expect(dashboard.get_by_test_id("tile-checkout")).to_contain_text("1 unit re-offered")
    expect(dashboard.get_by_test_id("tile-webhooks-value")).to_contain_text("queued")
    shot(dashboard, "checkout-dashboard-desktop")
    dashboard.set_viewport_size(PHONE)
    shot(dashboard, "checkout-dashboard-phone")
