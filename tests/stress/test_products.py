"""The demand mix: --products parsing, the stock of each product, the seeded
weighted pick, and the sku every purchase body then names (nothing runs)."""

from __future__ import annotations

import json
import shlex
from collections import Counter

import pytest

from stress.__main__ import build_parser
from stress.client.shopper import purchase_requests
from stress.commands.options import flash_options
from stress.scenarios.lookups import held_orders
from stress.scenarios.plans import ScenarioOptions, UserPlan, build_plans
from stress.scenarios.products import (
    ProductDemand,
    ProductsError,
    demand_for,
    parse_products,
    pick_skus,
    product_stocks,
    sale_products,
    with_skus,
)
from stress.verdicts.orders import HeldOrder, LookupResult


def body_of(request: bytes) -> dict:
    return json.loads(request.split(b"\r\n\r\n", 1)[1])


def test_weights_parse_and_keep_their_order():
    assert parse_products("a=3,b=1") == (ProductDemand("a", 3.0), ProductDemand("b", 1.0))
    assert parse_products(" tee-s=0.5 , tee.M_2=2 ") == (
        ProductDemand("tee-s", 0.5),
        ProductDemand("tee.M_2", 2.0),
    )


def test_a_stock_per_product_parses():
    assert parse_products("a=3:40,b=1:0") == (
        ProductDemand("a", 3.0, 40),
        ProductDemand("b", 1.0, 0),
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "expected sku=weight"),
        ("a=3,", "expected sku=weight"),
        ("a", "is not sku=weight"),
        ("=3", "is not sku=weight"),
        ("a b=3", "is not sku=weight"),
        ("x" * 65 + "=1", "is not sku=weight"),
        ("a=heavy", "is not a number"),
        ("a=0", "must be above 0"),
        ("a=-1", "must be above 0"),
        ("a=nan", "must be above 0"),
        ("a=3:", "is not a whole number"),
        ("a=3:-4", "is not a whole number"),
        ("a=3:4.5", "is not a whole number"),
        ("a=1,a=2", "names a more than once"),
        ("a=1:10,b=2", "give every product a :stock, or none"),
        (",".join(f"p{n}=1" for n in range(65)), "at most 64"),
    ],
)
def test_bad_forms_are_refused_with_the_part_named(text, says):
    with pytest.raises(ProductsError, match=says):
        parse_products(text)


def test_the_stock_is_split_equally_the_first_taking_the_remainder():
    mix = parse_products("a=1,b=1,c=1")
    assert product_stocks(mix, 100) == {"a": 34, "b": 33, "c": 33}
    assert product_stocks(mix, None) == {"a": 34, "b": 33, "c": 33}  # default 100
    assert product_stocks(mix, 2) == {"a": 1, "b": 1, "c": 0}


def test_a_stock_per_product_is_taken_as_given():
    mix = parse_products("a=3:40,b=1:10")
    assert product_stocks(mix, None) == {"a": 40, "b": 10}
    assert product_stocks(mix, 50) == {"a": 40, "b": 10}
    with pytest.raises(ProductsError, match="--stock 60 is not the sum"):
        product_stocks(mix, 60)


def test_the_admin_body_names_every_product_with_a_generated_catalogue_entry():
    assert sale_products(parse_products("a=3,b=1"), 7) == [
        {"sku": "a", "name": "a", "priceCents": 1000, "currency": "EUR", "stock": 4},
        {"sku": "b", "name": "b", "priceCents": 1000, "currency": "EUR", "stock": 3},
    ]


def test_the_pick_is_the_same_for_the_same_seed():
    mix = parse_products("a=3,b=2,c=1")
    first = pick_skus(mix, 1000, seed=7)
    assert first == pick_skus(mix, 1000, seed=7)
    assert first != pick_skus(mix, 1000, seed=8)
    assert pick_skus((), 10, seed=7) == []


def test_the_pick_follows_the_weights():
    picks = Counter(pick_skus(parse_products("a=3,b=1"), 10_000, seed=1))
    assert set(picks) == {"a", "b"}
    # Expected 0.75; one standard deviation is 0.004: 0.05 is very wide.
    assert abs(picks["a"] / 10_000 - 0.75) < 0.05


def test_each_plan_asks_for_its_drawn_sku():
    plans = build_plans(ScenarioOptions("bots", users=40, bots=5), "run")
    mix = parse_products("a=1,b=1")
    assigned = with_skus(plans, mix, seed=3)
    assert [plan.sku for plan in assigned] == pick_skus(mix, 40, seed=3)
    assert [plan.user for plan in assigned] == [plan.user for plan in plans]
    assert with_skus(plans, (), seed=3) == plans  # no mix: no sku
    assert UserPlan.from_row(assigned[0].to_row()) == assigned[0]  # it crosses processes


def test_every_purchase_body_names_the_plan_sku():
    plain = UserPlan("u1")
    assert body_of(purchase_requests(plain, "h")[0][0]) == {"userId": "u1"}  # as before
    shopper = UserPlan("u1", sku="tee-m")
    assert body_of(purchase_requests(shopper, "h")[0][0]) == {"userId": "u1", "sku": "tee-m"}
    bot = UserPlan("bot0", token="t", claims=("u7",), sku="tee-l")
    bodies = [(body_of(request), claimed) for request, claimed in purchase_requests(bot, "h")]
    assert bodies == [({"sku": "tee-l"}, ""), ({"userId": "u7", "sku": "tee-l"}, "u7")]


def test_the_mix_must_be_the_sale_products():
    mix = parse_products("a=1,zz=1")
    with pytest.raises(ProductsError, match="the sale has no product zz; its products are a, b"):
        demand_for(mix, ["a", "b"])
    with pytest.raises(ProductsError, match="lists no products"):
        demand_for(mix, [])
    assert demand_for(mix[:1], ["a", "b"]) == mix[:1]


def test_without_a_mix_one_product_gets_no_sku_and_several_an_even_spread():
    assert demand_for((), []) == ()  # a server from before products
    assert demand_for((), ["aurora-anc"]) == ()
    assert demand_for((), ["a", "b", "c"]) == tuple(ProductDemand(s, 1.0) for s in "abc")


def test_the_command_line_takes_the_mix_and_refuses_a_bad_one(capsys):
    args = build_parser().parse_args(shlex.split("flash --products a=3:40,b=1:10 --seed 9"))
    options = flash_options(args, "u", None, None)
    assert options.products == (ProductDemand("a", 3.0, 40), ProductDemand("b", 1.0, 10))
    assert options.seed == 9
    assert flash_options(build_parser().parse_args(["flash"]), "u", None, None).products == ()
    with pytest.raises(SystemExit):
        build_parser().parse_args(["flash", "--products", "a=x"])
    assert "weight 'x' of a is not a number" in capsys.readouterr().err


def test_a_look_up_lists_every_order_with_its_sku():
    body = [
        {"orderId": "o1", "userId": "u", "position": 3, "saleId": 2, "sku": "a"},
        {"orderId": "o2", "position": 9, "sku": "b"},
        "junk",
    ]
    assert held_orders(body) == (HeldOrder("o1", 3, "a", "2"), HeldOrder("o2", 9, "b", None))
    assert held_orders(None) == ()
    # A server from before products: the one top-level order.
    assert LookupResult("u", 200, "o1", 3, "2").held() == (HeldOrder("o1", 3, None, "2"),)
    assert LookupResult("u", 404).held() == ()
