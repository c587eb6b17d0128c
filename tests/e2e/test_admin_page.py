"""The admin page in a real browser against a real server: the operator signs in,
makes a sale of two products (replacing the server's first one), pauses it (a
shopper's page, open beside it, says so at once and holds Buy), resumes it, ends
it, and downloads the orders' CSV with the one order bought through the API.

Screenshots of the admin page and of the paused shop, at desktop and phone width,
go to tests/e2e/artifacts/ (and FLASHSALE_ADMIN_SHOTS, when set, for review).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import PHONE, screenshot

pytestmark = pytest.mark.browser

ADMIN_TOKEN = "e2e-admin-token-of-some-length"
PRODUCTS = [
    ("lumen-lamp", "Lumen Desk Lamp", "29.90", "40"),
    ("aurora-anc", "Aurora ANC Headphones", "49.00", "60"),
]


def expect_api() -> Any:
    from playwright.sync_api import expect

    return expect


def keep(path: Path) -> None:
    """Copy a screenshot where a reviewer asked for them (FLASHSALE_ADMIN_SHOTS)."""
    folder = os.environ.get("FLASHSALE_ADMIN_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(folder) / path.name)


def confirm(page: Any, action: str) -> None:
    """Press `action` on the current sale, then the dialog's own button of that name."""
    expect = expect_api()
    page.get_by_test_id("current-sale").get_by_role("button", name=action, exact=True).click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=action, exact=True).click()
    expect(dialog).to_have_count(0)


def test_the_operator_runs_a_sale_from_the_admin_page(
    start_server: Callable[..., Any], open_page: Callable[..., Any], tmp_path: Path
) -> None:
    expect = expect_api()
    server = start_server(env={"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN})
    admin = open_page(f"{server.url}/admin")

    # A wrong token shows the 401 problem; the right one signs in.
    admin.get_by_label("Admin token").fill("not-the-token")
    admin.get_by_role("button", name="Sign in").click()
    expect(admin.get_by_test_id("sign-in-problem")).to_contain_text("Invalid token")
    admin.get_by_label("Admin token").fill(ADMIN_TOKEN)
    admin.get_by_role("button", name="Sign in").click()
    expect(admin.get_by_test_id("sale-row-1")).to_be_visible()

    # A sale of two products; the server's first sale is in progress: replace it.
    admin.get_by_role("button", name="Add a product").click()
    for index, (sku, name, price, stock) in enumerate(PRODUCTS):
        row = admin.get_by_test_id(f"product-row-{index}")
        row.get_by_label("SKU").fill(sku)
        row.get_by_label("Name").fill(name)
        row.get_by_label("Price").fill(price)
        row.get_by_label("Stock").fill(stock)
    admin.get_by_label("Per-user limit (the sale)").fill("2")
    admin.get_by_role("button", name="Start the sale").click()
    expect(admin.get_by_test_id("sale-refused")).to_contain_text("Sale in progress")
    admin.get_by_role("button", name="Replace it").click()
    expect(admin.get_by_test_id("sale-made")).to_contain_text("Sale 2 made")
    expect(admin.get_by_test_id("sale-row-2")).to_contain_text("Lumen Desk Lamp")
    expect(admin.get_by_test_id("sale-row-1").get_by_test_id("state-badge")).to_have_text("Ended")

    # One unit bought through the API, so the orders (and the CSV) have a row.
    bought = requests.post(
        f"{server.url}/flash-sale/purchase",
        json={"userId": "e2e-alice", "sku": "lumen-lamp"},
        timeout=10,
    )
    assert bought.status_code == 201, bought.text

    # Paused: the shop's page, open beside it, says so and holds Buy.
    shop = open_page(f"{server.url}/")
    expect(shop.get_by_test_id("sale-state")).to_have_attribute("data-state", "open")
    confirm(admin, "Pause")
    current = admin.get_by_test_id("current-sale")
    expect(current.get_by_test_id("state-badge")).to_have_text("Paused")
    expect(shop.get_by_test_id("sale-state")).to_have_attribute("data-state", "paused")
    expect(shop.get_by_test_id("sale-paused-by-organiser")).to_contain_text(
        "The sale is paused by the organiser"
    )
    expect(shop.get_by_test_id("buy-button")).to_be_disabled()
    paused = requests.post(
        f"{server.url}/flash-sale/purchase",
        json={"userId": "e2e-bob", "sku": "aurora-anc"},
        timeout=10,
    )
    assert paused.status_code == 503 and paused.json()["outcome"] == "paused", paused.text
    keep(screenshot(shop, "admin-shop-paused-desktop"))
    phone_shop = open_page(f"{server.url}/", viewport=PHONE)
    expect(phone_shop.get_by_test_id("sale-state")).to_have_attribute("data-state", "paused")
    keep(screenshot(phone_shop, "admin-shop-paused-phone"))

    confirm(admin, "Resume")
    expect(current.get_by_test_id("state-badge")).to_have_text("Open")
    expect(shop.get_by_test_id("sale-state")).to_have_attribute("data-state", "open")

    confirm(admin, "End now")
    expect(current.get_by_test_id("state-badge")).to_have_text("Ended")
    expect(shop.get_by_test_id("sale-state")).to_have_attribute("data-state", "ended")

    # The orders of sale 2, and their CSV.
    admin.get_by_role("button", name="Orders of sale 2").click()
    expect(admin.get_by_test_id("orders-table")).to_contain_text("e2e-alice")
    with admin.expect_download() as download_info:
        admin.get_by_test_id("download-csv").click()
    download = download_info.value
    assert download.suggested_filename == "sale-2-orders.csv"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"), newline="")))
    # A sale without checkout: its order is confirmed, without a payment reference.
    assert [
        (row["userId"], row["sku"], row["position"], row["state"], row["paymentRef"])
        for row in rows
    ] == [("e2e-alice", "lumen-lamp", "1", "confirmed", "")]

    audit = admin.get_by_test_id("audit-table")
    expect(audit).to_contain_text("Replaced")
    expect(audit).to_contain_text("Ended")
    keep(screenshot(admin, "admin-desktop"))

    # The token is kept for its tab only: a new one signs in again.
    phone = open_page(f"{server.url}/admin", viewport=PHONE)
    phone.get_by_label("Admin token").fill(ADMIN_TOKEN)
    phone.get_by_role("button", name="Sign in").click()
    phone.get_by_role("button", name="Orders of sale 2").click()
    expect(phone.get_by_test_id("orders-table")).to_contain_text("e2e-alice")
    keep(screenshot(phone, "admin-phone"))


def test_the_operator_makes_a_checkout_sale_and_sees_its_orders_states(
    start_server: Callable[..., Any], open_page: Callable[..., Any]
) -> None:
    """A sale with a payment window made from the form: the window is in its summary; a
    purchase is a hold, shown Held in the orders panel, and Confirmed with its payment
    reference once paid (read again with the sales, though sold did not move)."""
    expect = expect_api()
    server = start_server(env={"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN})
    admin = open_page(f"{server.url}/admin")
    admin.get_by_label("Admin token").fill(ADMIN_TOKEN)
    admin.get_by_role("button", name="Sign in").click()
    expect(admin.get_by_test_id("sale-row-1")).to_be_visible()

    sku, name, price, stock = PRODUCTS[0]
    row = admin.get_by_test_id("product-row-0")
    row.get_by_label("SKU").fill(sku)
    row.get_by_label("Name").fill(name)
    row.get_by_label("Price").fill(price)
    row.get_by_label("Stock").fill(stock)
    admin.get_by_label("Payment window").fill("10")
    admin.get_by_label("Extension").fill("5")
    admin.get_by_role("button", name="Start the sale").click()
    admin.get_by_role("button", name="Replace it").click()
    expect(admin.get_by_test_id("sale-made")).to_contain_text("Sale 2 made")
    expect(admin.get_by_test_id("made-window")).to_contain_text("10 min, extendable once by 5 min")
    expect(admin.get_by_test_id("current-window")).to_have_text("10 min, extendable once by 5 min")
    sale = requests.get(
        f"{server.url}/flash-sale/admin/sales/2",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    ).json()
    assert sale["checkout"] == {"holdSeconds": 600, "extendSeconds": 300}, sale

    holds = []
    for user in ("e2e-held", "e2e-paid"):
        bought = requests.post(
            f"{server.url}/flash-sale/purchase", json={"userId": user, "sku": sku}, timeout=10
        )
        assert bought.status_code == 201 and bought.json()["outcome"] == "held", bought.text
        holds.append(bought.json())

    panel = admin.get_by_test_id("orders-panel")
    expect(panel.get_by_role("columnheader", name="State")).to_be_visible()
    held_row = panel.locator("tr", has_text="e2e-held")
    expect(held_row.get_by_test_id("order-state")).to_have_text("Held")
    expect(panel.locator("tr", has_text="e2e-paid").get_by_test_id("order-state")).to_have_text(
        "Held"
    )

    paid = requests.post(
        f"{server.url}/flash-sale/orders/{holds[1]['orderId']}/confirm",
        json={"paymentRef": "demo-e2e-1"},
        headers={"Authorization": f"Bearer {holds[1]['checkoutToken']}"},
        timeout=10,
    )
    assert paid.status_code == 200, paid.text
    paid_row = panel.locator("tr", has_text="e2e-paid")
    # The next read of the sales (every 5 s) reads the page again.
    expect(paid_row.get_by_test_id("order-state")).to_have_text("Confirmed")
    expect(paid_row.get_by_test_id("payment-ref")).to_have_text("demo-e2e-1")
    expect(held_row.get_by_test_id("order-state")).to_have_text("Held")
    keep(screenshot(admin, "admin-checkout-desktop"))

    phone = open_page(f"{server.url}/admin", viewport=PHONE)
    phone.get_by_label("Admin token").fill(ADMIN_TOKEN)
    phone.get_by_role("button", name="Sign in").click()
    phone_panel = phone.get_by_test_id("orders-panel")
    expect(
        phone_panel.locator("tr", has_text="e2e-paid").get_by_test_id("order-state")
    ).to_have_text("Confirmed")
    expect(phone_panel.get_by_role("columnheader", name="Payment")).to_be_hidden()
    keep(screenshot(phone, "admin-checkout-phone"))
