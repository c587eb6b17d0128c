"""The verdict of a sale of several products catches, from synthetic records, a
product oversold or undersold, a shopper holding orders of two products, and an
answer naming another product than the one asked for."""

from __future__ import annotations

from stress.records import Record
from stress.verdicts.orders import HeldOrder, LookupResult
from stress.verdicts.product_verdict import ProductFacts, format_rows
from stress.verdicts.verdict import SaleFacts, judge

T0 = 1_700_000_000 * 10**9
MS = 10**6
SALE = "sale-7"
# sku -> (stock, shoppers asking for it): a and b sell out, c does not.
MIX = {"a": (5, 20), "b": (3, 10), "c": (10, 4)}


def purchase(user, asked, send_ms, http, status, *, sku=None, position=None, order=None):
    return Record(
        user=user,
        kind="purchase",
        attempt=1,
        send_ns=T0 + int(send_ms * MS),
        latency_ns=5 * MS,
        http=http,
        status=status,
        position=position,
        order_id=order,
        sale_id=SALE if http == 201 else None,
        asked_sku=asked,
        sku=asked if sku is None else sku,
    )


def correct_sale():
    """Shoppers of the three products interleaved in time; each product's first
    `stock` askers win, positions over the whole sale in send order."""
    askers = [(sku, n) for sku, (_, count) in MIX.items() for n in range(count)]
    askers.sort(key=lambda asker: (asker[1], asker[0]))
    records, won = [], {sku: 0 for sku in MIX}
    for i, (sku, n) in enumerate(askers):
        user = f"{sku}{n}"
        if won[sku] < MIX[sku][0]:
            won[sku] += 1
            position = sum(won.values())
            records.append(
                purchase(user, sku, i, 201, "confirmed", position=position, order=f"o-{user}")
            )
        else:
            records.append(purchase(user, sku, i, 410, "sold_out"))
    return records


def lookups_for(records):
    found: dict[str, LookupResult] = {}
    for record in records:
        found.setdefault(record.user, LookupResult(record.user, 404))
        if record.http == 201:
            order = HeldOrder(record.order_id, record.position, record.sku, SALE)
            found[record.user] = LookupResult(
                record.user,
                200,
                record.order_id,
                record.position,
                SALE,
                record.send_ns,
                sku=record.sku,
                orders=(order,),
            )
    return found


def status_after(sold):
    """The final status when each product sold `sold[sku]` of its stock."""
    products = [
        {
            "sku": sku,
            "total": stock,
            "sold": sold[sku],
            "remaining": max(stock - sold[sku], 0),
            "perUserLimit": None,
        }
        for sku, (stock, _) in MIX.items()
    ]
    total = sum(stock for stock, _ in MIX.values())
    done = sum(sold.values())
    return {
        "saleId": SALE,
        "total": total,
        "sold": done,
        "remaining": total - done,
        "products": products,
    }


def facts(sold=None, **overrides):
    sold = sold or {"a": 5, "b": 3, "c": 4}
    products = tuple(ProductFacts(sku, stock) for sku, (stock, _) in MIX.items())
    return SaleFacts(
        stock=18, sale_id=SALE, status_after=status_after(sold), products=products, **overrides
    )


def failed_names(verdict):
    return {check.name for check in verdict.failed()}


def test_a_correct_sale_of_three_products_passes_with_each_product_exact():
    records = correct_sale()
    verdict = judge(records, lookups_for(records), facts())
    assert verdict.ok, verdict.failed()
    assert verdict.confirmed == 12  # 5 + 3 + 4: not min(18, 34), c's demand is only 4
    rows = {
        row.sku: (row.stock, row.demand, row.answered_201, row.confirmed, row.sold, row.remaining)
        for row in verdict.products
    }
    assert rows == {"a": (5, 20, 5, 5, 5, 0), "b": (3, 10, 3, 3, 3, 0), "c": (10, 4, 4, 4, 4, 6)}
    names = {check.name for check in verdict.checks}
    assert "nobody over the per-user limit (1) across products" in names
    assert "each product sold exactly min(its stock, its demand)" in names
    table = "\n".join(format_rows(verdict.products))
    assert "201s" in table and "remaining" in table and table.count("\n") == 3


def test_a_product_oversold_within_the_sale_total_is_caught():
    records = correct_sale()
    loser = next(r for r in records if r.asked_sku == "a" and r.http == 410)
    records[records.index(loser)] = purchase(
        loser.user, "a", 30, 201, "confirmed", position=13, order="o-extra"
    )
    verdict = judge(records, lookups_for(records), facts({"a": 6, "b": 3, "c": 4}))
    # 13 sold of 18 in all: only the product's own stock shows the oversell.
    assert "no oversell" not in failed_names(verdict)
    assert "no product oversold" in failed_names(verdict)
    assert "each product sold exactly min(its stock, its demand)" in failed_names(verdict)


def test_a_product_undersold_while_its_demand_exceeds_the_stock_is_caught():
    records = correct_sale()
    winner = next(r for r in records if r.asked_sku == "b" and r.http == 201)
    records[records.index(winner)] = purchase(winner.user, "b", 2, 410, "sold_out")
    verdict = judge(records, lookups_for(records), facts({"a": 5, "b": 2, "c": 4}))
    assert "each product sold exactly min(its stock, its demand)" in failed_names(verdict)
    assert "sold exactly min(stock, demand)" in failed_names(verdict)


def test_a_shopper_holding_orders_of_two_products_is_caught():
    records = correct_sale()
    lookups = lookups_for(records)
    held = lookups["a0"]
    second = HeldOrder("o-a0-b", 13, "b", SALE)  # a second order, of another product
    lookups["a0"] = LookupResult(
        "a0", 200, held.order_id, held.position, SALE, sku="a", orders=(*held.orders, second)
    )
    verdict = judge(records, lookups, facts({"a": 5, "b": 4, "c": 4}))
    assert "nobody over the per-user limit (1) across products" in failed_names(verdict)
    assert "every answer and order names the sku asked for" in failed_names(verdict)


def test_two_orders_of_two_products_are_fine_when_the_limit_allows_them():
    records = correct_sale()
    lookups = lookups_for(records)
    c0 = next(r for r in records if r.user == "c0")
    records.append(purchase("c0", "c", 40, 201, "confirmed", position=13, order="o-c0-2"))
    lookups["c0"] = LookupResult(
        "c0",
        200,
        c0.order_id,
        c0.position,
        SALE,
        sku="c",
        orders=(HeldOrder(c0.order_id, c0.position, "c", SALE), HeldOrder("o-c0-2", 13, "c", SALE)),
    )
    sold = {"a": 5, "b": 3, "c": 5}
    verdict = judge(records, lookups, facts(sold, per_user_limit=2))
    assert "nobody over the per-user limit (2) across products" not in failed_names(verdict)
    assert "look-ups agree with the answers" not in failed_names(verdict)


def test_a_201_naming_another_product_is_caught():
    records = correct_sale()
    winner = next(r for r in records if r.asked_sku == "c" and r.http == 201)
    winner.sku = "a"
    verdict = judge(records, lookups_for(records), facts())
    assert "every answer and order names the sku asked for" in failed_names(verdict)


def test_a_product_of_the_sale_refused_as_unknown_is_caught():
    records = [*correct_sale(), purchase("c9", "c", 50, 404, "unknown_product")]
    verdict = judge(records, lookups_for(records), facts())
    assert "every answer and order names the sku asked for" in failed_names(verdict)


def test_a_product_status_disagreeing_with_the_answers_is_caught():
    records = correct_sale()
    verdict = judge(records, lookups_for(records), facts({"a": 5, "b": 3, "c": 3}))
    assert any(name.startswith("each product's status agrees") for name in failed_names(verdict))


def test_a_loser_of_one_product_is_not_overtaken_by_a_later_winner_of_another():
    # a sells out at once; c's shoppers come two seconds later and all buy.
    records = [
        purchase(f"a{n}", "a", n, 201, "confirmed", position=n + 1, order=f"o-a{n}")
        for n in range(5)
    ]
    records += [purchase(f"a{n}", "a", n, 410, "sold_out") for n in range(5, 20)]
    records += [
        purchase(f"b{n}", "b", 3 + n, 201, "confirmed", position=6 + n, order=f"o-b{n}")
        for n in range(3)
    ]
    records += [purchase(f"b{n}", "b", 20 + n, 410, "sold_out") for n in range(3, 10)]
    records += [
        purchase(f"c{n}", "c", 2000 + n, 201, "confirmed", position=9 + n, order=f"o-c{n}")
        for n in range(4)
    ]
    verdict = judge(records, lookups_for(records), facts())
    assert verdict.ok, verdict.failed()
    assert verdict.fairness.overtaken_losers == 0


def test_a_one_product_sale_bought_without_a_sku_checks_the_sku_answered():
    products = (ProductFacts("aurora-anc", 2),)
    product = {"sku": "aurora-anc", "total": 2, "sold": 2, "remaining": 0}
    status = {"saleId": SALE, "total": 2, "sold": 2, "remaining": 0, "products": [product]}
    records = [
        purchase("u0", "", 0, 201, "confirmed", sku="aurora-anc", position=1, order="o0"),
        purchase("u1", "", 1, 201, "confirmed", sku="aurora-anc", position=2, order="o1"),
        purchase("u2", "", 2, 410, "sold_out", sku="aurora-anc"),
    ]
    one = SaleFacts(stock=2, sale_id=SALE, status_after=status, products=products)
    verdict = judge(records, lookups_for(records), one)
    assert verdict.ok, verdict.failed()
    assert [(row.sku, row.demand, row.confirmed) for row in verdict.products] == [
        ("aurora-anc", 3, 2)
    ]
    records[1].sku = "other"
    assert "every answer and order names the sku asked for" in failed_names(
        judge(records, lookups_for(records), one)
    )


def test_a_product_limit_lower_than_the_sale_is_held_per_product():
    products = (ProductFacts("a", 4, per_user_limit=1), ProductFacts("b", 4))
    status = {
        "saleId": SALE,
        "total": 8,
        "sold": 2,
        "remaining": 6,
        "products": [
            {"sku": "a", "total": 4, "sold": 2, "remaining": 2},
            {"sku": "b", "total": 4, "sold": 0, "remaining": 4},
        ],
    }
    records = [
        purchase("u0", "a", 0, 201, "confirmed", position=1, order="o1"),
        purchase("u0", "a", 1, 201, "confirmed", position=2, order="o2"),
    ]
    sale = SaleFacts(
        stock=8, per_user_limit=2, sale_id=SALE, status_after=status, products=products
    )
    lookups = {
        "u0": LookupResult(
            "u0",
            200,
            "o1",
            1,
            SALE,
            sku="a",
            orders=(HeldOrder("o1", 1, "a", SALE), HeldOrder("o2", 2, "a", SALE)),
        )
    }
    verdict = judge(records, lookups, sale)
    assert "nobody over a product's own per-user limit" in failed_names(verdict)
    assert "nobody over the per-user limit (2) across products" not in failed_names(verdict)
