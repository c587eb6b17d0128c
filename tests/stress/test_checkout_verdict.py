"""The checkout verdict's pure checks (stress/verdicts/checkout.py) and --pay-delay."""

from __future__ import annotations

import random

import pytest

from stress.scenarios.pay_delay import PayDelayError, parse_pay_delay
from stress.verdicts.checkout import (
    HOLD_EXPIRED,
    Delivery,
    FinalOrder,
    Payment,
    Sample,
    WaitEntry,
    confirmed_within_stock,
    every_unit_settled,
    live_within_stock,
    payments_answered,
    waitlist_in_order,
    webhooks_complete,
)


def _order(n: int, state: str, sku: str = "A") -> FinalOrder:
    return FinalOrder(f"o{n}", f"u{n}", sku, n, state)


def test_confirmed_over_a_products_stock_fails() -> None:
    orders = [_order(1, "confirmed"), _order(2, "confirmed"), _order(3, "expired")]
    assert confirmed_within_stock(orders, {"A": 2}).ok
    assert not confirmed_within_stock(orders, {"A": 1}).ok


def test_a_sample_over_the_stock_or_more_held_than_live_fails() -> None:
    good = [Sample(0.0, 2, 2), Sample(0.1, 3, 1)]
    assert live_within_stock(good, 3).ok
    assert not live_within_stock([*good, Sample(0.2, 4, 0)], 3).ok
    assert not live_within_stock([Sample(0.0, 1, 2)], 3).ok
    assert not live_within_stock([], 3).ok


def test_an_order_still_held_or_held_units_in_the_status_fail() -> None:
    settled = [_order(1, "confirmed"), _order(2, "cancelled"), _order(3, "expired")]
    assert every_unit_settled(settled, Sample(9.0, 1, 0)).ok
    assert not every_unit_settled([*settled, _order(4, "held")], Sample(9.0, 2, 0)).ok
    assert not every_unit_settled(settled, Sample(9.0, 2, 1)).ok


def test_payments_on_time_late_refused_and_late_taken_back() -> None:
    states = {"o1": "confirmed", "o2": "expired", "o3": "confirmed"}
    payments = [
        Payment("o1", "A", 1.0, 2.0, 200),
        Payment("o2", "A", 3.0, 2.0, 409, HOLD_EXPIRED, refund_required=True),
        Payment("o3", "A", 3.0, 2.0, 200),  # a free unit taken back
    ]
    check = payments_answered(payments, states)
    assert check.ok, check.detail
    assert "refused (hold_expired, refundRequired) 1" in check.detail


@pytest.mark.parametrize(
    "payment",
    [
        Payment("o2", "A", 3.0, 2.0, 409, HOLD_EXPIRED, refund_required=False),
        Payment("o2", "A", 1.0, 2.0, 409, HOLD_EXPIRED, refund_required=True),  # early
        Payment("o2", "A", 1.0, 2.0, 200),  # 200 but the order ends expired
        Payment("o2", "A", 1.0, 2.0, 500),
    ],
)
def test_payments_answered_wrongly_fail(payment: Payment) -> None:
    assert not payments_answered([payment], {"o2": "expired"}).ok


def test_the_waitlist_in_join_order() -> None:
    positions = {"x1": 10, "x2": 12}
    entries = [
        WaitEntry("a", "A", 1, "offered", "x1"),
        WaitEntry("b", "A", 2, "offered", "x2"),
        WaitEntry("c", "A", 3, "waiting"),
    ]
    assert waitlist_in_order(entries, positions).ok
    passed_over = [WaitEntry("a", "A", 1, "closed"), WaitEntry("b", "A", 2, "offered", "x2")]
    assert not waitlist_in_order(passed_over, positions).ok
    swapped = [WaitEntry("a", "A", 1, "offered", "x2"), WaitEntry("b", "A", 2, "offered", "x1")]
    assert not waitlist_in_order(swapped, positions).ok


def test_webhooks_missing_contradicting_unknown_or_forged_fail() -> None:
    orders = [_order(1, "confirmed"), _order(2, "expired")]
    offered = [WaitEntry("c", "A", 1, "offered", "o2")]
    full = [
        Delivery("e1", "order.held", "o1"),
        Delivery("e2", "order.confirmed", "o1"),
        Delivery("e3", "order.held", "o2"),
        Delivery("e4", "order.expired", "o2"),
        Delivery("e5", "waitlist.offered", "o2"),
    ]
    check, figures = webhooks_complete(full, orders, offered, {"accepted": 5, "duplicate": 1})
    assert check.ok, check.detail
    assert figures["duplicates"] == 1
    assert not webhooks_complete(full[:-1], orders, offered, {})[0].ok
    wrong = [*full, Delivery("e6", "order.confirmed", "o2")]
    assert not webhooks_complete(wrong, orders, offered, {})[0].ok
    stranger = [*full, Delivery("e7", "order.held", "o9")]
    assert not webhooks_complete(stranger, orders, offered, {})[0].ok
    assert not webhooks_complete(full, orders, offered, {"forged": 1})[0].ok


def test_pay_delays_parse_and_draw_within_bounds() -> None:
    rng = random.Random(1)
    uniform = parse_pay_delay("uniform:0.5-3")
    assert all(0.5 <= uniform.draw(rng) <= 3 for _ in range(200))
    lognormal = parse_pay_delay("lognormal:median=1.5,sigma=0.6")
    draws = sorted(lognormal.draw(rng) for _ in range(2001))
    assert 1.2 < draws[1000] < 1.8  # the median
    assert parse_pay_delay("fixed:2").draw(rng) == 2
    for bad in ("normal:1", "uniform:3-1", "lognormal:median=0,sigma=1", "lognormal:mu=1"):
        with pytest.raises(PayDelayError):
            parse_pay_delay(bad)
