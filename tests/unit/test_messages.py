from __future__ import annotations

import os

import pytest

from flashsale.allocator.messages import (
    FrameBuffer,
    Kind,
    Reply,
    Request,
    frame,
    purchase_body,
    read_purchase_body,
)
from flashsale.outcomes import Outcome
from flashsale.records import order_id_for


def test_requests_and_replies_round_trip():
    request = Request(Kind.PURCHASE, 1, 3, 42, os.urandom(16), 10, 20, "émile".encode())
    assert Request.decode(request.encode()) == request
    reply = Reply(Kind.DECISION, Outcome.CONFIRMED, 42, request.request_id, 1, 1, 7, 99, b"x")
    assert Reply.decode(reply.encode()) == reply


def test_frames_are_reassembled_from_any_split():
    payloads = [os.urandom(n) for n in (0, 1, 48, 300)]
    stream = b"".join(frame(p) for p in payloads)
    for cut in range(len(stream)):
        buffer = FrameBuffer()
        assert buffer.feed(stream[:cut]) + buffer.feed(stream[cut:]) == payloads


def test_an_absurd_frame_length_is_refused():
    with pytest.raises(ValueError):
        FrameBuffer().feed(b"\x7f\xff\xff\xff")


def test_the_worker_decodes_a_reply_into_its_decision():
    from flashsale.allocator.client import decode_reply

    request_id = os.urandom(16)
    order_id = order_id_for(request_id)
    body = (order_id + "shoe-42").encode()
    sale = Reply(Kind.DECISION, Outcome.CONFIRMED, 9, request_id, 4, 1, 17, 1234, body)
    got_id, decision = decode_reply(sale.encode())
    assert got_id == request_id
    assert decision.outcome is Outcome.CONFIRMED
    assert decision.order is not None
    assert (decision.order.order_id, decision.order.sale_id, decision.order.position) == (
        order_id,
        4,
        17,
    )
    assert decision.order.sku == "shoe-42"
    assert (decision.order.unit, decision.order.purchased_at_us) == (1, 1234)
    refused = Reply(Kind.DECISION, Outcome.SOLD_OUT, 9, request_id).encode()
    assert decode_reply(refused)[1].outcome is Outcome.SOLD_OUT
    assert decode_reply(refused)[1].order is None
    started = Reply(Kind.SALE_STARTED, Outcome.CONFIRMED, 9, request_id, 5, body=b'{"a": 1}')
    assert decode_reply(started.encode())[1].body == b'{"a": 1}'


@pytest.mark.parametrize(
    ("user", "sku"), [("émile", "s"), ("a" * 64, "x" * 64), ("\u5c71\u7530", "a.b_c-d")]
)
def test_a_purchase_body_carries_the_user_and_the_sku(user, sku):
    assert read_purchase_body(purchase_body(user, sku)) == (user, sku)


def test_a_request_frames_itself_as_frame_of_its_encoding_would():
    request = Request(Kind.PURCHASE, 1, 3, 42, os.urandom(16), 10, 20, "émile".encode())
    assert request.frame() == frame(request.encode())
    assert FrameBuffer().feed(memoryview(request.frame() * 2)) == [request.encode()] * 2
