"""A sale of several products (sizes) in a real browser against a real server.

The server's first sale comes from a catalogue file (FLASHSALE_CATALOGUE_FILE) of
three sizes; one is sold out by requests before the page is used. The shopper
picks a size, buys it, and is told which; the sold-out size cannot be chosen, and
the dashboard shows the stock of each size.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import publish_for_docs, screenshot

pytestmark = pytest.mark.browser

SIZES = [
    {
        "sku": "sneaker-41",
        "name": "Trail sneaker, EU 41",
        "description": "Grippy sole, recycled mesh.",
        "priceCents": 8900,
        "currency": "EUR",
        "imageUrl": "/flash-sale/images/sneaker.svg",
        "stock": 1,
    },
    {
        "sku": "sneaker-42",
        "name": "Trail sneaker, EU 42",
        "description": "Grippy sole, recycled mesh.",
        "priceCents": 8900,
        "currency": "EUR",
        "imageUrl": "/flash-sale/images/sneaker.svg",
        "stock": 4,
    },
    {
        "sku": "sneaker-43",
        "name": "Trail sneaker, EU 43",
        "description": "Grippy sole, recycled mesh, a wider last.",
        "priceCents": 9400,
        "currency": "EUR",
        "imageUrl": None,
        "stock": 6,
    },
]


def expect_api() -> Any:
    from playwright.sync_api import expect

    return expect


def buy(base_url: str, user_id: str, sku: str) -> requests.Response:
    return requests.post(
        f"{base_url}/flash-sale/purchase", json={"userId": user_id, "sku": sku}, timeout=10
    )


@pytest.fixture
def sizes_server(start_server: Callable[..., Any], tmp_path: Path) -> Any:
    """A server whose first sale is SIZES, with EU 41 (its one pair) sold already."""
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text(json.dumps({"products": SIZES}), encoding="utf-8")
    server = start_server({"FLASHSALE_CATALOGUE_FILE": str(catalogue)})
    status = requests.get(f"{server.url}/flash-sale/status", timeout=5).json()
    assert [product["sku"] for product in status["products"]] == [s["sku"] for s in SIZES]
    sold = buy(server.url, "early-bird", "sneaker-41")
    assert sold.status_code == 201, sold.text
    assert sold.json()["sku"] == "sneaker-41"
    return server


def test_pick_a_size_buy_it_and_see_the_sold_out_size_disabled(
    sizes_server: Any, open_page: Callable[..., Any]
) -> None:
    expect = expect_api()
    server = sizes_server
    page = open_page(server.url + "/")
    picker = page.get_by_role("group", name="Choose one")
    expect(picker.get_by_role("radio")).to_have_count(3)
    expect(page.get_by_test_id("stock-freshness")).to_have_attribute("data-mode", "live")

    sold_out = page.get_by_role("radio", name="Trail sneaker, EU 41")
    expect(sold_out).to_be_disabled()
    expect(page.get_by_test_id("option-sneaker-41")).to_contain_text("Sold out")
    expect(page.get_by_test_id("option-sneaker-42")).to_contain_text("€89.00")
    expect(page.get_by_test_id("option-sneaker-42-stock")).to_have_text("4 left")
    expect(page.get_by_test_id("option-sneaker-43")).to_contain_text("€94.00")
    # Nothing is chosen for the shopper: Buy waits for a size.
    buy_button = page.get_by_role("button", name="Buy now")
    expect(buy_button).to_be_disabled()
    expect(page.get_by_test_id("buy-hint")).to_contain_text("Choose one above first.")

    page.get_by_test_id("option-sneaker-42").click()
    expect(page.get_by_role("radio", name="Trail sneaker, EU 42")).to_be_checked()
    expect(page.get_by_role("heading", level=1)).to_have_text("Trail sneaker, EU 42")
    expect(page.get_by_test_id("product-price")).to_have_text("€89.00")
    picture = page.get_by_role("img", name="Trail sneaker, EU 42")
    expect(picture).to_have_attribute("src", "/flash-sale/images/sneaker.svg")
    assert picture.evaluate("image => image.complete && image.naturalWidth > 0"), "no picture"
    publish_for_docs(screenshot(page, "shop-products-chosen"), "shop-sizes.png")

    # Another shopper's purchase of the same size is pushed to the page, the choice kept.
    assert buy(server.url, "zoe", "sneaker-42").status_code == 201
    expect(page.get_by_test_id("option-sneaker-42-stock")).to_have_text("3 left")
    expect(page.get_by_role("radio", name="Trail sneaker, EU 42")).to_be_checked()

    page.get_by_label("Your user id").fill("alice")
    with page.expect_request(
        lambda request: request.url.endswith("/flash-sale/purchase") and request.method == "POST"
    ) as sent:
        buy_button.click()
    assert json.loads(sent.value.post_data or "{}") == {"userId": "alice", "sku": "sneaker-42"}
    outcome = page.get_by_test_id("purchase-outcome")
    expect(outcome).to_have_attribute("data-kind", "confirmed")
    expect(outcome).to_contain_text("Order confirmed!")
    expect(outcome).to_contain_text("Trail sneaker, EU 42 is yours")
    order = requests.get(f"{server.url}/flash-sale/purchase/alice", timeout=5).json()
    assert order["sku"] == "sneaker-42"
    expect(outcome).to_contain_text(order["orderId"])
    expect(page.get_by_test_id("option-sneaker-42-stock")).to_have_text("2 left")
    expect(sold_out).to_be_disabled()

    page.get_by_role("button", name="Look up").click()
    lookup = page.get_by_test_id("lookup-result")
    expect(lookup).to_contain_text("Order found")
    expect(lookup.get_by_test_id("lookup-product")).to_have_text("Trail sneaker, EU 42")
    screenshot(page, "shop-products-confirmed")

    # The size without a picture shows the placeholder, not a broken image.
    page.get_by_test_id("option-sneaker-43").click()
    expect(page.get_by_test_id("product-image-placeholder")).to_be_visible()
    expect(page.get_by_test_id("product-price")).to_have_text("€94.00")


def test_dashboard_shows_the_stock_of_each_size(
    sizes_server: Any, open_page: Callable[..., Any]
) -> None:
    expect = expect_api()
    page = open_page(sizes_server.url + "/dashboard")
    expect(page.get_by_test_id("tile-stock-value")).to_have_text("10 / 11")
    table = page.get_by_test_id("product-stock-table")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(page.get_by_test_id("product-stock-sneaker-41")).to_contain_text("1 / 1")
    expect(page.get_by_test_id("product-stock-sneaker-41-remaining")).to_have_text("0 · sold out")
    expect(page.get_by_test_id("product-stock-sneaker-43-remaining")).to_have_text("6")

    assert buy(sizes_server.url, "zoe", "sneaker-43").status_code == 201
    expect(page.get_by_test_id("product-stock-sneaker-43-remaining")).to_have_text("5")
    screenshot(page, "dashboard-products")
