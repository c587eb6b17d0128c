"""Several hosts of one Redis: how shoppers are spread over them, and the checks the
verdict adds (made-up records, look-ups and statuses; no network)."""

from __future__ import annotations

import shlex

import pytest

from stress.__main__ import build_parser
from stress.commands.flash import _hosts_refused
from stress.commands.options import flash_options
from stress.records import Record
from stress.scenarios.hosts import spread_over_hosts
from stress.scenarios.plans import UserPlan
from stress.verdicts.host_verdict import (
    confirmed_on_every_host,
    host_checks,
    limit_across_hosts,
    lookups_agree,
    statuses_agree,
)
from stress.verdicts.orders import LookupResult

URLS = ("http://127.0.0.1:1", "http://127.0.0.1:2")


def plans(count: int) -> list[UserPlan]:
    return [UserPlan(f"u{i}") for i in range(count)]


def test_shopper_i_buys_on_host_i_mod_n():
    spread = spread_over_hosts(plans(7), 3, two_each=False)
    assert [plan.hosts for plan in spread] == [(0,), (1,), (2,), (0,), (1,), (2,), (0,)]
    assert [plan.user for plan in spread] == [f"u{i}" for i in range(7)]


def test_two_hosts_each_buys_on_the_next_host_too():
    spread = spread_over_hosts(plans(4), 3, two_each=True)
    assert [plan.hosts for plan in spread] == [(0, 1), (1, 2), (2, 0), (0, 1)]
    pair = spread_over_hosts(plans(2), 2, two_each=True)
    assert [plan.hosts for plan in pair] == [(0, 1), (1, 0)]


def test_one_host_keeps_the_plans_as_they_are():
    original = plans(3)
    assert spread_over_hosts(original, 1, two_each=False) is original
    assert all(plan.hosts == (0,) for plan in original)
    with pytest.raises(ValueError, match="two hosts"):
        spread_over_hosts(original, 1, two_each=True)


def test_the_hosts_cross_to_the_client_processes():
    plan = spread_over_hosts(plans(2), 2, two_each=True)[1]
    assert UserPlan.from_row(plan.to_row()) == plan
    record = Record("u1", "purchase", 1, 0, 0, 201, "confirmed", host=1)
    assert Record.from_row(record.to_row()).host == 1


def test_the_command_line_takes_several_urls():
    args = build_parser().parse_args(
        shlex.split(f"flash --url {URLS[0]} --url {URLS[1]} --two-hosts-each")
    )
    assert _hosts_refused(args) is None and args.url == URLS[0]
    options = flash_options(args, args.url, None, None)
    assert options.urls == URLS and options.two_hosts_each
    one = build_parser().parse_args(shlex.split(f"flash --url {URLS[0]}"))
    assert _hosts_refused(one) is None
    single = flash_options(one, one.url, None, None)
    assert single.urls == (URLS[0],) and single.hosts == () and not single.two_hosts_each
    default = build_parser().parse_args(["flash"])
    assert _hosts_refused(default) is None and default.urls == ["http://127.0.0.1:8000"]
    alone = build_parser().parse_args(shlex.split(f"flash --url {URLS[0]} --two-hosts-each"))
    assert "two --url" in (_hosts_refused(alone) or "")
    twice = build_parser().parse_args(shlex.split(f"flash --url {URLS[0]} --url {URLS[0]}"))
    assert "twice" in (_hosts_refused(twice) or "")


def status(sold: int, total: int = 10, sale: int = 4) -> dict:
    product = {"sku": "tee", "sold": sold, "remaining": total - sold, "total": total}
    return {
        "saleId": sale,
        "sold": sold,
        "remaining": total - sold,
        "total": total,
        "products": [product],
    }


def confirmed(user: str, order: str, host: int) -> Record:
    return Record(user, "purchase", 1, 0, 1000, 201, "confirmed", 1, order, "4", host=host)


def found(user: str, *orders: str) -> LookupResult:
    if not orders:
        return LookupResult(user, 404)
    return LookupResult(user, 200, orders[0], 1, "4")


def test_hosts_that_disagree_on_sold_fail():
    check = statuses_agree([status(10), status(9)], URLS)
    assert not check.ok and "host 1" in check.detail and "sold 9" in check.detail
    assert statuses_agree([status(10), status(10)], URLS).ok
    # Another sale on one host is a disagreement too.
    assert not statuses_agree([status(10), status(10, sale=5)], URLS).ok


def test_a_201_missing_from_one_hosts_look_up_fails():
    records = [confirmed("a", "o1", 0)]
    both = [{"a": found("a", "o1")}, {"a": found("a", "o1")}]
    assert confirmed_on_every_host(records, both, URLS).ok
    one_misses = [{"a": found("a", "o1")}, {"a": found("a")}]
    check = confirmed_on_every_host(records, one_misses, URLS)
    assert not check.ok and "host 1 misses 1" in check.detail and "o1" in check.detail
    not_looked_up = [{"a": found("a", "o1")}, {}]
    assert not confirmed_on_every_host(records, not_looked_up, URLS).ok
    assert not lookups_agree(one_misses, URLS).ok
    assert lookups_agree(both, URLS).ok


def test_a_user_holding_two_orders_across_hosts_fails():
    # Each host sold to the same person once: two 201s, one from each host.
    records = [confirmed("a", "o1", 0), confirmed("a", "o2", 1)]
    lookups = [{"a": found("a", "o1")}, {"a": found("a", "o2")}]
    check = limit_across_hosts(records, lookups, 1)
    assert not check.ok and "o1" in check.detail and "o2" in check.detail
    assert "hosts [0, 1]" in check.detail
    # Without the 201s: the hosts' look-ups alone show two orders.
    assert not limit_across_hosts([], lookups, 1).ok
    assert limit_across_hosts(records, lookups, 2).ok


def test_a_sale_every_host_agrees_on_passes_every_check():
    records = [
        confirmed("a", "o1", 0),
        confirmed("b", "o2", 1),
        Record("c", "purchase", 1, 0, 1000, 410, "sold_out", host=1),
    ]
    lookups = {"a": found("a", "o1"), "b": found("b", "o2"), "c": found("c")}
    checks = host_checks(records, [lookups, dict(lookups)], [status(2), status(2)], URLS, 1)
    assert [check.name for check in checks] == [
        "every host's status agrees",
        "every 201 in every host's look-up",
        "every host's look-ups agree",
        "nobody over the per-user limit (1) across hosts",
    ]
    assert all(check.ok for check in checks), [check.detail for check in checks]
