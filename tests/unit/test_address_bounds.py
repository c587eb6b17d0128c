"""Per-address counting: which address a bound counts, the counts, and the refusals' log."""

from __future__ import annotations

import asyncio
import logging

import pytest

from flashsale.serving.address_bounds import (
    AddressCounts,
    ConnectionsByAddress,
    RefusalLog,
    address_key,
)


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),  # the same subscriber's network
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),  # an IPv4 client on a dual-stack socket
        ("<script>", None),
        ("192.0.2.7\tforged", None),
        ("", None),
    ],
)
def test_the_address_a_bound_counts(host, key):
    assert address_key(host) == key


def test_counts_hold_an_address_to_its_bound_and_forget_an_address_that_holds_nothing():
    counts = AddressCounts(2)
    assert [counts.take("a") for _ in range(3)] == [True, True, False]
    assert counts.take("b")
    assert (counts.held("a"), counts.held("b"), len(counts)) == (2, 1, 2)
    counts.give_back("a")
    assert counts.take("a")
    counts.give_back("b")
    assert len(counts) == 1  # a flood of distinct addresses leaves nothing behind


def test_a_bound_of_zero_counts_without_refusing():
    counts = AddressCounts(0)
    assert all(counts.take("a") for _ in range(1000))


def test_connections_of_a_trusted_proxy_or_a_unix_socket_are_not_counted():
    by_address = ConnectionsByAddress.create(1, lambda host: host == "10.0.0.1")
    assert by_address.admit(("10.0.0.1", 5000)) == ""
    assert by_address.admit(("10.0.0.1", 5001)) == ""  # a proxy: any number
    assert by_address.admit("") == ""  # a Unix socket's peer
    assert by_address.admit(("192.0.2.7", 5000)) == "192.0.2.7"

    async def refused() -> str | None:  # a refusal's log line may wait on the loop
        return by_address.admit(("192.0.2.7", 5001))

    assert asyncio.run(refused()) is None
    by_address.release("192.0.2.7")
    by_address.release("")  # not counted: nothing to give back
    assert by_address.admit(("192.0.2.7", 5002)) == "192.0.2.7"


def test_refusals_are_logged_at_once_then_as_one_count_an_interval(caplog):
    now = [100.0]

    async def scenario() -> None:
        refusals = RefusalLog("connections", 5, interval_s=10.0, clock=lambda: now[0])
        for _ in range(1000):
            refusals.note("192.0.2.7")
        now[0] += 10.0
        refusals.note("192.0.2.8")  # the interval is over: the 999 and this one
        refusals.note("192.0.2.9")
        refusals.write()  # what the interval's timer does at its end

    with caplog.at_level(logging.WARNING, logger="flashsale.bounds"):
        asyncio.run(scenario())
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "refused 1 connections beyond the bound per address (5 in this worker), "
        "the last from 192.0.2.7",
        "refused 1000 connections beyond the bound per address (5 in this worker), "
        "the last from 192.0.2.8",
        "refused 1 connections beyond the bound per address (5 in this worker), "
        "the last from 192.0.2.9",
    ]
