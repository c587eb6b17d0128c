"""The stress client's HTTP/1.1 against a scripted local server: keep-alive,
an answer before the request, a connection lost before or during an answer,
and a chunked event stream read as it arrives."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from stress.client.watcher import PAGES_PER_SOURCE, page_source
from stress.client.wire import ConnectionLost, connect, json_post, request_bytes

TIMEOUT_S = 10.0
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def answer(status: int, body: bytes = b"{}", *extra: str) -> bytes:
    head = [
        f"HTTP/1.1 {status} X",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *extra,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + await reader.readexactly(length)


def run_against(handler: Handler, client: Callable[[str, int], Awaitable[None]]) -> None:
    """The client against a server running `handler` per connection; both sides end
    closed, so no socket outlives the test."""
    handlers: list[asyncio.Task[None]] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with asyncio.timeout(TIMEOUT_S):
                await client("127.0.0.1", port)
                await asyncio.gather(*handlers)
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(main())


def test_two_requests_on_one_kept_alive_connection():
    seen: list[bytes] = []

    async def handler(reader, writer):
        for n in range(2):
            seen.append(await read_request(reader))
            writer.write(
                answer(201 if n == 0 else 429, b'{"status":"ok","n":%d}' % n, "Retry-After: 3")
            )
        await writer.drain()
        writer.close()

    async def client(host, port):
        connection = await connect(host, port)
        first = await connection.exchange(json_post("/buy", host, {"userId": "u1"}))
        second = await connection.exchange(request_bytes("GET", "/s", host))
        assert (first.status, first.json(), first.headers["retry-after"]) == (
            201,
            {"status": "ok", "n": 0},
            "3",
        )
        assert second.status == 429 and second.retry_after_s == 3.0
        assert connection.requests_sent == 2 and connection.written_ns > 0
        connection.close()

    run_against(handler, client)
    assert seen[0].startswith(b"POST /buy HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    assert seen[0].endswith(b'\r\n\r\n{"userId":"u1"}')
    assert b"Content-Length: 15" in seen[0]
    assert seen[1] == b"GET /s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def test_an_answer_sent_before_any_request_is_the_next_requests_answer():
    # A server over its connection bound answers 503 at once, then closes.
    async def handler(reader, writer):
        writer.write(answer(503, b'{"title":"busy"}', "Retry-After: 1", "Connection: close"))
        await writer.drain()
        writer.close()

    async def client(host, port):
        connection = await connect(host, port)
        await connection.closed
        shed = await connection.exchange(request_bytes("GET", "/s", host))
        assert (shed.status, shed.json(), shed.retry_after_s) == (503, {"title": "busy"}, 1.0)
        assert connection.requests_sent == 0
        with pytest.raises(ConnectionLost):
            await connection.exchange(request_bytes("GET", "/s", host))

    run_against(handler, client)


@pytest.mark.parametrize("sent_before_close", [b"", b"HTTP/1.1 201 Created\r\nContent-Le"])
def test_a_connection_lost_says_whether_any_of_the_answer_came(sent_before_close):
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(sent_before_close)
        await writer.drain()
        writer.close()

    async def client(host, port):
        connection = await connect(host, port)
        with pytest.raises(ConnectionLost) as lost:
            await connection.exchange(request_bytes("GET", "/s", host))
        # Nothing came: the server had closed it; a browser sends the request again.
        assert lost.value.got_bytes is bool(sent_before_close)
        assert not connection.is_open

    run_against(handler, client)


def test_a_connection_close_answer_closes_the_connection():
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(answer(410, b'{"status":"sold_out"}', "Connection: close"))
        await writer.drain()
        await reader.read()  # until the client closes
        writer.close()

    async def client(host, port):
        connection = await connect(host, port)
        sold_out = await connection.exchange(request_bytes("GET", "/s", host))
        assert sold_out.json() == {"status": "sold_out"}
        await connection.closed

    run_against(handler, client)


def test_a_chunked_stream_is_handed_over_piece_by_piece_as_it_arrives():
    go_on = asyncio.Event()

    async def handler(reader, writer):
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n6\r\nevent:\r\n"
        )
        await writer.drain()
        await go_on.wait()
        writer.write(b"8\r\n status\n\r\n0\r\n\r\n")
        await writer.drain()
        await reader.read()
        writer.close()

    async def client(host, port):
        pieces: list[bytes] = []
        first = asyncio.get_running_loop().create_future()

        def on_body(piece: bytes) -> None:
            pieces.append(piece)
            if not first.done():
                first.set_result(None)

        connection = await connect(host, port)
        head = await connection.open_stream(request_bytes("GET", "/events", host), on_body)
        assert head.status == 200 and head.headers["content-type"] == "text/event-stream"
        await first  # the first piece came before the server wrote the rest
        assert pieces == [b"event:"]
        go_on.set()
        await connection.closed  # the server ended the stream
        assert b"".join(pieces) == b"event: status\n"

    run_against(handler, client)


def test_a_refused_stream_is_a_whole_answer():
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(answer(503, b'{"title":"Too many event streams"}', "Retry-After: 5"))
        await writer.drain()
        await reader.read()
        writer.close()

    async def client(host, port):
        connection = await connect(host, port)
        not_a_stream = lambda piece: pytest.fail("a 503 is no stream")  # noqa: E731
        refused = await connection.open_stream(request_bytes("GET", "/events", host), not_a_stream)
        assert refused.status == 503 and refused.json()["title"] == "Too many event streams"
        assert refused.retry_after_s == 5.0
        connection.close()

    run_against(handler, client)


def test_open_pages_on_loopback_connect_from_addresses_of_their_own():
    sources = [page_source(page, "127.0.0.1") for page in range(PAGES_PER_SOURCE * 3)]
    assert sources[0] == sources[PAGES_PER_SOURCE - 1] == "127.1.0.1"
    assert sources[PAGES_PER_SOURCE] == "127.1.0.2"
    assert len(set(sources)) == 3
    assert page_source(0, "localhost") == "127.1.0.1"
    # Elsewhere, and on IPv6, the system picks the address.
    assert page_source(0, "192.0.2.10") is None
    assert page_source(0, "::1") is None
    assert page_source(0, "shop.example") is None
