"""A flash sale of three products end to end, against a real gunicorn server: the
run creates the sale through the admin API, every shopper asks for one sku drawn
by weight, and the verdict holds per product: two products sell out exactly,
the third sells exactly its demand; nobody holds two orders across products.

Asserts the invariants, never the speed (see test_flash_end_to_end.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from stress.report.summary import format_summary
from stress.scenarios.flash import FlashOptions, run_flash
from stress.scenarios.plans import ScenarioOptions
from stress.scenarios.products import parse_products, pick_skus
from tests.support.command_line import command_line
from tests.support.server import running_server

TOKEN = "stress-e2e-token"
USERS = 400
# Demand about 200, 133 and 67 shoppers: tee-s and tee-m sell out, tee-l does not.
PRODUCTS = "tee-s=3:30,tee-m=2:20,tee-l=1:100"
SEED = 5


def failures(result) -> str:
    return "\n".join(f"{c.name}: {c.detail}" for c in result.verdict.failed())


@pytest.mark.timeout(240)
def test_three_products_sell_exactly_per_product(tmp_path):
    mix = parse_products(PRODUCTS)
    with running_server(
        tmp_path / "sale.db", workers=2, env={"FLASHSALE_ADMIN_TOKEN": TOKEN}
    ) as server:
        result = run_flash(
            FlashOptions(
                url=server.url,
                users=USERS,
                stock=None,
                processes=2,
                admin_token=TOKEN,
                report_dir=tmp_path / "report",
                scenario=ScenarioOptions("burst", users=USERS),
                fairness_tolerance_ms=5000.0,
                progress=False,
                products=mix,
                seed=SEED,
            )
        )
        status = server.status()

    assert result.verdict.ok, failures(result)
    asked = {sku: pick_skus(mix, USERS, SEED).count(sku) for sku in ("tee-s", "tee-m", "tee-l")}
    rows = {row.sku: row for row in result.verdict.products}
    assert list(rows) == ["tee-s", "tee-m", "tee-l"]  # the operator's order
    for sku, stock in (("tee-s", 30), ("tee-m", 20), ("tee-l", 100)):
        row = rows[sku]
        assert row.stock == stock and row.demand == asked[sku]
        assert row.confirmed == row.sold == min(stock, asked[sku])
        if not result.verdict.counts.get("pending"):  # else a look-up found the sale
            assert row.answered_201 == row.confirmed
        assert row.remaining is not None and row.sold + row.remaining == stock
    assert asked["tee-s"] > 30 and asked["tee-m"] > 20 and asked["tee-l"] < 100
    assert rows["tee-s"].remaining == rows["tee-m"].remaining == 0
    assert status["sold"] == 50 + asked["tee-l"]
    names = {check.name for check in result.verdict.checks}
    assert {
        "nobody over the per-user limit (1) across products",
        "no product oversold",
        "each product sold exactly min(its stock, its demand)",
        "every answer and order names the sku asked for",
    } <= names
    summary = format_summary(result)
    assert "PRODUCTS" in summary and "tee-m" in summary
    written = json.loads((tmp_path / "report" / "report.json").read_text())
    assert [p["sku"] for p in written["sale"]["created"]["products"]] == list(rows)
    assert written["run"]["demand"] == {
        "products": [{"sku": p.sku, "weight": p.weight} for p in mix],
        "seed": SEED,
        "mix": "weights",
    }
    assert "<h2>Products</h2>" in (tmp_path / "report" / "report.html").read_text()


@pytest.mark.timeout(120)
def test_a_sku_the_sale_does_not_have_stops_the_run_before_the_release(tmp_path):
    with running_server(tmp_path / "sale.db", workers=1, env={"FLASHSALE_STOCK": "10"}) as server:
        done = subprocess.run(
            command_line(
                [sys.executable, "-m", "stress", "flash"],
                {
                    "--url": server.url,
                    "--users": 20,
                    "--products": "no-such-sku=1",
                    "--no-progress": None,
                },
            ),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        status = server.status()
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the sale has no product no-such-sku" in done.stderr
    assert status["sold"] == 0
