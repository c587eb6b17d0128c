"""GET /flash-sale/events against a real server: what an open page is pushed, and what it costs."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime, timedelta

import requests

from tests.support.queue_shoppers import join
from tests.support.sales import start_next_sale
from tests.support.server import wait_until
from tests.support.sse import EVENTS_PATH, open_raw_stream, open_stream


def _buy(url: str, user_id: str) -> int:
    answer = requests.post(f"{url}/flash-sale/purchase", json={"userId": user_id}, timeout=10)
    return answer.status_code


def _open_streams(url: str) -> int:
    return requests.get(f"{url}/flash-sale/metrics", timeout=5).json()["openEventStreams"]


def test_a_page_gets_the_status_on_connect_then_every_change_to_sold_out(start_server):
    server = start_server(workers=2, env={"FLASHSALE_STOCK": "3"})
    stream = open_stream(server.url)
    try:
        assert stream.answer.headers["content-type"] == "text/event-stream"
        assert stream.answer.headers["cache-control"] == "no-cache"
        first = stream.next_event()
        retry_ms = stream.parser.retry_ms
        assert retry_ms is not None and retry_ms >= 1000  # EventSource's reconnect delay
        polled = requests.get(f"{server.url}/flash-sale/status", timeout=5)
        assert first.event == "status"
        assert first.id == polled.headers["etag"].strip('"')
        pushed = json.loads(first.data)
        assert set(pushed) == set(polled.json())
        assert (pushed["remaining"], pushed["state"]) == (3, "open")

        assert _buy(server.url, "first-buyer") == 201
        after_sale = stream.next_status()
        assert (after_sale["remaining"], after_sale["sold"]) == (2, 1)

        assert [_buy(server.url, f"buyer-{i}") for i in range(2)] == [201, 201]
        sold_out = stream.status_until(lambda status: status["state"] == "sold_out")
        assert (sold_out["remaining"], sold_out["sold"]) == (0, 3)
    finally:
        stream.close()


def test_an_idle_stream_gets_a_heartbeat(start_server):
    server = start_server(workers=1, env={"FLASHSALE_EVENTS_HEARTBEAT_S": "0.5"})
    stream = open_stream(server.url)
    try:
        assert stream.next_event().event == "status"
        stream.wait_for_heartbeat()
    finally:
        stream.close()


def test_beyond_the_bound_a_stream_gets_503_json_and_the_page_can_poll(start_server):
    server = start_server(workers=1, env={"FLASHSALE_MAX_EVENT_STREAMS": "2"})
    held = [open_stream(server.url) for _ in range(2)]
    try:
        refused = requests.get(f"{server.url}{EVENTS_PATH}", timeout=5)
        assert refused.status_code == 503
        assert int(refused.headers["retry-after"]) > 0
        assert refused.json()["title"] == "Too many event streams"
        assert "/flash-sale/status" in refused.json()["detail"]
        assert requests.get(f"{server.url}/flash-sale/status", timeout=5).status_code == 200
    finally:
        for stream in held:
            stream.close()
    wait_until(
        lambda: (
            requests.get(f"{server.url}{EVENTS_PATH}", stream=True, timeout=5).status_code == 200
        ),
        30,
        message="a stream admitted again once the others left",
    )


def test_other_methods_get_405(start_server):
    server = start_server(workers=1)
    answer = requests.post(f"{server.url}{EVENTS_PATH}", timeout=5)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET"
    assert answer.json()["title"] == "Method not allowed"


def test_pages_that_leave_are_let_go_and_the_others_stay_live(start_server):
    server = start_server(workers=2, env={"FLASHSALE_STOCK": "10"})
    staying = [open_stream(server.url) for _ in range(6)]
    leaving = [open_raw_stream(server.port) for _ in range(6)]
    try:
        wait_until(lambda: _open_streams(server.url) == 12, 30, message="12 streams open")
        for stream in staying:
            assert stream.next_status()["remaining"] == 10
        # Half of those leaving close at once, half only stop writing (a half-close):
        # both are pages gone.
        for i, conn in enumerate(leaving):
            if i % 2:
                conn.close()
            else:
                conn.shutdown(socket.SHUT_WR)
        wait_until(lambda: _open_streams(server.url) == 6, 30, message="6 streams let go")

        assert _buy(server.url, "after-the-leavers") == 201
        for stream in staying:
            assert stream.next_status()["remaining"] == 9
    finally:
        for stream in staying:
            stream.close()
        for conn in leaving:
            conn.close()
    wait_until(lambda: _open_streams(server.url) == 0, 30, message="every stream let go")


def test_open_streams_do_not_hold_up_a_graceful_stop(start_server):
    server = start_server(workers=2)
    streams = [open_stream(server.url) for _ in range(10)]
    for stream in streams:
        assert stream.next_event().event == "status"
    started = time.monotonic()
    assert server.stop() == 0
    # graceful_timeout is 20 s: a stop that waited for the streams would take that long.
    assert time.monotonic() - started < 15, server.log()
    for stream in streams:
        stream.close()


def test_a_page_that_sends_more_after_its_request_keeps_its_stream_until_it_leaves(start_server):
    server = start_server(workers=1, env={"FLASHSALE_STOCK": "5"})
    conn = open_raw_stream(server.port)
    try:
        # A request pipelined behind an answer that never ends could never be
        # answered: it is dropped, and the stream goes on.
        conn.sendall(b"GET /flash-sale/status HTTP/1.1\r\nHost: x\r\n\r\nand more")
        assert _buy(server.url, "after-the-noise") == 201
        received = b""
        while b'"sold":1' not in received:
            chunk = conn.recv(65536)
            assert chunk, "the stream ended"
            received += chunk
        assert b"HTTP/1.1" not in received  # nothing answered the pipelined request
        assert _open_streams(server.url) == 1
    finally:
        conn.close()
    wait_until(lambda: _open_streams(server.url) == 0, 30, message="the page let go")


def _read_until(conn: socket.socket, received: bytes, marker: bytes) -> bytes:
    while marker not in received:
        chunk = conn.recv(65536)
        assert chunk, "the stream ended"
        received += chunk
    return received


def _unchunk(body: bytes) -> tuple[list[bytes], bytes]:
    """The whole chunks at the start of `body`, and what follows them."""
    chunks = []
    while b"\r\n" in body:
        size_line, rest = body.split(b"\r\n", 1)
        size = int(size_line, 16)
        if len(rest) < size + 2:
            break
        assert rest[size : size + 2] == b"\r\n", "a chunk's length does not match"
        chunks.append(rest[:size])
        body = rest[size + 2 :]
    return chunks, body


def test_events_written_past_asgi_are_whole_chunks_and_plain_for_http_1_0(start_server):
    server = start_server(workers=1, env={"FLASHSALE_STOCK": "5"})
    chunked = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    plain = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        chunked.sendall(f"GET {EVENTS_PATH} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        plain.sendall(f"GET {EVENTS_PATH} HTTP/1.0\r\n\r\n".encode())
        heads = [_read_until(conn, b"", b"event: status") for conn in (chunked, plain)]
        assert b"transfer-encoding: chunked" in heads[0].lower()
        assert b"transfer-encoding" not in heads[1].lower()
        wait_until(lambda: _open_streams(server.url) == 2, 30, message="2 streams open")
        assert _buy(server.url, "direct") == 201

        body = heads[0].split(b"\r\n\r\n", 1)[1]
        received = _read_until(chunked, body, b'"sold":1')
        chunks, _ = _unchunk(received)
        while not any(b'"sold":1' in c for c in chunks):  # the end of its chunk to come
            more = chunked.recv(65536)
            assert more, "the stream ended"
            chunks, _ = _unchunk(received := received + more)
        assert all(c.endswith(b"\n\n") for c in chunks)  # one whole event or comment each

        plain_body = _read_until(plain, heads[1].split(b"\r\n\r\n", 1)[1], b'"sold":1')
        assert plain_body.startswith(b"retry: ")
        assert b"\r\n" not in plain_body  # no chunk framing on an HTTP/1.0 answer
    finally:
        chunked.close()
        plain.close()
    wait_until(lambda: _open_streams(server.url) == 0, 30, message="both pages let go")


def test_a_waiting_page_gets_now_serving_at_heartbeats_not_at_each_admission(start_server):
    heartbeat_s, token = 3.0, "admin-token-for-the-pushes"
    server = start_server(
        workers=2,
        env={"FLASHSALE_EVENTS_HEARTBEAT_S": str(heartbeat_s), "FLASHSALE_ADMIN_TOKEN": token},
    )
    starts_at = datetime.now(UTC) + timedelta(seconds=4)
    queue = {"admitPerMinute": 600, "shuffle": False}  # ten a second, 30 s for them all
    start_next_sale(server.url, token, stock=10, startsAt=starts_at.isoformat(), queue=queue)
    with requests.Session() as session:
        for n in range(300):
            join(server.url, f"waiting-{n}", session)
    stream = open_stream(server.url)
    try:
        first = stream.status_until(lambda status: status["queue"]["state"] == "admitting")
        assert first["heartbeatSeconds"] == heartbeat_s
        comments, pushed = stream.parser.comments, []
        began = time.monotonic()
        while (elapsed := time.monotonic() - began) < 4 * heartbeat_s:
            pushed.append(stream.next_status()["queue"]["serving"])
        # While it moves, "now serving" takes the heartbeats' place: no comment, and an
        # event a heartbeat or so, not one each admission (nor each 0.5 s).
        assert stream.parser.comments == comments
        assert 2 <= len(pushed) <= elapsed / (heartbeat_s / 2), pushed
        assert pushed == sorted(pushed) and pushed[-1] < 300, pushed
    finally:
        stream.close()
