"""HTTP/1.1 as RFC 9110 and 9112 ask, against a real gunicorn: pipelined requests,
the Host field, absolute-form targets, bodies the server will not take, content codings."""

from __future__ import annotations

import asyncio
import gzip
import select
import socket

import pytest
import requests

from tests.support.load import journal_orders
from tests.support.raw_http import RawAnswer, exchange, parse_answer, purchase_head, split_answers
from tests.support.server import running_server

STATUS = b"GET /flash-sale/status HTTP/1.1\r\nHost: x\r\n\r\n"
STOCK = 5000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(
        tmp_path_factory.mktemp("conformance") / "journal.db",
        workers=2,
        env={"FLASHSALE_STOCK": str(STOCK)},
    ) as server:
        yield server


def purchase(user: str, *, extra: str = "") -> bytes:
    body = b'{"userId": "%s"}' % user.encode()
    return purchase_head(len(body), extra=extra) + body


def bought(server, user: str) -> bool:
    lookup = requests.get(f"{server.url}/flash-sale/purchase/{user}", timeout=10)
    assert lookup.status_code in (200, 404), lookup.text
    return lookup.status_code == 200


def assert_json_error(answer: RawAnswer, status: int) -> None:
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/problem+json", answer
    assert answer.json()["title"] and answer.json()["detail"], answer
    assert answer.json()["status"] == status, answer


async def _pipeline(port: int, data: bytes, count: int, *, half_close: bool) -> list[RawAnswer]:
    """Send `data` (`count` requests) on one connection while reading the answers;
    after a half-close, the server must then close."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send() -> None:
        writer.write(data)
        await writer.drain()
        if half_close:
            writer.write_eof()

    sender = asyncio.ensure_future(send())
    answers: list[RawAnswer] = []
    unread = b""
    try:
        async with asyncio.timeout(120):
            while len(answers) < count and (received := await reader.read(65536)):
                more, unread = split_answers(unread + received)
                answers += more
            if half_close:
                assert await reader.read() == b"", "the connection stays open after the answers"
            await sender
    finally:
        sender.cancel()
        writer.close()
    return answers


# -- pipelining ---------------------------------------------------------------------


def test_a_thousand_pipelined_purchases_are_all_answered_in_order(server):
    # 120 KB of requests: gunicorn kept 64 KiB behind the first request, then
    # closed the connection without a word after the first answer.
    users = [f"pipelined-{n}" for n in range(1000)]
    data = b"".join(purchase(user) for user in users)
    answers = asyncio.run(_pipeline(server.port, data, len(users), half_close=False))
    assert len(answers) == len(users)
    assert [answer.status for answer in answers] == [201] * len(users)
    assert [answer.json()["userId"] for answer in answers] == users
    assert set(users) <= set(journal_orders(server.db_path))


def test_pipelined_requests_beyond_the_read_bound_are_all_answered_then_the_close(server):
    # 440 KB of requests, more than the server holds unanswered: it stops reading,
    # and reads again as it answers. The client's half-close ends the connection
    # after the last answer, not after the first.
    count = 10_000
    answers = asyncio.run(_pipeline(server.port, STATUS * count, count, half_close=True))
    assert len(answers) == count
    assert {answer.status for answer in answers} == {200}


def test_a_few_pipelined_requests_then_a_half_close_are_all_answered(server):
    # As `printf ... | nc` sends them: the half-close came with the requests, and
    # only the first was answered.
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
        conn.sendall(STATUS * 3 + purchase("half-closing-pipeliner"))
        conn.shutdown(socket.SHUT_WR)
        reply = b""
        while received := conn.recv(65536):
            reply += received
    answers, rest = split_answers(reply)
    assert [answer.status for answer in answers] == [200, 200, 200, 201]
    assert rest == b""


def test_a_pipelining_client_that_reads_nothing_is_not_read_either(server):
    # Each answer (the OpenAPI document) is far larger than its request, so the
    # server soon cannot write, and then stops reading: the client's sends stall,
    # where a server that kept reading would hold everything sent in memory.
    padded = b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n\r\n" % (b"p" * 8000)
    block = memoryview(padded * 128)  # 1 MB
    limit = 64 * 1024 * 1024
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
        conn.setblocking(False)
        while sent < limit:
            _, writable, _ = select.select([], [conn], [], 3)
            if not writable:
                break  # nothing could be sent for 3 s: the server reads no more
            sent += conn.send(block[sent % len(block) :])
        assert sent < limit, "the server read 64 MB of requests it could not answer"
        # Still open: the answers the client did not read are there to read.
        conn.setblocking(True)
        first = parse_answer(conn.recv(1024 * 1024))
        assert first.status == 200
    assert requests.get(f"{server.url}/flash-sale/status", timeout=10).status_code == 200
    assert "Traceback" not in server.log()


# -- Host and the request target ------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        b"GET /flash-sale/status HTTP/1.1\r\n\r\n",
        b"GET /flash-sale/status HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET /flash-sale/status HTTP/1.1\r\nHost: a b\r\n\r\n",
        b"GET /flash-sale/status HTTP/1.1\r\nHost: a/b\r\n\r\n",
        b"GET /flash-sale/status HTTP/1.1\r\nHost: u@a\r\n\r\n",
    ],
    ids=["no Host", "two Hosts", "a Host with a space", "a Host with a path", "userinfo"],
)
def test_an_http_1_1_request_without_one_valid_host_is_400(server, head):
    assert_json_error(exchange(server.port, head), 400)


def test_hosts_that_are_valid_are_served(server):
    for host in (b"", b"127.0.0.1:8000", b"[::1]:8000", b"shop.example", b"xn--bcher-kva.example"):
        answer = exchange(
            server.port, b"GET /flash-sale/status HTTP/1.1\r\nHost: %s\r\n\r\n" % host
        )
        assert answer.status == 200, (host, answer)
    # HTTP/1.0 has no Host requirement.
    assert exchange(server.port, b"GET /flash-sale/status HTTP/1.0\r\n\r\n").status == 200


def test_an_absolute_form_target_is_routed_by_its_path(server):
    body = b'{"userId": "absolute-form"}'
    head = (
        b"POST http://127.0.0.1:%d/flash-sale/purchase HTTP/1.1\r\nHost: elsewhere\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (server.port, len(body))
    )
    answer = exchange(server.port, head + body)
    assert answer.status == 201, answer
    assert answer.json()["userId"] == "absolute-form"
    assert bought(server, "absolute-form")
    status = exchange(
        server.port, b"GET HTTP://shop.example/flash-sale/status?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    assert status.status == 200, status
    assert status.json()["total"] == STOCK


# -- bodies the server will not take ---------------------------------------------


def test_a_content_length_over_the_limit_gets_413_before_the_body(server):
    # The body never comes: the answer must not wait for it (the body deadline
    # would answer 408 after 10 s).
    answer = exchange(server.port, purchase_head(100_000), half_close=False, timeout_s=8)
    assert_json_error(answer, 413)
    assert answer.headers["connection"] == "close"


def test_a_body_over_the_limit_sent_at_once_gets_413(server):
    body = b'{"userId": "big-sender", "pad": "%s"}' % (b"x" * 800_000)
    answer = exchange(server.port, purchase_head(len(body)) + body)
    assert_json_error(answer, 413)
    assert not bought(server, "big-sender")


def test_a_client_that_sends_the_refused_body_anyway_is_not_reset(server):
    # Closed with the client's bytes unread, the connection would be reset: its
    # sends fail, and an answer still in flight is lost. The server reads them
    # and drops them, after its answer and its FIN.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(purchase_head(500_000))
        reply = b""
        while received := conn.recv(65536):
            reply += received
        assert_json_error(parse_answer(reply), 413)
        # A small send buffer: the body goes out only as fast as the server reads it.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
        conn.sendall(b"x" * 500_000)
        conn.shutdown(socket.SHUT_WR)
        assert conn.recv(1) == b""


def test_expect_100_continue_over_the_limit_gets_413_and_no_100(server):
    head = purchase_head(100_000, extra="Expect: 100-continue\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=8) as conn:
        conn.sendall(head)
        reply = b""
        while received := conn.recv(65536):
            reply += received
    assert not reply.startswith(b"HTTP/1.1 100"), reply
    assert_json_error(parse_answer(reply), 413)


def test_expect_100_continue_within_the_limit_gets_100_then_the_answer(server):
    body = b'{"userId": "expecting"}'
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(purchase_head(len(body), extra="Expect: 100-continue\r\n"))
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            interim += conn.recv(1)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        conn.sendall(body)
        conn.shutdown(socket.SHUT_WR)
        reply = b""
        while received := conn.recv(65536):
            reply += received
    answer = parse_answer(reply)
    assert answer.status == 201, answer
    assert answer.json()["userId"] == "expecting"


@pytest.mark.parametrize(
    ("user", "coding", "body"),
    [
        ("coded-plain", "gzip", b'{"userId": "coded-plain"}'),  # labelled gzip: it bought
        ("coded-gzip", "gzip", gzip.compress(b'{"userId": "coded-gzip"}')),
        ("coded-deflate", "deflate, identity", b'{"userId": "coded-deflate"}'),
        ("coded-unknown", "x-rot13", b'{"userId": "coded-unknown"}'),
    ],
    ids=["plain body labelled gzip", "gzip body", "deflate, identity", "unknown coding"],
)
def test_a_body_with_a_content_coding_gets_415(server, user, coding, body):
    head = purchase_head(len(body), extra=f"Content-Encoding: {coding}\r\n")
    answer = exchange(server.port, head + body)
    assert_json_error(answer, 415)
    assert answer.headers["accept-encoding"] == "identity"  # RFC 7694
    assert not bought(server, user)


def test_a_body_labelled_identity_is_read_as_it_is(server):
    answer = exchange(
        server.port, purchase("coded-identity", extra="Content-Encoding: identity\r\n")
    )
    assert answer.status == 201, answer


def test_nothing_here_broke_the_sale(server):
    # Runs last (file order): every sale journaled, none oversold.
    status = server.status()
    orders = journal_orders(server.db_path)
    assert status["sold"] == len(orders)
    assert status["sold"] + status["remaining"] == STOCK
    assert "Traceback" not in server.log()
