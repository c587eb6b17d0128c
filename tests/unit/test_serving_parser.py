"""The HTTP/1 parser's pipelining, driven as gunicorn's connection loop drives it,
and the checks of a request head (flashsale.serving.pipelining, .request_head)."""

from __future__ import annotations

import random

import pytest

from flashsale.serving.pipelining import SLICE_BYTES, PipeliningParser
from flashsale.serving.request_head import (
    BAD_HOST,
    BAD_TARGET_HOST,
    NO_HOST,
    OriginForm,
    origin_form,
    refusal,
)


class Connection:
    """gunicorn's loop over one parser: after each whole request, remaining(),
    reset(), then feed() of what remaining() gave."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes]] = []
        self._body = b""
        self.parser = PipeliningParser(
            on_headers_complete=self._head,
            on_body=self._on_body,
            on_message_complete=lambda: None,
            limit_request_field_size=65536,  # heads longer than a slice
        )

    def _head(self) -> bool:
        self._body = b""
        self.requests.append((self.parser.path.decode(), b""))
        return False

    def _on_body(self, chunk: bytes) -> None:
        path, body = self.requests[-1]
        self.requests[-1] = (path, body + chunk)

    def read(self, data: bytes) -> None:
        self.parser.feed(data)
        while self.parser.is_complete:  # answered: on to the next one
            assert not self.parser.remaining_truncated
            pipelined = self.parser.remaining()
            self.parser.reset()
            if pipelined:
                self.parser.feed(pipelined)


def request(n: int, pad: int = 0, body: bytes = b"") -> bytes:
    head = f"POST /r/{n} HTTP/1.1\r\nHost: x\r\nX-Pad: {'p' * pad}\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def test_a_thousand_pipelined_requests_in_one_read_are_parsed_in_order():
    stream = [request(n, pad=n % 300, body=b"b" * (n % 50)) for n in range(1000)]
    connection = Connection()
    connection.read(b"".join(stream))  # 340 KB: gunicorn_h1c alone keeps 64 KiB of it
    assert connection.requests == [(f"/r/{n}", b"b" * (n % 50)) for n in range(1000)]
    assert connection.parser.pending_bytes == 0


@pytest.mark.parametrize("seed", range(5))
def test_pipelined_requests_are_parsed_in_order_from_reads_of_any_size(seed):
    rng = random.Random(seed)
    count = 400
    data = b"".join(
        request(n, pad=rng.randrange(0, 9000), body=b"x" * (n % 7)) for n in range(count)
    )
    connection, start = Connection(), 0
    while start < len(data):
        size = rng.choice(
            (1, 7, 500, SLICE_BYTES - 1, SLICE_BYTES, SLICE_BYTES + 1, 70_000, 256_000)
        )
        connection.read(data[start : start + size])
        start += size
    assert [path for path, _ in connection.requests] == [f"/r/{n}" for n in range(count)]
    assert connection.parser.pending_bytes == 0


def test_a_request_that_ends_on_a_slice_boundary_loses_nothing_after_it():
    # The C parser then holds no tail: what follows is all in `pending`.
    first = request(0)
    first = request(0, pad=SLICE_BYTES - len(first))
    assert len(first) == SLICE_BYTES
    connection = Connection()
    connection.read(first + request(1) + request(2, pad=20_000))
    assert [path for path, _ in connection.requests] == ["/r/0", "/r/1", "/r/2"]


def test_what_arrives_behind_a_whole_request_waits_until_it_is_answered():
    parser = PipeliningParser()
    parser.feed(request(0))
    assert parser.is_complete and not parser.holds_more()
    parser.feed(request(1) * 100)
    assert parser.pending_bytes == len(request(1)) * 100  # counted, to bound reading
    assert parser.holds_more()


def test_a_parser_is_untouched_until_a_byte_of_a_next_request_comes():
    # What a stopping worker asks before it closes a connection as idle.
    connection = Connection()
    assert connection.parser.untouched  # a new connection
    connection.read(request(0)[:10])
    assert not connection.parser.untouched  # half a head: not idle
    connection.read(request(0)[10:])
    assert connection.parser.untouched  # answered, and nothing after it
    connection.read(request(1) + b"P")
    assert not connection.parser.untouched  # a byte of the next one came with it
    behind = PipeliningParser()
    behind.feed(request(0) + request(1, pad=2 * SLICE_BYTES))
    assert behind.is_complete and behind.pending_bytes > 0
    assert not behind.untouched  # a request waits behind the one being answered


# -- the request head --------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "host", "length", "expected"),
    [
        ((1, 1), b"shop.example", 10, None),
        ((1, 1), b"", 0, None),  # empty: allowed when the target has no host
        ((1, 1), b"127.0.0.1:8000", 0, None),
        ((1, 1), b"[::1]:80", 0, None),
        ((1, 0), None, 0, None),
        ((1, 1), None, 0, NO_HOST),
        ((1, 1), b"a b", 0, BAD_HOST),
        ((1, 1), b"a/b", 0, BAD_HOST),
        ((1, 1), b"user@a", 0, BAD_HOST),
        ((1, 1), b"a:80x", 0, BAD_HOST),
        ((1, 1), b"a", 4096, None),
    ],
)
def test_a_head_is_refused_as_rfc_9112_says(version, host, length, expected):
    assert refusal(version, host, length, body_max_bytes=4096) == expected


def test_a_declared_body_over_the_limit_is_413():
    answer = refusal((1, 1), b"a", 4097, body_max_bytes=4096)
    assert answer is not None and answer.status == 413


def test_an_absolute_form_target_becomes_its_path():
    assert origin_form(b"/flash-sale/status") is None
    assert origin_form(b"*") is None
    assert origin_form(b"http://127.0.0.1:8000/flash-sale/purchase") == OriginForm(
        b"127.0.0.1:8000", b"/flash-sale/purchase", "/flash-sale/purchase"
    )
    assert origin_form(b"HTTPS://shop.example") == OriginForm(b"shop.example", b"/", "/")
    assert origin_form(b"http://a/flash-sale/purchase/%C3%A9") == OriginForm(
        b"a", b"/flash-sale/purchase/%C3%A9", "/flash-sale/purchase/é"
    )
    assert origin_form(b"http:///path") == BAD_TARGET_HOST
    assert origin_form(b"http://u@a/path") == BAD_TARGET_HOST
