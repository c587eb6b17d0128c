from __future__ import annotations

import os

import pytest

from flashsale.allocator.protocol import FrameBuffer, Kind, Reply, Request, frame
from flashsale.outcomes import Outcome


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
