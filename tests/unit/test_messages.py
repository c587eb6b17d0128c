from __future__ import annotations

import os

import pytest

from flashsale.admin_commands import (
    AdminAnswer,
    AdminRequest,
    AuditContext,
    ChangeSale,
    CreateSale,
    RecordRefusal,
)
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
from flashsale.records import Lifecycle, Phase, SaleRecord, SaleTerms, order_id_for
from flashsale.sale_lifecycle import PAUSE, SET_END, Change
from tests.support.catalogue import product


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
    answered = Reply(Kind.ADMIN_ANSWER, Outcome.CONFIRMED, 9, request_id, 5, body=b'{"a": 1}')
    assert decode_reply(answered.encode())[1].body == b'{"a": 1}'


@pytest.mark.parametrize(
    ("user", "sku"), [("émile", "s"), ("a" * 64, "x" * 64), ("\u5c71\u7530", "a.b_c-d")]
)
def test_a_purchase_body_carries_the_user_and_the_sku(user, sku):
    assert read_purchase_body(purchase_body(user, sku)) == (user, sku)


def test_a_request_frames_itself_as_frame_of_its_encoding_would():
    request = Request(Kind.PURCHASE, 1, 3, 42, os.urandom(16), 10, 20, "émile".encode())
    assert request.frame() == frame(request.encode())
    assert FrameBuffer().feed(memoryview(request.frame() * 2)) == [request.encode()] * 2


@pytest.mark.parametrize(
    "command",
    [
        CreateSale(SaleTerms((product(stock=3),), 1, 5, None), 2, ('"sale-2-v3"', "*"), "k", "f"),
        CreateSale(SaleTerms((product(stock=3),), 1, None, 9)),
        ChangeSale(4, Change(SET_END, 1_700_000_000_000_001), ('"sale-4-v1"',)),
        ChangeSale(4, Change(PAUSE)),
        RecordRefusal(401, "invalid-token", None, None),
    ],
)
def test_an_admin_command_and_its_answer_travel_whole(command):
    context = AuditContext("PATCH", "/p", '{"é": 1}', True, "2001:db8::1", "none", "*", "k")
    request = AdminRequest(command, context)
    assert AdminRequest.decode(request.encode()) == request
    sale = SaleRecord(
        4, 3, SaleTerms((product(stock=3),), 1, None, 9), 7, Lifecycle(Phase.PAUSED, 3, 8, None)
    )
    answer = AdminAnswer(200, None, {"saleId": 4}, sale, {"": 1, "item": 1}, 11, True)
    assert AdminAnswer.decode(answer.encode()) == answer
