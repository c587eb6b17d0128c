"""A sale's waiting room in a real browser against a real server (issue 25).

Six shoppers join the pre-queue by HTTP, then alice joins on the shop page, before the
start. The queue keeps arrival order (`shuffle` off) so that her place is known (7), and
admits one a second, so that it falls while the page watches. After the start her page
reads its place once and follows "now serving" on the status stream, counts her turn
down and buys with her ticket. A second tab of hers shows the same ticket without
joining, and follows her purchase; a page in another browser that joins as alice again
is given the same ticket. The dashboard shows the queue.

Screenshots at desktop and phone width go to tests/e2e/artifacts/ (and to
FLASHSALE_QUEUE_SHOTS, when set, for review).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import DESKTOP, PHONE, ConsoleWatch, screenshot
from tests.support.admin import Admin

pytestmark = pytest.mark.browser

ADMIN_TOKEN = "e2e-admin-token-of-some-length"
# Long enough for three pages to open and join before the start.
START_S = 15
EARLY_SHOPPERS = 6
# One admitted a second: alice's place comes up within seconds, visibly falling.
ADMIT_PER_MINUTE = 60
# "You are in the queue: 3 ahead of you, ..." or "You are next in the queue, ...".
AHEAD = re.compile(r"(\d+) ahead of you|You are (next) in the queue")


def expect_api() -> Any:
    from playwright.sync_api import expect

    return expect


def shot(page: Any, name: str) -> None:
    path = screenshot(page, name)
    folder = os.environ.get("FLASHSALE_QUEUE_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(folder) / path.name)


def join(url: str, user_id: str) -> dict[str, Any]:
    answer = requests.post(f"{url}/flash-sale/queue", json={"userId": user_id}, timeout=10)
    assert answer.status_code == 201, answer.text
    ticket: dict[str, Any] = answer.json()
    return ticket


def stored_ticket(page: Any, sale_id: int, user_id: str) -> str:
    """The ticket the page keeps for this person in this sale (localStorage)."""
    key = f"flashsale.queueTicket.{sale_id}.{user_id}"
    text: str = page.evaluate(f"() => JSON.parse(localStorage.getItem({key!r})).ticket")
    return text


def watch_the_place_fall(page: Any, phone: Any, deadline_s: float) -> list[int]:
    """The "N ahead of you" figures `page` shows, in turn, until its turn comes (a
    screenshot of each page the first time it shows its place)."""
    message = page.get_by_test_id("queue-message")
    phone_message = phone.get_by_test_id("queue-message")
    seen: list[int] = []
    phone_shot = False
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline and message.get_attribute("data-kind") not in ("due", "turn"):
        found = AHEAD.search(message.text_content() or "")
        ahead = (int(found[1]) if found[1] else 0) if found else None
        if ahead is not None and (not seen or seen[-1] != ahead):
            seen.append(ahead)
            if len(seen) == 1:
                shot(page, "queue-waiting-desktop")
        if not phone_shot and phone_message.get_attribute("data-kind") == "waiting":
            phone_shot = True
            shot(phone, "queue-waiting-phone")
        time.sleep(0.1)
    return seen


def test_join_early_see_the_place_fall_be_admitted_and_buy(
    start_server: Callable[..., Any], open_page: Callable[..., Any]
) -> None:
    expect = expect_api()
    server = start_server(env={"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN})
    starts_at = datetime.now(UTC) + timedelta(seconds=START_S)
    queue = {"shuffle": False, "admitPerMinute": ADMIT_PER_MINUTE, "admittedSeconds": 120}
    # More units than tickets: every admission has a unit to buy, whatever the early
    # shoppers (who never buy) do with theirs.
    stock = EARLY_SHOPPERS + 4
    sale = Admin(server.url, ADMIN_TOKEN).fresh_sale(
        {"stock": stock, "startsAt": starts_at.isoformat().replace("+00:00", "Z"), "queue": queue}
    )
    sale_id = sale["saleId"]
    assert sale["queue"]["admitPerMinute"] == ADMIT_PER_MINUTE
    for n in range(EARLY_SHOPPERS):
        assert join(server.url, f"early{n}")["state"] == "prequeue"

    # Alice joins before the start: Join the queue stands in Buy's place.
    requested: list[str] = []
    alice = open_page(f"{server.url}/", viewport=DESKTOP, requested=requested)
    message = alice.get_by_test_id("queue-message")
    expect(message).to_have_attribute("data-kind", "join")
    expect(alice.get_by_test_id("countdown")).to_be_visible()
    alice.get_by_test_id("buy-user-id").fill("alice")
    expect(alice.get_by_test_id("buy-button")).to_have_text("Join the queue")
    shot(alice, "queue-join-desktop")
    alice.get_by_test_id("buy-button").click()
    expect(message).to_have_attribute("data-kind", "prequeue")
    expect(message).to_contain_text("You are in the queue. Your place is drawn at the start.")
    expect(alice.get_by_test_id("buy-button")).to_be_disabled()
    shot(alice, "queue-prequeue-desktop")
    ticket = stored_ticket(alice, sale_id, "alice")

    # A second tab of hers shows the same ticket, without joining again.
    tab_watch = ConsoleWatch()
    tab_requests: list[Any] = []
    tab = alice.context.new_page()
    tab.on("console", tab_watch.on_console)
    tab.on("pageerror", tab_watch.on_page_error)
    tab.on("request", lambda request: tab_requests.append(request))
    tab.goto(f"{server.url}/")
    tab_message = tab.get_by_test_id("queue-message")
    expect(tab_message).to_have_attribute("data-kind", "prequeue")
    assert stored_ticket(tab, sale_id, "alice") == ticket
    assert not [r for r in tab_requests if r.method == "POST" and "/flash-sale/queue" in r.url]

    # Another browser: alice joins again there and is given the same ticket.
    phone = open_page(f"{server.url}/", viewport=PHONE)
    phone.get_by_test_id("buy-user-id").fill("alice")
    phone.get_by_test_id("buy-button").click()
    phone_message = phone.get_by_test_id("queue-message")
    expect(phone_message).to_have_attribute("data-kind", "prequeue")
    assert stored_ticket(phone, sale_id, "alice") == ticket
    shot(phone, "queue-prequeue-phone")
    assert time.time() < starts_at.timestamp(), "the pages took longer than START_S to join"

    # The start: her place is read once, then falls with the stream's now serving.
    ahead_seen = watch_the_place_fall(alice, phone, deadline_s=START_S + 30)
    assert len(ahead_seen) >= 2, f"the place did not visibly fall: {ahead_seen}"
    assert ahead_seen == sorted(ahead_seen, reverse=True), ahead_seen
    assert ahead_seen[0] <= EARLY_SHOPPERS

    # Her turn: a countdown, and Buy sends the ticket.
    expect(message).to_have_attribute("data-kind", "turn")
    expect(message).to_contain_text(re.compile(r"Your turn: buy within (2:00|1:[0-5]\d)"))
    buy_button = alice.get_by_test_id("buy-button")
    expect(buy_button).to_be_enabled()
    expect(buy_button).to_have_text("Buy now")
    shot(alice, "queue-turn-desktop")
    expect(phone_message).to_have_attribute("data-kind", "turn")
    shot(phone, "queue-turn-phone")
    with alice.expect_request(re.compile(r".*/flash-sale/purchase$")) as purchase:
        buy_button.click()
    assert purchase.value.headers.get("flash-sale-ticket") == ticket
    expect(alice.get_by_test_id("purchase-outcome")).to_have_attribute("data-kind", "confirmed")
    expect(message).to_have_attribute("data-kind", "used")
    shot(alice, "queue-bought-desktop")
    # The other tab hears of it from the first (the ticket kept for both).
    expect(tab_message).to_have_attribute("data-kind", "used")

    # The server agrees: one order, alice's; the queue was read, not polled.
    found = requests.get(f"{server.url}/flash-sale/purchase/alice", timeout=5).json()
    assert [order["state"] for order in found["orders"]] == ["confirmed"]
    reads = [url for url in requested if f"/flash-sale/queue/{ticket}" in url]
    assert 1 <= len(reads) <= 6, reads

    dashboard = open_page(f"{server.url}/dashboard", viewport=DESKTOP)
    tile = dashboard.get_by_test_id("tile-waiting-room")
    expect(dashboard.get_by_test_id("tile-waiting-room-length")).to_have_text(
        f"{EARLY_SHOPPERS + 1} in the queue"
    )
    expect(tile).to_contain_text("60 admitted a minute")
    shot(dashboard, "queue-dashboard-desktop")
    tab.close()
    assert tab_watch.problems == [], "\n".join(tab_watch.problems)


def test_proof_of_work_is_solved_in_the_page_before_joining(
    start_server: Callable[..., Any], open_page: Callable[..., Any]
) -> None:
    """A queue that asks for proof of work: the page's ALTCHA widget fetches the server's
    challenge and solves it (its own workers, under the pages' Content-Security-Policy),
    Join waits for the solution, and the server takes it; a join without one is refused."""
    expect = expect_api()
    server = start_server(env={"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN})
    starts_at = datetime.now(UTC) + timedelta(minutes=5)
    Admin(server.url, ADMIN_TOKEN).fresh_sale(
        {
            "stock": 1,
            "startsAt": starts_at.isoformat().replace("+00:00", "Z"),
            "queue": {"proofOfWork": True},
        }
    )
    refused = requests.post(f"{server.url}/flash-sale/queue", json={"userId": "bot"}, timeout=10)
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"] == "/problems/proof-of-work-required"

    page = open_page(f"{server.url}/", viewport=PHONE)
    page.get_by_test_id("buy-user-id").fill("bob")
    expect(page.locator("altcha-widget")).to_be_visible()
    join_button = page.get_by_test_id("buy-button")
    expect(join_button).to_have_text("Join the queue")
    expect(join_button).to_be_enabled(timeout=60_000)
    shot(page, "queue-proof-of-work-phone")
    with page.expect_request(re.compile(r".*/flash-sale/queue$")) as joined:
        join_button.click()
    assert "altcha" in (joined.value.post_data_json or {})
    expect(page.get_by_test_id("queue-message")).to_have_attribute("data-kind", "prequeue")
    expect(page.locator("altcha-widget")).to_have_count(0)
