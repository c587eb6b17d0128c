"""The HTTP/1 parser's pipelining, driven as gunicorn's connection loop drives it
(flashsale.serving.pipelining)."""

from __future__ import annotations

import random

import pytest

from flashsale.serving.pipelining import SLICE_BYTES, PipeliningParser


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
