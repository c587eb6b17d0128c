"""/metrics as Prometheus's own linter reads it: `promtool check metrics` on a real scrape.

promtool comes with Debian's `prometheus` package, which test.sh installs when it
runs as root; elsewhere the test is skipped, saying so.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.support.sales import start_next_sale
from tests.support.server import wait_until

PROMTOOL = shutil.which("promtool")
TOKEN = "promtool-operator-token"


@pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian's prometheus package: ./test.sh installs it as root)",
)
def test_a_real_scrape_has_no_complaint_from_promtool(start_server):
    server = start_server(
        workers=2, env={"FLASHSALE_OPERATOR_TOKEN": TOKEN, "FLASHSALE_STOCK": "1"}
    )
    for user in ("ann", "bob"):  # a sale and a refusal: every family has samples
        requests.post(f"{server.url}/flash-sale/purchase", json={"userId": user}, timeout=10)
    scrape = requests.get(
        f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert scrape.status_code == 200
    assert "flashsale_build_info{" in scrape.text
    assert "flashsale_stock_items " in scrape.text

    assert PROMTOOL is not None
    check = subprocess.run(
        [PROMTOOL, "check", "metrics"],
        input=scrape.text,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (check.returncode, check.stdout + check.stderr) == (0, ""), scrape.text


@pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian's prometheus package: ./test.sh installs it as root)",
)
def test_a_waiting_rooms_figures_pass_promtool(start_server):
    server = start_server(
        workers=2,
        env={"FLASHSALE_OPERATOR_TOKEN": TOKEN, "FLASHSALE_ADMIN_TOKEN": "promtool-admin-token"},
    )
    starts = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    start_next_sale(
        server.url, "promtool-admin-token", stock=5, startsAt=starts, queue={"admitPerMinute": 60}
    )
    for user in ("ann", "bob", "cat"):
        joined = requests.post(f"{server.url}/flash-sale/queue", json={"userId": user}, timeout=10)
        assert joined.status_code == 201, joined.text

    def scraped() -> str:
        answer = requests.get(
            f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )
        return answer.text

    wait_until(lambda: "flashsale_queue_tickets 3.0" in scraped(), 30, message="3 tickets")
    scrape = scraped()
    assert 'flashsale_queue_state{state="prequeue"} 1.0' in scrape
    assert "flashsale_queue_waiting_tickets 3.0" in scrape
    assert "flashsale_queue_serving_place 0.0" in scrape
    assert PROMTOOL is not None
    check = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=scrape, capture_output=True, text=True, timeout=60
    )
    assert (check.returncode, check.stdout + check.stderr) == (0, ""), scrape
