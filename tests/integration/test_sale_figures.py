"""The current sale's own figures against a real server of several workers: its
outcomes, success rate and queue high-water mark start again with a new sale,
while the figures since the server started keep counting."""

from __future__ import annotations

from collections import Counter
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support.load import Answer, burst
from tests.support.server import ServerProcess

ADMIN_TOKEN, OPERATOR_TOKEN = "figures-admin-token", "figures-operator-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
SALE = "/flash-sale/admin/sale"


def _metrics(server: ServerProcess) -> dict[str, Any]:
    answer = requests.get(f"{server.url}/flash-sale/metrics", headers=OPERATOR, timeout=10)
    assert answer.status_code == 200, answer.text
    metrics: dict[str, Any] = answer.json()
    return metrics


def _new_sale(server: ServerProcess, stock: int) -> int:
    """Start the next sale over the current one; if the admin API asks for it
    (issue 23: a sale in progress is only replaced on purpose), say so with If-Match."""
    answer = requests.post(f"{server.url}{SALE}", json={"stock": stock}, headers=ADMIN, timeout=30)
    if answer.status_code == 409 and "etag" in answer.json():
        replace = {**ADMIN, "If-Match": answer.json()["etag"]}
        answer = requests.post(
            f"{server.url}{SALE}", json={"stock": stock}, headers=replace, timeout=30
        )
    assert answer.status_code == 201, answer.text
    sale_id: int = answer.json()["saleId"]
    return sale_id


def _outcomes(answers: list[Answer]) -> Counter[str]:
    """What the shoppers were told; every one was answered, with an outcome."""
    assert all(answer.body and "outcome" in answer.body for answer in answers), [
        a for a in answers if not (a.body and "outcome" in a.body)
    ][:3]
    return Counter(answer.body["outcome"] for answer in answers)


def _counted(outcomes: dict[str, int]) -> Counter[str]:
    return Counter({outcome: count for outcome, count in outcomes.items() if count})


def test_a_new_sale_counts_its_own_figures_from_zero_and_the_totals_go_on(start_server):
    server = start_server(
        workers=3,
        env={
            "FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN,
            "FLASHSALE_OPERATOR_TOKEN": OPERATOR_TOKEN,
            "FLASHSALE_STOCK": "40",
        },
    )
    first_id = requests.get(f"{server.url}{SALE}", headers=ADMIN, timeout=10).json()["saleId"]
    told = _outcomes(burst(server.url, [f"early-{i}" for i in range(100)], processes=2))
    assert told["confirmed"] == 40

    first = _metrics(server)
    assert first["currentSale"]["saleId"] == first_id
    assert _counted(first["currentSale"]["outcomes"]) == told
    assert _counted(first["outcomes"]) == told  # no purchase before this sale's
    assert first["currentSale"]["successRate"] == round(40 / 100, 4)
    assert 1 <= first["currentSale"]["queueHighWater"] <= first["queueHighWater"] <= 100

    second_id = _new_sale(server, stock=10)
    assert second_id > first_id
    fresh = _metrics(server)
    assert fresh["currentSale"] == {
        "saleId": second_id,
        "outcomes": dict.fromkeys(first["outcomes"], 0),
        "successRate": 0.0,
        "queueHighWater": 0,
    }
    # No worker has answered for the new sale yet: each row still counts the old one,
    # and is left out, so nothing of the old sale leaks into the new one's figures.
    assert fresh["outcomes"] == first["outcomes"]
    assert fresh["queueHighWater"] == first["queueHighWater"]

    told_later = _outcomes(burst(server.url, [f"late-{i}" for i in range(30)], processes=2))
    assert told_later["confirmed"] == 10
    later = _metrics(server)
    assert _counted(later["currentSale"]["outcomes"]) == told_later
    assert later["currentSale"]["successRate"] == round(10 / 30, 4)
    assert _counted(later["outcomes"]) == told + told_later
    assert later["successRate"] == round(50 / 130, 4)
    assert 1 <= later["currentSale"]["queueHighWater"] <= later["queueHighWater"]
    assert later["queueHighWater"] >= first["queueHighWater"]

    scrape = requests.get(f"{server.url}/metrics", headers=OPERATOR, timeout=10).text
    families = {f.name: f.samples for f in text_string_to_metric_families(scrape)}
    purchases = [
        s
        for s in families["flashsale_sale_purchases"]
        if s.name == "flashsale_sale_purchases_total"
    ]
    assert {s.labels["sale_id"] for s in purchases} == {str(second_id)}
    assert Counter({s.labels["outcome"]: int(s.value) for s in purchases if s.value}) == told_later
    states = {s.labels["state"]: s.value for s in families["flashsale_sale_state"]}
    assert [state for state, value in states.items() if value == 1] == ["sold_out"]
    (since_start,) = families["flashsale_queue_depth_peak"]
    (this_sale,) = families["flashsale_sale_queue_depth_peak"]
    assert since_start.value == later["queueHighWater"]
    assert this_sale.value == later["currentSale"]["queueHighWater"]
