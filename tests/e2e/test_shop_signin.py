"""The shopper's page in jwt mode (FLASHSALE_AUTH=jwt), in a real browser against a real server.

The shop's login is played by PyJWT: it mints the HS256 token the server verifies,
and hands it to the page as a `#token=` link or the shop's cookie.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import requests

from tests.e2e.conftest import PHONE, screenshot

pytestmark = pytest.mark.browser

JWT_SECRET = "e2e-shop-login-secret-of-40-characters!!"
JWT_ENV = {"FLASHSALE_STOCK": "5", "FLASHSALE_AUTH": "jwt", "FLASHSALE_JWT_SECRET": JWT_SECRET}


def mint(sub: str, expires_in_s: int = 600) -> str:
    """The token the shop's login would sign for `sub`."""
    claims = {"sub": sub, "exp": int(time.time()) + expires_in_s}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def expect_api() -> Any:
    from playwright.sync_api import expect

    return expect


def fits_the_width(page: Any) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_signed_in_shopper_buys_and_looks_up_the_order(
    start_server: Callable[..., Any], open_page: Callable[..., Any]
) -> None:
    expect = expect_api()
    server = start_server(JWT_ENV)
    token = mint("alice")
    page = open_page(f"{server.url}/#token={token}")
    shopper = page.get_by_test_id("shopper")
    expect(shopper).to_have_attribute("data-state", "signed_in")
    expect(shopper).to_have_text("Signed in as alice")
    # Taken from the link, and out of the address bar: not bookmarked, not shared.
    assert token not in page.url
    assert page.url == f"{server.url}/"
    expect(page.get_by_role("textbox")).to_have_count(0)
    expect(page.get_by_test_id("stock-remaining")).to_have_text("5")

    page.get_by_role("button", name="Buy now").click()
    outcome = page.get_by_test_id("purchase-outcome")
    expect(outcome).to_have_attribute("data-kind", "confirmed")
    expect(outcome).to_contain_text("Order confirmed!")
    mine = requests.get(
        f"{server.url}/flash-sale/purchase/me",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert mine.status_code == 200, mine.text
    order = mine.json()
    assert order["userId"] == "alice"
    expect(outcome).to_contain_text(order["orderId"])
    expect(page.get_by_test_id("stock-remaining")).to_have_text("4")

    page.get_by_role("button", name="Look up my order").click()
    lookup = page.get_by_test_id("lookup-result")
    expect(lookup).to_contain_text("Order found")
    expect(lookup).to_contain_text(order["orderId"])
    assert fits_the_width(page)
    screenshot(page, "shop-signed-in")

    # The sign-in lasts for the tab (sessionStorage), not for the address.
    page.reload()
    expect(shopper).to_have_text("Signed in as alice")

    phone = open_page(f"{server.url}/#token={mint('bea')}", viewport=PHONE)
    expect(phone.get_by_test_id("shopper")).to_have_text("Signed in as bea")
    expect(phone.get_by_test_id("stock-remaining")).to_have_text("4")
    assert fits_the_width(phone)
    screenshot(phone, "shop-signed-in-phone")


def test_without_a_valid_token_the_page_asks_to_sign_in(
    start_server: Callable[..., Any], open_page: Callable[..., Any]
) -> None:
    expect = expect_api()
    server = start_server(JWT_ENV)
    page = open_page(f"{server.url}/")
    shopper = page.get_by_test_id("shopper")
    expect(shopper).to_have_attribute("data-state", "missing")
    expect(shopper).to_contain_text("Sign in to the shop to buy")
    expect(page.get_by_role("button", name="Buy now")).to_be_disabled()
    expect(page.get_by_role("textbox")).to_have_count(0)
    screenshot(page, "shop-signed-out")

    # The shop's login sets its cookie (the one the status names): the page takes it.
    auth = requests.get(f"{server.url}/flash-sale/status", timeout=5).json()["auth"]
    assert auth == {"mode": "jwt", "tokenCookie": "flashsale_token"}
    cookie = {"name": auth["tokenCookie"], "value": mint("carl"), "url": server.url}
    page.context.add_cookies([cookie])
    page.reload()
    expect(shopper).to_have_text("Signed in as carl")
    page.get_by_role("button", name="Buy now").click()
    expect(page.get_by_test_id("purchase-outcome")).to_have_attribute("data-kind", "confirmed")

    expired = open_page(f"{server.url}/#token={mint('dora', expires_in_s=-120)}")
    expect(expired.get_by_test_id("shopper")).to_have_attribute("data-state", "expired")
    expect(expired.get_by_test_id("shopper")).to_contain_text("Your sign-in has expired")
    expect(expired.get_by_role("button", name="Buy now")).to_be_disabled()
