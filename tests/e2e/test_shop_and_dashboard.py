"""The web UI in a real browser against a real server: the shopper's page and the dashboard.

Each test starts its own server (stock and start time set by environment), drives
headless chromium, waits for states with Playwright's expect, and saves a
screenshot of each state to tests/e2e/artifacts/.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.e2e.conftest import PHONE, publish_for_docs, screenshot, updating_docs

pytestmark = pytest.mark.browser

MAX_DASHBOARD_REQUESTS = 600


def buy(base_url: str, user_id: str) -> requests.Response:
    return requests.post(f"{base_url}/flash-sale/purchase", json={"userId": user_id}, timeout=10)


def expect_api() -> Any:
    from playwright.sync_api import expect

    return expect


def status_requests(page: Any) -> list[str]:
    """The page's GETs of /flash-sale/status from now on (polls and refreshes)."""
    seen: list[str] = []
    page.on(
        "request",
        lambda request: seen.append(request.url) if "/flash-sale/status" in request.url else None,
    )
    return seen


def test_buy_shows_confirmation_and_stock_drop_then_already_bought(
    start_server: Callable[..., Any], open_page: Callable[..., Any]
) -> None:
    expect = expect_api()
    server = start_server({"FLASHSALE_STOCK": "5"})
    page = open_page(server.url + "/")
    polls = status_requests(page)
    expect(page.get_by_test_id("sale-state")).to_have_attribute("data-state", "open")
    expect(page.get_by_test_id("stock-remaining")).to_have_text("5")
    expect(page.get_by_test_id("stock-total")).to_have_text("5")
    freshness = page.get_by_test_id("stock-freshness")
    expect(freshness).to_have_attribute("data-mode", "live")
    expect(freshness).to_have_text("Stock: Live updates")
    screenshot(page, "shop-open")

    # Another shopper's purchase is pushed to the page: no reload, and no poll.
    assert buy(server.url, "zoe").status_code == 201
    expect(page.get_by_test_id("stock-remaining")).to_have_text("4")
    assert polls == [], "a live page polled the status"

    page.get_by_label("Your user id").fill("alice")
    # The shopper's own purchase is asked for at once, not left to the stream.
    with page.expect_request(lambda request: "/flash-sale/status" in request.url):
        page.get_by_role("button", name="Buy now").click()
    outcome = page.get_by_test_id("purchase-outcome")
    expect(outcome).to_have_attribute("data-kind", "confirmed")
    expect(outcome).to_contain_text("Order confirmed!")
    order = requests.get(f"{server.url}/flash-sale/purchase/alice", timeout=5).json()
    expect(outcome).to_contain_text(order["orderId"])
    expect(outcome).to_contain_text(f"number {order['position']} in line")
    expect(page.get_by_test_id("stock-remaining")).to_have_text("3")
    expect(page.get_by_role("progressbar", name="Items left")).to_have_attribute(
        "aria-valuenow", "3"
    )
    assert len(polls) == 1, "a live page polled the status"
    expect(freshness).to_have_attribute("data-mode", "live")
    artifact = screenshot(page, "shop-confirmed")
    publish_for_docs(artifact, "shop.png")

    page.get_by_role("button", name="Buy now").click()
    expect(outcome).to_have_attribute("data-kind", "already_purchased")
    expect(outcome).to_contain_text("You already bought this item")
    expect(outcome).to_contain_text(order["orderId"])
    expect(page.get_by_test_id("stock-remaining")).to_have_text("3")
    screenshot(page, "shop-already-bought")

    page.get_by_label("User id to look up").fill("alice")
    page.get_by_role("button", name="Look up").click()
    lookup = page.get_by_test_id("lookup-result")
    expect(lookup).to_contain_text("Order found")
    expect(lookup).to_contain_text(order["orderId"])
    page.get_by_label("User id to look up").fill("nobody")
    page.get_by_role("button", name="Look up").click()
    expect(lookup).to_contain_text("No order yet")
    screenshot(page, "shop-lookup")


def test_refused_stream_falls_back_to_polling(
    start_server: Callable[..., Any], open_page: Callable[..., Any]
) -> None:
    expect = expect_api()
    server = start_server({"FLASHSALE_STOCK": "5", "FLASHSALE_MAX_EVENT_STREAMS": "0"})
    page = open_page(server.url + "/")
    freshness = page.get_by_test_id("stock-freshness")
    expect(freshness).to_have_attribute("data-mode", "polling")
    expect(freshness).to_have_text("Stock: Updating every second")
    expect(page.get_by_test_id("stock-remaining")).to_have_text("5")
    # While nothing changes, the poll costs the server a 304 without a body.
    with page.expect_response(
        lambda response: response.url.endswith("/flash-sale/status") and response.status == 304,
        timeout=10_000,
    ) as answer:
        pass  # the next poll, a second away at most
    unchanged = answer.value
    sent_tag = unchanged.request.headers.get("if-none-match")
    assert sent_tag
    assert sent_tag == unchanged.headers.get("etag")
    screenshot(page, "shop-polling")

    assert buy(server.url, "zoe").status_code == 201
    expect(page.get_by_test_id("stock-remaining")).to_have_text("4")
    expect(freshness).to_have_attribute("data-mode", "polling")

    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_test_id("tile-stock-value")).to_have_text("4 / 5")
    expect(page.get_by_test_id("stock-freshness")).to_have_attribute("data-mode", "polling")


def test_sell_out_shows_sold_out_state(
    start_server: Callable[..., Any], open_page: Callable[..., Any]
) -> None:
    expect = expect_api()
    server = start_server({"FLASHSALE_STOCK": "3"})
    page = open_page(server.url + "/")
    expect(page.get_by_test_id("stock-remaining")).to_have_text("3")
    for user_id in ("u1", "u2"):
        assert buy(server.url, user_id).status_code == 201
    expect(page.get_by_test_id("stock-remaining")).to_have_text("1")

    page.get_by_label("Your user id").fill("carol")
    page.get_by_role("button", name="Buy now").click()
    outcome = page.get_by_test_id("purchase-outcome")
    expect(outcome).to_have_attribute("data-kind", "confirmed")
    expect(page.get_by_test_id("sale-state")).to_have_attribute("data-state", "sold_out")
    expect(page.get_by_test_id("stock-remaining")).to_have_text("0")

    page.get_by_label("Your user id").fill("dave")
    page.get_by_role("button", name="Buy now").click()
    expect(outcome).to_have_attribute("data-kind", "sold_out")
    expect(outcome).to_contain_text("Sold out")
    screenshot(page, "shop-sold-out")


def test_rate_limited_shopper_is_told_the_wait(
    start_server: Callable[..., Any], open_page: Callable[..., Any]
) -> None:
    expect = expect_api()
    server = start_server({"FLASHSALE_STOCK": "5"})
    page = open_page(server.url + "/")
    expect(page.get_by_test_id("stock-remaining")).to_have_text("5")
    # Use up the per-user allowance of attempts (10 a minute) outside the page.
    statuses = [buy(server.url, "eager").status_code for _ in range(12)]
    assert statuses[:2] == [201, 409] and statuses[-1] == 429, statuses

    page.get_by_label("Your user id").fill("eager")
    page.get_by_role("button", name="Buy now").click()
    outcome = page.get_by_test_id("purchase-outcome")
    expect(outcome).to_have_attribute("data-kind", "rate_limited")
    expect(outcome).to_contain_text(re.compile(r"Please wait \d+ seconds? before trying again"))
    button = page.get_by_test_id("buy-button")
    expect(button).to_be_disabled()
    expect(button).to_have_text(re.compile(r"^Try again in \d+ s$"))
    screenshot(page, "shop-rate-limited")


def test_countdown_before_the_start_then_open(
    start_server: Callable[..., Any], open_page: Callable[..., Any]
) -> None:
    expect = expect_api()
    starts_at = datetime.now(UTC) + timedelta(seconds=15)
    env = {
        "FLASHSALE_STOCK": "10",
        "FLASHSALE_STARTS_AT": starts_at.isoformat().replace("+00:00", "Z"),
    }
    server = start_server(env)
    page = open_page(server.url + "/")
    expect(page.get_by_test_id("sale-state")).to_have_attribute("data-state", "upcoming")
    countdown = page.get_by_test_id("countdown")
    expect(countdown).to_have_text(re.compile(r"^00:(0\d|1[0-5])$"))
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first)  # it ticks
    screenshot(page, "shop-countdown")

    page.get_by_label("Your user id").fill("early-bird")
    page.get_by_role("button", name="Buy now").click()
    outcome = page.get_by_test_id("purchase-outcome")
    expect(outcome).to_have_attribute("data-kind", "not_started")
    expect(outcome).to_contain_text("has not started yet")
    screenshot(page, "shop-not-started")

    # At zero the page flips to open by itself, and the same button now sells.
    expect(page.get_by_test_id("sale-state")).to_have_attribute(
        "data-state", "open", timeout=30_000
    )
    page.get_by_role("button", name="Buy now").click()
    expect(outcome).to_have_attribute("data-kind", "confirmed")
    expect(page.get_by_test_id("stock-remaining")).to_have_text("9")


def test_ended_sale_says_so(
    start_server: Callable[..., Any], open_page: Callable[..., Any]
) -> None:
    expect = expect_api()
    now = datetime.now(UTC)
    env = {
        "FLASHSALE_STOCK": "10",
        "FLASHSALE_STARTS_AT": (now - timedelta(hours=2)).isoformat(),
        "FLASHSALE_ENDS_AT": (now - timedelta(hours=1)).isoformat(),
    }
    server = start_server(env)
    page = open_page(server.url + "/")
    expect(page.get_by_test_id("sale-state")).to_have_attribute("data-state", "ended")
    expect(page.get_by_test_id("sale-state")).to_contain_text("Sale ended")
    expect(page.get_by_test_id("stock")).to_contain_text("10 of 10 unsold")
    page.get_by_label("Your user id").fill("latecomer")
    page.get_by_role("button", name="Buy now").click()
    outcome = page.get_by_test_id("purchase-outcome")
    expect(outcome).to_have_attribute("data-kind", "ended")
    expect(outcome).to_contain_text("The sale has ended")
    screenshot(page, "shop-ended")


def test_phone_screen_and_keyboard_only(
    start_server: Callable[..., Any], open_page: Callable[..., Any]
) -> None:
    expect = expect_api()
    server = start_server({"FLASHSALE_STOCK": "5"})
    page = open_page(server.url + "/", viewport=PHONE)
    expect(page.get_by_test_id("stock-remaining")).to_have_text("5")
    expect(page.get_by_test_id("stock-freshness")).to_have_attribute("data-mode", "live")
    overflow = page.evaluate(
        "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a phone"

    field = page.get_by_test_id("buy-user-id")
    for _ in range(12):
        page.keyboard.press("Tab")
        if field.evaluate("element => element === document.activeElement"):
            break
    else:
        pytest.fail("the user id field cannot be reached with Tab")
    page.keyboard.type("kim")
    page.keyboard.press("Enter")
    outcome = page.get_by_test_id("purchase-outcome")
    expect(outcome).to_have_attribute("data-kind", "confirmed")
    page.keyboard.press("Tab")
    expect(page.get_by_test_id("buy-button")).to_be_focused()
    page.keyboard.press("Enter")
    expect(outcome).to_have_attribute("data-kind", "already_purchased")
    screenshot(page, "shop-phone")

    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_test_id("tile-health-value")).to_have_text("OK")
    overflow = page.evaluate(
        "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
    )
    assert overflow <= 0, f"the dashboard scrolls sideways by {overflow}px on a phone"
    screenshot(page, "dashboard-phone")


def test_dashboard_figures_move(
    start_server: Callable[..., Any], open_page: Callable[..., Any]
) -> None:
    expect = expect_api()
    # The test: 70 shoppers for 60 items. The docs' picture shows a sale still selling:
    # more stock, and a new shopper every other request (who then comes back once).
    docs = updating_docs()
    stock = 600 if docs else 60

    def shopper(n: int) -> str:
        return f"shopper-{n // 2}" if docs else f"shopper-{n % 70}"

    server = start_server({"FLASHSALE_STOCK": str(stock)})
    page = open_page(server.url + "/dashboard")
    expect(page.get_by_role("heading", name="Operator dashboard")).to_be_visible()
    expect(page.get_by_test_id("tile-health-value")).to_have_text("OK")
    expect(page.get_by_test_id("tile-allocator-value")).to_have_text("Alive")
    expect(page.get_by_test_id("tile-breaker-value")).to_have_text("closed")
    expect(page.get_by_test_id("tile-workers-value")).to_have_text("2 / 2")
    expect(page.get_by_test_id("tile-stock-value")).to_have_text(f"{stock} / {stock}")
    expect(page.get_by_test_id("stock-freshness")).to_have_attribute("data-mode", "live")
    requests_before = page.get_by_test_id("tile-requests-value").inner_text()

    stop = threading.Event()
    answers: list[int] = []

    def shoppers() -> None:
        # A steady, bounded trickle of shoppers, some coming back, an occasional
        # bad id, so several outcomes show on the chart.
        for n in range(MAX_DASHBOARD_REQUESTS):
            if stop.is_set():
                return
            user_id = "bad/id" if n % 15 == 14 else shopper(n)
            answers.append(buy(server.url, user_id).status_code)
            time.sleep(0.05)

    worker = threading.Thread(target=shoppers, daemon=True)
    worker.start()
    try:
        expect(page.get_by_test_id("tile-requests-value")).not_to_have_text(requests_before)
        expect(page.get_by_test_id("chart-rates-confirmed")).to_have_text(
            re.compile(r"^[1-9][\d,.]*/s$")
        )
        expect(page.get_by_test_id("tile-stock-value")).not_to_have_text(f"{stock} / {stock}")
        expect(page.get_by_test_id("outcome-confirmed")).not_to_have_text("0")
        expect(page.get_by_test_id("outcome-invalid")).not_to_have_text("0")
        # The sale of the server's start is the current one: its own figures count too.
        expect(page.get_by_test_id("sale-outcome-confirmed")).not_to_have_text("0")
        expect(page.get_by_test_id("tile-queue-peak")).to_contain_text(
            re.compile(r"^peak [1-9]\d* · this sale [1-9]")
        )
        expect(page.get_by_test_id("tile-success")).to_contain_text("since start")
        expect(page.get_by_test_id("chart-latency-p50")).to_have_text(re.compile(r"ms$"))
        line = page.locator('[data-testid="chart-rates"] path[data-series="confirmed"]')
        expect(line).to_have_attribute("d", re.compile(r"^M[\d.]+,[\d.]+L"))
        if updating_docs():
            # The README's picture: wait for a longer history on the charts
            # (the axis label reads U+2212 then the seconds, e.g. "\u221225 s").
            history = re.compile("^\u2212(2\\d|3\\d) s$")
            axis = page.get_by_test_id("chart-rates").get_by_text(history)
            expect(axis).to_be_visible(timeout=45_000)
        artifact = screenshot(page, "dashboard")
    finally:
        stop.set()
        worker.join(timeout=30)
    publish_for_docs(artifact, "dashboard.png")
    assert 201 in answers


def test_dashboard_asks_for_the_operator_token_once(
    start_server: Callable[..., Any], open_page: Callable[..., Any]
) -> None:
    expect = expect_api()
    token = "operator-secret-1"
    server = start_server({"FLASHSALE_STOCK": "5", "FLASHSALE_OPERATOR_TOKEN": token})
    page = open_page(server.url + "/dashboard")
    form = page.get_by_test_id("operator-token-form")
    expect(form).to_contain_text("operators only")
    # Stock is not operator data: it stays live meanwhile.
    expect(page.get_by_test_id("tile-stock-value")).to_have_text("5 / 5")
    expect(page.get_by_test_id("tile-health")).to_contain_text("detail for operators")
    screenshot(page, "dashboard-token")
    page.get_by_label("Operator token").fill("not-the-token")
    page.get_by_role("button", name="Show figures").click()
    expect(form).to_contain_text("That operator token was refused. Try again.")
    page.get_by_label("Operator token").fill(token)
    page.get_by_role("button", name="Show figures").click()
    expect(page.get_by_test_id("tile-workers-value")).to_have_text("2 / 2")
    expect(page.get_by_test_id("tile-allocator-value")).to_have_text("Alive")
    expect(form).to_have_count(0)
    page.reload()  # kept for the tab: not asked again
    expect(page.get_by_test_id("tile-allocator-value")).to_have_text("Alive")
    expect(page.get_by_test_id("operator-token-form")).to_have_count(0)
