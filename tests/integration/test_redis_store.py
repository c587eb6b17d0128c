"""The Redis engine's function library, called through its client against a real
redis-server: decisions, exactly once, validation before any write, reloading."""

from __future__ import annotations

import os

import pytest
import redis

from flashsale.outcomes import Outcome
from flashsale.records import SaleTerms
from flashsale.redis_engine.store import BatchPurchase
from stress.servers.redis_server import RedisServer
from tests.support.catalogue import product
from tests.support.redis_store import REQUIRES_REDIS, fresh_store

pytestmark = REQUIRES_REDIS


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with RedisServer(tmp_path_factory.mktemp("redis")) as running:
        yield running


@pytest.fixture
def store(server):
    with fresh_store(server.url) as client:
        yield client


def buy(user: str, sku: str, *, expired: bool = False, request_id: bytes | None = None):
    return BatchPurchase(request_id or os.urandom(16), user, sku, expired)


def outcomes(result) -> list[Outcome]:
    return [decided.outcome for decided in result.decisions]


def test_a_batch_is_decided_in_order_per_product_and_across_the_sale(store):
    store.first_sale(
        SaleTerms((product("s41", 2), product("s42", 1, per_user_limit=1)), 2, None, None)
    )
    result = store.decide(
        [
            buy("ann", "s41"),
            buy("bob", "s42"),
            buy("cyd", "s42"),
            buy("ann", "s42"),
            buy("ann", "s41"),
            buy("dan", "s41"),
            buy("eve", "s99"),
            buy("ann", "s42"),
        ],
        rate_limit=0,
        window_s=60,
    )
    # ann buys s41, finds s42 sold out, buys a second s41 (the sale allows two each),
    # and then holds the most: her first order comes back.
    assert outcomes(result) == [
        Outcome.CONFIRMED,
        Outcome.CONFIRMED,
        Outcome.SOLD_OUT,
        Outcome.SOLD_OUT,
        Outcome.CONFIRMED,
        Outcome.SOLD_OUT,
        Outcome.UNKNOWN_PRODUCT,
        Outcome.ALREADY_PURCHASED,
    ]
    assert result.decisions[7].order == result.decisions[0].order
    assert result.sold == {"": 3, "s41": 2, "s42": 1}
    orders = store.orders_of_sale(result.sale_id)
    assert [(o.user_id, o.sku, o.position, o.sku_position, o.unit) for o in orders] == [
        ("ann", "s41", 1, 1, 1),
        ("bob", "s42", 2, 1, 1),
        ("ann", "s41", 3, 2, 2),
    ]
    assert [o.order_id for o in store.orders_of_user(result.sale_id, "ann")] == [
        orders[0].order_id,
        orders[2].order_id,
    ]


def test_a_batch_sent_again_gets_the_same_outcomes_and_sells_nothing_more(store):
    store.first_sale(SaleTerms((product("item", 1),), 1, None, None))
    batch = [buy("ann", "item"), buy("bob", "item")]
    first = store.decide(batch, rate_limit=0, window_s=60)
    again = store.decide(batch, rate_limit=0, window_s=60)  # a lost reply
    assert outcomes(first) == outcomes(again) == [Outcome.CONFIRMED, Outcome.SOLD_OUT]
    assert first.decisions[0].order == again.decisions[0].order
    assert again.sold == {"": 1, "item": 1}
    assert len(store.orders_of_sale(first.sale_id)) == 1


def test_an_expired_request_is_sold_nothing(store):
    store.first_sale(SaleTerms((product("item", 5),), 1, None, None))
    result = store.decide([buy("ann", "item", expired=True)], rate_limit=0, window_s=60)
    assert outcomes(result) == [Outcome.EXPIRED]
    assert result.sold[""] == 0


def test_the_sale_s_window_is_kept_by_redis_s_clock(store):
    far = 253_402_300_799_000_000  # 9999-12-31
    store.first_sale(SaleTerms((product("item", 5),), 1, far, None))
    assert outcomes(store.decide([buy("ann", "item")], 0, 60)) == [Outcome.NOT_STARTED]
    store.start_sale(SaleTerms((product("item", 5),), 1, None, 1_000_000))  # ended in 1970
    assert outcomes(store.decide([buy("ann", "item")], 0, 60)) == [Outcome.ENDED]


def test_the_rate_limit_counts_attempts_that_reach_redis(store):
    store.first_sale(SaleTerms((product("item", 5),), 1, None, None))
    result = store.decide([buy("bot", "item") for _ in range(4)], rate_limit=2, window_s=60)
    assert outcomes(result) == [
        Outcome.CONFIRMED,
        Outcome.ALREADY_PURCHASED,
        Outcome.RATE_LIMITED,
        Outcome.RATE_LIMITED,
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["10"],  # no window
        ["0", "60000", os.urandom(16), "ann"],  # a purchase cut short
        ["0", "60000", b"short-id", "ann", "item", "0"],
        ["0", "60000", os.urandom(16), "", "item", "0"],
        ["0", "60000", os.urandom(16), "ann", "item", "maybe"],
    ],
)
def test_a_malformed_batch_is_refused_before_anything_is_written(store, server, args):
    store.first_sale(SaleTerms((product("item", 5),), 1, None, None))
    raw = redis.Redis.from_url(server.url)
    good = [os.urandom(16), "first", "item", "0"]
    with pytest.raises(redis.ResponseError, match="malformed"):
        raw.fcall("flashsale_decide", 1, "{flashsale}:current", *args[:2], *good, *args[2:])
    assert raw.lrange("{flashsale}:sale:1:orders", 0, -1) == []
    assert raw.hlen("{flashsale}:sale:1:requests") == 0
    raw.close()


def test_a_redis_that_lost_the_library_gets_it_again(store, server):
    store.first_sale(SaleTerms((product("item", 5),), 1, None, None))
    raw = redis.Redis.from_url(server.url)
    raw.function_flush()
    raw.close()
    assert outcomes(store.decide([buy("ann", "item")], 0, 60)) == [Outcome.CONFIRMED]


def test_the_first_sale_is_made_once_by_hosts_starting_together(store):
    first = store.first_sale(SaleTerms((product("a", 5),), 1, None, None))
    second = store.first_sale(SaleTerms((product("b", 9),), 1, None, None))
    assert first == second
    sale = store.sale(first)
    assert [(p.sku, p.stock) for p in sale.terms.products] == [("a", 5)]
    started = store.start_sale(SaleTerms((product("c", 3),), 2, None, None))
    assert started.sale_id == first + 1
    assert store.state() == (started.sale_id, {"": 0, "c": 0}, 1)  # lifecycle version 1


def test_a_product_s_own_limit_is_kept_below_the_sale_s(store):
    store.first_sale(
        SaleTerms((product("cap", 5, per_user_limit=1), product("tee", 5)), 3, None, None)
    )
    result = store.decide([buy("ann", "cap"), buy("ann", "cap"), buy("ann", "tee")], 0, 60)
    assert outcomes(result) == [Outcome.CONFIRMED, Outcome.ALREADY_PURCHASED, Outcome.CONFIRMED]
    assert result.decisions[1].order.sku == "cap"
