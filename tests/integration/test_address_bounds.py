"""Per-address bounds against a real server: one client address cannot take every
connection or every event stream of a worker, and other addresses are still served.

Client addresses are loopback addresses of their own (Linux routes all of
127.0.0.0/8 to lo): 127.0.0.1 is a trusted proxy by default, the others are
plain clients. One worker, so that its bounds are the server's.
"""

from __future__ import annotations

import json
import time

import requests

from tests.support.raw_http import RawAnswer, connect, exchange
from tests.support.server import wait_until
from tests.support.sse import RawStream, ask_for_stream

ATTACKER = "127.0.0.3"
SHOPPER = "127.0.0.2"
PROXY = "127.0.0.1"  # in FLASHSALE_FORWARDED_ALLOW_IPS by default
STATUS_GET = b"GET /flash-sale/status HTTP/1.1\r\nHost: x\r\n\r\n"
REFUSAL_LOG = "beyond the bound per address"


def _purchase(user_id: str) -> bytes:
    body = json.dumps({"userId": user_id}).encode()
    return (
        b"POST /flash-sale/purchase HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )


def _open_streams(url: str) -> int:
    return requests.get(f"{url}/flash-sale/metrics", timeout=5).json()["openEventStreams"]


def _assert_refused_per_address(answer: RawAnswer) -> None:
    assert answer.status == 429, answer
    assert int(answer.headers["retry-after"]) >= 1
    assert answer.headers["content-type"] == "application/problem+json"
    assert "address" in answer.json()["detail"]


def _refused_stream(port: int, source: str, forwarded: str | None = None) -> RawAnswer:
    stream = ask_for_stream(port, source, forwarded=forwarded)
    stream.close()  # a stream let through, where none should be
    _assert_refused_per_address(stream.answer)
    return stream.answer


def _stream(port: int, source: str, forwarded: str | None = None) -> RawStream:
    stream = ask_for_stream(port, source, forwarded=forwarded)
    assert stream.answer.status == 200, stream.answer
    return stream


def test_one_address_beyond_its_stream_bound_is_refused_and_another_streams_and_buys(
    start_server,
):
    server = start_server(
        workers=1, env={"FLASHSALE_EVENT_STREAMS_PER_ADDRESS": "3", "FLASHSALE_STOCK": "5"}
    )
    held = [_stream(server.port, ATTACKER) for _ in range(3)]
    try:
        for _ in range(5):
            _refused_stream(server.port, ATTACKER)
        shopper = _stream(server.port, SHOPPER)
        held.append(shopper)
        assert exchange(server.port, _purchase("next-door"), source=SHOPPER).status == 201
        assert _open_streams(server.url) == 4
        # A page that leaves gives its address's slot back.
        held.pop(0).close()
        wait_until(lambda: _open_streams(server.url) == 3, 30, message="a stream let go")
        held.append(_stream(server.port, ATTACKER))
    finally:
        for stream in held:
            stream.close()
    refusals = server.log().count(REFUSAL_LOG)
    assert 1 <= refusals <= 2, server.log()  # five refusals, logged once (no flood)


def test_one_address_beyond_its_connection_bound_is_refused_at_once_and_another_is_served(
    start_server,
):
    server = start_server(workers=1, env={"FLASHSALE_CONNECTIONS_PER_ADDRESS": "20"})
    # Twenty idle connections that send nothing: held until the head deadline (10 s).
    held = [connect(server.port, ATTACKER) for _ in range(20)]
    try:
        started = time.monotonic()
        for _ in range(50):
            refused = exchange(server.port, STATUS_GET, source=ATTACKER)
            _assert_refused_per_address(refused)
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json() == {
            "type": "/problems/too-many-connections",
            "title": "Too many connections from one address",
            "status": 429,
            "detail": "this address holds as many connections as one address may; "
            "try again in a second",
        }
        shopper = exchange(server.port, STATUS_GET, source=SHOPPER)
        assert shopper.status == 200
        assert shopper.json()["state"] == "open"
        assert exchange(server.port, _purchase("behind-the-flood"), source=SHOPPER).status == 201
        # Refused before anything was read: no deadline was waited for.
        assert time.monotonic() - started < 5.0
    finally:
        for conn in held:
            conn.close()
    wait_until(
        lambda: exchange(server.port, STATUS_GET, source=ATTACKER).status == 200,
        30,
        message="the address served again once its connections closed",
    )
    assert 1 <= server.log().count(REFUSAL_LOG) <= 2, server.log()


def test_behind_a_trusted_proxy_each_forwarded_address_has_its_own_streams(start_server):
    server = start_server(
        workers=1,
        env={"FLASHSALE_EVENT_STREAMS_PER_ADDRESS": "2", "FLASHSALE_CONNECTIONS_PER_ADDRESS": "3"},
    )
    held: list[RawStream] = []
    try:
        # Four streams through the proxy, over four of its connections: the proxy's
        # own connections are not counted against it (it carries many clients).
        for client in ("198.51.100.1", "198.51.100.2"):
            held += [_stream(server.port, PROXY, forwarded=client) for _ in range(2)]
        _refused_stream(server.port, PROXY, forwarded="198.51.100.1")
        # Behind proxies of its own, the client is the rightmost untrusted hop.
        _refused_stream(server.port, PROXY, forwarded="198.51.100.2, 127.0.0.1")
        held.append(_stream(server.port, PROXY, forwarded="198.51.100.3"))
        # An untrusted peer's X-Forwarded-For is not believed: it counts as itself.
        held += [_stream(server.port, ATTACKER, forwarded=f"203.0.113.{i}") for i in range(2)]
        _refused_stream(server.port, ATTACKER, forwarded="203.0.113.9")
        assert _open_streams(server.url) == 7
    finally:
        for stream in held:
            stream.close()


def test_an_untrusted_proxy_counts_as_one_address(start_server):
    server = start_server(
        workers=1,
        env={"FLASHSALE_CONNECTIONS_PER_ADDRESS": "3", "FLASHSALE_FORWARDED_ALLOW_IPS": "10.9.9.9"},
    )
    held = [connect(server.port, PROXY) for _ in range(3)]
    try:
        _assert_refused_per_address(exchange(server.port, STATUS_GET, source=PROXY))
        assert exchange(server.port, STATUS_GET, source=SHOPPER).status == 200
    finally:
        for conn in held:
            conn.close()
