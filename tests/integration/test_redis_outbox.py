"""The Redis engine's webhook outbox against a real redis-server: events appended in the
decision's call only while webhooks are on, read as the same payload bytes the SQLite
engine writes, progress kept by the lease holder alone, and the stream pruned."""

from __future__ import annotations

import os
import time

import pytest

from flashsale.records import OrderRecord, SaleTerms
from flashsale.redis_engine.outbox import (
    LEASE_MS,
    RedisOutboxSource,
    RedisProgress,
    seq_of,
    stream_id,
)
from flashsale.redis_engine.store import BatchPurchase, RedisStore
from flashsale.webhooks.events import order_confirmed, sold_out
from stress.servers.redis_server import RedisServer
from tests.support.catalogue import product
from tests.support.redis_store import REQUIRES_REDIS, fresh_store
from tests.support.server import wait_until

pytestmark = REQUIRES_REDIS


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with RedisServer(tmp_path_factory.mktemp("redis")) as running:
        yield running


@pytest.fixture
def store(server):
    with fresh_store(server.url) as client:
        yield client


def other_store(server) -> RedisStore:
    return RedisStore(server.url, tag="flashsale", timeout_s=5.0)


def buy(user: str, sku: str) -> BatchPurchase:
    return BatchPurchase(os.urandom(16), user, sku, False)


def sell(store: RedisStore, *users: str, sku: str = "a") -> list[OrderRecord]:
    result = store.decide([buy(user, sku) for user in users], 0, 60)
    return [decided.order for decided in result.decisions if decided.order is not None]


def test_nothing_is_appended_while_webhooks_are_off(store):
    store.first_sale(SaleTerms((product("a", 2),), 1, None, None))
    assert len(sell(store, "ann", "bob", "cyd")) == 2
    assert store.client.exists("{flashsale}:outbox") == 0


def test_each_final_sale_and_the_sold_out_are_read_as_the_sqlite_engine_writes_them(store):
    store.enable_outbox()
    store.first_sale(SaleTerms((product("a", 2), product("b", 5)), 1, None, None))
    orders = sell(store, "ann", "bob", "cyd") + sell(store, "dan", sku="b")
    source = RedisOutboxSource(store)
    rows = source.after(0, 100)

    assert [(row.type, row.order_id) for row in rows] == [
        ("order.confirmed", orders[0].order_id),
        ("order.confirmed", orders[1].order_id),
        ("sale.sold_out", None),
        ("order.confirmed", orders[2].order_id),
    ]
    for row, order in zip([rows[0], rows[1], rows[3]], orders, strict=True):
        expected = order_confirmed(order)
        # The same bytes as events.py makes for the same order; only the id differs.
        assert (row.payload, row.sale_id, row.at_us) == (
            expected.payload,
            expected.sale_id,
            expected.at_us,
        )
        assert row.event_id == "evt_" + stream_id(row.seq)
    assert rows[2].payload == sold_out(1, "a", orders[1].purchased_at_us).payload
    # Read again (another delivery, another sender): the same bytes.
    assert source.after(0, 100) == rows
    assert source.after(rows[1].seq, 1) == [rows[2]]
    assert source.backlog_after(0, 0) == (4, rows[0].at_us)


def test_a_stream_id_is_one_integer_both_ways():
    assert stream_id(seq_of("1733482000123-7")) == "1733482000123-7"
    assert seq_of("5-0") < seq_of("5-1") < seq_of("6-0")


def test_progress_is_kept_by_the_lease_holder_alone_and_taken_over_when_it_lapses(store, server):
    store.enable_outbox()
    store.first_sale(SaleTerms((product("a", 10),), 1, None, None))
    sell(store, *(f"u{i}" for i in range(4)))
    rows = RedisOutboxSource(store).after(0, 10)
    first = RedisProgress(store, "host-1")
    second = RedisProgress(other_store(server), "host-2")
    assert first.leading() and first.term == 1
    assert not second.leading()

    # Out of order: the third finishes first; `through` moves once the gap closes.
    first.delivered(rows[2].seq)
    assert first.through_seq == 0
    first.failed(rows[0].seq, 1, 123, "HTTP 500")
    first.delivered(rows[0].seq)
    first.gave_up(rows[1].seq, rows[1].event_id, rows[1].type, rows[1].order_id, 9, "x", 1)
    assert first.through_seq == rows[2].seq
    first.delivered(rows[0].seq)  # sent again: counted once
    assert RedisOutboxSource(store).backlog_after(0, 0) == (1, rows[3].at_us)
    assert first.given_up_count() == 1

    # The holder stops answering: the lease lapses and another host's sender goes on
    # from the durable progress; the old holder's late writes change nothing.
    wait_until(second.leading, LEASE_MS / 1000 + 5, interval_s=0.1, message="a takeover")
    assert second.through_seq == rows[2].seq and second.retries() == {}
    assert not second.is_finished(rows[3].seq)
    first._renewed_at_s = float("-inf")  # its next look at the lease
    first.delivered(rows[3].seq)
    assert not first.leading()
    assert not RedisProgress(store, "host-3").is_finished(rows[3].seq)
    second.failed(rows[3].seq, 2, 456, "refused")
    third = RedisProgress(other_store(server), "host-3")
    second.close()  # a sender that stops lets the lease go at once
    assert third.leading() and third.retries() == {rows[3].seq: (2, 456)}
    third.close()


def test_finished_events_older_than_the_max_age_are_pruned(store):
    store.enable_outbox()
    store.first_sale(SaleTerms((product("a", 10),), 1, None, None))
    sell(store, "ann", "bob", "cyd")
    source = RedisOutboxSource(store)
    rows = source.after(0, 10)
    progress = RedisProgress(store, "host-1")
    assert progress.leading()
    progress.delivered(rows[0].seq)
    progress.delivered(rows[1].seq)
    now_us = time.time_ns() // 1000
    source.prune(progress.through_seq, now_us - 3_600_000_000)  # none is an hour old
    assert len(source.after(0, 10)) == 3
    source.prune(progress.through_seq, now_us + 1_000_000)  # all are "old": finished ones go
    assert source.after(0, 10) == [rows[2]]
    # The backlog still counts the one left; the reading position still works.
    assert source.backlog_after(0, 0) == (1, rows[2].at_us)
    assert progress.leading()
    progress.delivered(rows[2].seq)
    assert progress.through_seq == rows[2].seq
