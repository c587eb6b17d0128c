"""The Redis engine's checkout holds, library.lua called through its client against a
real redis-server, where a rule is subtle: a released unit's slot is taken again and
its buyer may buy again; a re-sent purchase is the same hold; a late confirm takes
the unit back only when it is free, never past the stock; tokens are compared."""

from __future__ import annotations

import os
from typing import Any

import pytest

from flashsale.checkout_commands import CANCEL, CONFIRM, JOIN, CheckoutRequest
from flashsale.outcomes import Outcome
from flashsale.records import CheckoutTerms, SaleTerms
from flashsale.redis_engine.holds import answer_of, command_json, hold_token
from flashsale.redis_engine.store import BatchPurchase, RedisStore
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


def _sale(store: RedisStore, stock: int, hold_s: int) -> None:
    store.first_sale(SaleTerms((product("k", stock),), 1, None, None, CheckoutTerms(hold_s, 0)))


def _buy(store: RedisStore, user: str, request_id: bytes | None = None):
    purchase = BatchPurchase(request_id or os.urandom(16), user, "k", False)
    (decided,) = store.decide([purchase], 0, 1).decisions
    return decided


def _command(store: RedisStore, request: CheckoutRequest) -> Any:
    command, token = command_json(request, store.checkout_key())
    done = store.checkout(command)
    return answer_of(done.answer, done.sale_id, token), done


def test_a_released_slot_is_taken_again_and_its_buyer_may_buy_again(store) -> None:
    _sale(store, stock=2, hold_s=60)
    ann, bob = _buy(store, "ann"), _buy(store, "bob")
    assert (ann.outcome, bob.outcome) == (Outcome.HELD, Outcome.HELD)
    assert (ann.order.sku_position, bob.order.sku_position) == (1, 2)
    assert ann.expires_at_us is not None and ann.expires_at_us > ann.order.purchased_at_us
    assert _buy(store, "cyd").outcome is Outcome.SOLD_OUT

    answer, done = _command(store, CheckoutRequest(CANCEL, ann.order.order_id, shop=True))
    assert answer.status == 200 and answer.order["state"] == "cancelled"
    assert done.sold == {"": 1, "k": 1}
    again = _buy(store, "ann")  # her released order no longer counts against her limit
    assert again.outcome is Outcome.HELD
    assert (again.order.sku_position, again.order.position, again.order.unit) == (1, 3, 1)
    mine = store.orders_of_user(again.order.sale_id, "ann")
    assert [o.order_id for o in mine] == [again.order.order_id, ann.order.order_id]
    states = {r.order_id: r.state for r in store.checkout_of_user(again.order.sale_id, "ann")}
    assert states == {again.order.order_id: "held", ann.order.order_id: "cancelled"}


def test_a_resent_purchase_is_the_same_hold_with_the_same_token(store) -> None:
    _sale(store, stock=1, hold_s=60)
    request_id = os.urandom(16)
    first, second = _buy(store, "ann", request_id), _buy(store, "ann", request_id)
    assert first == second and first.outcome is Outcome.HELD
    token = hold_token(store.checkout_key(), first.order.order_id)
    wrong, _ = _command(
        store, CheckoutRequest(CONFIRM, first.order.order_id, "x" * 43, payment_ref="p")
    )
    assert (wrong.status, wrong.problem) == (403, "invalid-checkout-token")
    paid, _ = _command(
        store, CheckoutRequest(CONFIRM, first.order.order_id, token, payment_ref="p")
    )
    assert paid.status == 200 and paid.order["paymentRef"] == "p"
    assert _buy(store, "ann", request_id).outcome is Outcome.CONFIRMED  # as it is now


def _expired(store: RedisStore, order_id: str, sale_id: int) -> None:
    def done() -> bool:
        store.expire_all()
        rows = store.checkout_of_user(sale_id, "ann")
        return any(r.order_id == order_id and r.state == "expired" for r in rows)

    wait_until(done, timeout_s=30, interval_s=0.1, message="the hold never expired")


def test_a_late_confirm_takes_back_a_free_unit(store) -> None:
    _sale(store, stock=1, hold_s=1)
    ann = _buy(store, "ann")
    _expired(store, ann.order.order_id, ann.order.sale_id)
    assert store.state()[1] == {"": 0, "k": 0}
    answer, done = _command(
        store, CheckoutRequest(CONFIRM, ann.order.order_id, shop=True, payment_ref="p")
    )
    assert answer.status == 200 and answer.order["state"] == "confirmed"
    assert done.sold == {"": 1, "k": 1} and done.counts[b"expired:k"] == 0
    assert _buy(store, "bob").outcome is Outcome.SOLD_OUT


def test_a_late_confirm_is_refused_when_the_unit_went_to_the_waitlist(store) -> None:
    _sale(store, stock=1, hold_s=1)
    ann = _buy(store, "ann")
    joined, _ = _command(store, CheckoutRequest(JOIN, user_id="cat", sku="k"))
    assert joined.status == 201 and joined.entry["place"] == 1 and joined.entry["waitlistToken"]
    _expired(store, ann.order.order_id, ann.order.sale_id)
    (cat,) = store.orders_of_user(ann.order.sale_id, "cat")
    assert cat.sku_position == ann.order.sku_position and cat.position == 2
    answer, done = _command(
        store, CheckoutRequest(CONFIRM, ann.order.order_id, shop=True, payment_ref="p")
    )
    assert (answer.status, answer.problem) == (409, "hold-expired")
    assert answer.extensions["refundRequired"] is True
    assert done.sold == {"": 1, "k": 1}  # never more live units than the stock
    (entry,) = store.waitlist_of_user(ann.order.sale_id, "cat")
    assert (entry.state, entry.order_id) == ("offered", cat.order_id)
