"""A sale of several products, against real servers: each product sells exactly its
stock, one per person across products, through bursts, kill -9 and restarts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.test_burst import PATIENT
from tests.integration.test_resilience import (
    assert_invariants,
    burst_while,
    kill_the_allocator_twice,
)
from tests.support.load import Answer, burst, journal_orders, journal_products
from tests.support.old_journal import write_old_journal
from tests.support.server import ServerProcess
from tests.support.sse import open_stream

ADMIN_TOKEN = "admin-token-for-products"
SIZES = {"shoe-41": 40, "shoe-42": 25, "shoe-43": 15}


def catalogue_file(folder: Path, stocks: dict[str, int], **extra) -> Path:
    products = [
        {
            "sku": sku,
            "name": f"Size {sku[-2:]}",
            "priceCents": 12000,
            "currency": "EUR",
            "stock": stock,
            **extra.get(sku, {}),
        }
        for sku, stock in stocks.items()
    ]
    path = folder / "catalogue.json"
    path.write_text(json.dumps({"products": products}))
    return path


def sizes_server(start_server, tmp_path: Path, stocks=SIZES, workers=4, **env) -> ServerProcess:
    return start_server(
        workers=workers,
        env={"FLASHSALE_CATALOGUE_FILE": str(catalogue_file(tmp_path, stocks)), **PATIENT, **env},
    )


def buy(server: ServerProcess, user: str, sku: str | None = None) -> requests.Response:
    body = {"userId": user} if sku is None else {"userId": user, "sku": sku}
    return requests.post(f"{server.url}/flash-sale/purchase", json=body, timeout=10)


def products_of(status: dict) -> dict[str, tuple[int, int, str]]:
    return {p["sku"]: (p["sold"], p["remaining"], p["state"]) for p in status["products"]}


def assert_each_product_within_its_stock(server: ServerProcess, answers: list[Answer]) -> None:
    """Per product: the journal within its stock and equal to the status; every 201's
    product is the one asked for; nobody holds two (the limit is one over the sale)."""
    bought = journal_products(server.db_path)
    status = products_of(server.status())
    for sku, stock in SIZES.items():
        assert len(bought.get(sku, [])) <= stock, sku
        assert status[sku][0] == len(bought.get(sku, [])), sku
    buyers = [user for users in bought.values() for user in users]
    assert len(buyers) == len(set(buyers)), "someone holds two products"
    for answer in answers:
        if answer.status == 201:
            assert answer.body["sku"] == answer.sku, answer
            assert answer.sku is not None and answer.user_id in bought[answer.sku], answer


@pytest.mark.slow
def test_a_burst_over_three_sizes_sells_each_exactly_its_stock_to_distinct_people(
    start_server, tmp_path
):
    server = sizes_server(start_server, tmp_path, FLASHSALE_RATE_LIMIT="50")
    # 700 shoppers, each pressing Buy on two sizes at once: 1,400 attempts for 80 items.
    users = [f"shopper-{i:04d}" for i in range(700)]
    skus = {user: (list(SIZES)[i % 3], list(SIZES)[(i + 1) % 3]) for i, user in enumerate(users)}

    answers = burst(server.url, users * 2, processes=4, skus=skus)

    statuses = Counter(answer.status for answer in answers)
    assert set(statuses) <= {201, 409, 410}, statuses
    sold = Counter(answer.sku for answer in answers if answer.status == 201)
    assert sold == SIZES  # each size's demand was over its stock: exactly its stock
    assert_each_product_within_its_stock(server, answers)
    for answer in answers:
        if answer.status == 410:
            assert answer.body["sku"] == answer.sku and answer.body["outcome"] == "sold_out"
        if answer.status == 409:  # the other size of someone who bought one
            assert answer.body["sku"] != answer.sku or answer.body["outcome"] == "already_purchased"
    status = server.status()
    assert (status["state"], status["sold"], status["remaining"]) == ("sold_out", 80, 0)
    assert products_of(status) == {sku: (stock, 0, "sold_out") for sku, stock in SIZES.items()}
    positions = sorted(a.body["position"] for a in answers if a.status == 201)
    assert positions == list(range(1, 81))  # one order of arrival over the whole sale

    prometheus = requests.get(f"{server.url}/metrics", timeout=5).text
    for sku, stock in SIZES.items():
        assert f'flashsale_product_sold_items{{sku="{sku}"}} {float(stock)}' in prometheus


@pytest.mark.slow
def test_kill_9_of_the_allocator_mid_burst_keeps_every_product_within_its_stock(
    start_server, tmp_path
):
    server = sizes_server(start_server, tmp_path)
    all_answers: list[Answer] = []
    for round_ in range(3):
        users = [f"k{round_}-{i}" for i in range(300)]
        skus = {user: (list(SIZES)[i % 3],) for i, user in enumerate(users)}

        answers = burst_while(
            lambda: kill_the_allocator_twice(server), server.url, users, skus=skus
        )
        assert not [a for a in answers if a.status == 0], "connection errors"
        all_answers += answers
        assert_invariants(server, all_answers, sum(SIZES.values()))
        assert_each_product_within_its_stock(server, all_answers)
    health = requests.get(f"{server.url}/flash-sale/health", timeout=5).json()
    assert health["allocator"]["restarts"] == 6
    # 900 shoppers, 300 a size, for 80 items: every size sold out despite the kills.
    assert products_of(server.status()) == {s: (n, 0, "sold_out") for s, n in SIZES.items()}


def test_a_sale_of_several_needs_a_sku_that_it_has_and_sells_nothing_otherwise(
    start_server, tmp_path
):
    server = sizes_server(start_server, tmp_path, workers=2)
    missing = buy(server, "ann")
    assert missing.status_code == 400
    assert "sku is required" in missing.json()["detail"]
    unknown = buy(server, "ann", "shoe-99")
    assert unknown.status_code == 404
    assert unknown.headers["Content-Type"] == "application/problem+json"
    assert unknown.json() | {"detail": ""} == {
        "type": "/problems/unknown-product",
        "title": "Unknown product",
        "status": 404,
        "detail": "",
        "outcome": "unknown_product",
        "sku": "shoe-99",
    }
    for bad in ("shoe 41", "", "x" * 65, 41, ["shoe-41"]):
        answer = requests.post(
            f"{server.url}/flash-sale/purchase", json={"userId": "ann", "sku": bad}, timeout=10
        )
        assert answer.status_code == 400, bad
        assert answer.json()["title"] == "Invalid sku"
    for _ in range(12):  # more than the rate limit (10 a minute)
        assert buy(server, "ann", "shoe-99").status_code == 404
    assert server.status()["sold"] == 0
    assert journal_orders(server.db_path) == {}
    # None of these cost ann an attempt, and she can still buy.
    assert buy(server, "ann", "shoe-43").status_code == 201
    lookup = requests.get(f"{server.url}/flash-sale/purchase/ann", timeout=5).json()
    assert (lookup["sku"], lookup["units"], [o["sku"] for o in lookup["orders"]]) == (
        "shoe-43",
        1,
        ["shoe-43"],
    )


def test_a_product_sold_out_among_others_is_refused_for_itself_only(start_server, tmp_path):
    server = sizes_server(start_server, tmp_path, {"s41": 1, "s42": 2}, workers=2)
    stream = open_stream(server.url)
    try:
        assert products_of(stream.next_status())["s41"] == (0, 1, "open")
        assert buy(server, "ann", "s41").status_code == 201
        pushed = stream.status_until(lambda status: status["sold"] == 1)
        assert products_of(pushed) == {"s41": (1, 0, "sold_out"), "s42": (0, 2, "open")}
    finally:
        stream.close()
    gone = buy(server, "bob", "s41")
    assert gone.status_code == 410
    assert gone.json()["sku"] == "s41"
    assert "other products may remain" in gone.json()["detail"]
    status = server.status()
    assert status["state"] == "open"
    assert products_of(status) == {"s41": (1, 0, "sold_out"), "s42": (0, 2, "open")}
    again = buy(server, "ann", "s42")  # one per person, across the sale
    assert (again.status_code, again.json()["sku"]) == (409, "s41")
    assert buy(server, "bob", "s42").status_code == 201


def test_a_restart_keeps_every_product_s_count(start_server, tmp_path):
    server = sizes_server(start_server, tmp_path, workers=2)
    for user, sku in [("a", "shoe-41"), ("b", "shoe-41"), ("c", "shoe-43")]:
        assert buy(server, user, sku).status_code == 201
    before = products_of(server.status())
    server.stop()

    again = sizes_server(start_server, tmp_path, workers=2)
    assert products_of(again.status()) == before
    assert buy(again, "a", "shoe-42").status_code == 409
    later = buy(again, "d", "shoe-41").json()
    assert (later["position"], later["sku"]) == (4, "shoe-41")
    assert products_of(again.status())["shoe-41"] == (3, 37, "open")


def test_the_admin_api_starts_a_sale_of_products_and_still_takes_a_stock(start_server):
    server = start_server(workers=2, env={"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN})
    # Each sale replaces the one in progress (If-Match: any version of it).
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}", "If-Match": "*"}
    colours: dict[str, Any] = {
        "perUserLimit": 2,
        "products": [
            {"sku": "red", "name": "Red", "priceCents": 1200, "currency": "JPY", "stock": 1},
            {
                "sku": "blue",
                "name": "Blue",
                "priceCents": 1200,
                "currency": "JPY",
                "stock": 3,
                "perUserLimit": 1,
                "imageUrl": "https://cdn.example/blue.webp",
            },
        ],
    }
    started = requests.post(
        f"{server.url}/flash-sale/admin/sale", json=colours, headers=admin, timeout=10
    )
    assert started.status_code == 201, started.text
    assert [(p["sku"], p["stock"]) for p in started.json()["products"]] == [("red", 1), ("blue", 3)]
    status = server.status()
    assert (status["total"], status["perUserLimit"]) == (4, 2)
    assert status["products"][1]["imageUrl"] == "https://cdn.example/blue.webp"
    assert buy(server, "ann", "blue").status_code == 201
    assert buy(server, "ann", "blue").status_code == 409  # blue's own limit of one
    assert buy(server, "ann", "red").status_code == 201  # the sale's limit is two

    bad = dict(colours, products=[*colours["products"], colours["products"][0]])
    refused = requests.post(
        f"{server.url}/flash-sale/admin/sale", json=bad, headers=admin, timeout=10
    )
    assert refused.status_code == 400 and "same sku" in refused.json()["detail"]
    assert server.status()["saleId"] == status["saleId"]

    one = requests.post(
        f"{server.url}/flash-sale/admin/sale", json={"stock": 5}, headers=admin, timeout=10
    )
    assert one.status_code == 201
    (default,) = one.json()["products"]
    assert (default["sku"], default["stock"], default["name"]) == (
        "aurora-anc",
        5,
        "Aurora ANC Headphones",
    )
    assert buy(server, "ann").json()["sku"] == "aurora-anc"  # one product: no sku needed
    assert buy(server, "bob", "red").status_code == 404  # the old sale's product is gone


def test_a_journal_written_before_products_sells_on_as_one_product(start_server, tmp_path):
    order_ids = write_old_journal(tmp_path / "journal.db", stock=3, users=["ann"])
    server = start_server(workers=1, env={"FLASHSALE_PRODUCT_SKU": "legacy-item"})
    status = server.status()
    assert [(p["sku"], p["total"], p["sold"]) for p in status["products"]] == [
        ("legacy-item", 3, 1)
    ]
    again = buy(server, "ann")
    assert (again.status_code, again.json()["orderId"], again.json()["sku"]) == (
        409,
        order_ids[0],
        "legacy-item",
    )
    assert buy(server, "bob").json()["position"] == 2
    assert "sales journaled before sales had products" in server.log()


def test_pictures_are_served_from_the_images_folder_and_nothing_else(start_server, tmp_path):
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    (pictures / "shoe.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    (pictures / "notes.txt").write_text("not a picture")
    (tmp_path / "secret.png").write_text("outside the folder")
    (pictures / "link.png").symlink_to(tmp_path / "secret.png")
    server = start_server(workers=1, env={"FLASHSALE_IMAGES_DIR": str(pictures)})
    shoe = requests.get(f"{server.url}/flash-sale/images/shoe.svg", timeout=5)
    assert shoe.status_code == 200
    assert shoe.headers["Content-Type"] == "image/svg+xml"
    assert "sandbox" in shoe.headers["Content-Security-Policy"]
    for name in ("notes.txt", "link.png", "..%2Fsecret.png", "%2E%2E", ".hidden.png", "none.png"):
        answer = requests.get(f"{server.url}/flash-sale/images/{name}", timeout=5)
        assert answer.status_code == 404, name
        assert answer.headers["Content-Type"] == "application/problem+json", name
