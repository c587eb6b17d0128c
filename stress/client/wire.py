"""The stress client's HTTP/1.1: one asyncio protocol per connection, answers parsed
by httptools (the C parser uvicorn uses), one request at a time.

Not a client library on purpose. Measured on this 2-core host against the
service's status endpoint, client CPU per keep-alive request: aiohttp 80-119 µs,
asyncio streams with a hand parser 26-37 µs, this 21-27 µs; per request on a new
connection: aiohttp 300-355 µs, streams 152-159 µs, this 122-171 µs. Every
client cycle is one the server does not get, and a cheap client is what lets
thousands of shoppers press Buy within milliseconds of each other.

An answer can arrive before any request: a server over its connection bound
answers 503 at once. It is kept and returned to the next request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import httptools
import orjson

from stress.api import parse_retry_after

# What an answer that never finished, or a garbled one, raises to the caller.
WIRE_ERRORS = (OSError, TimeoutError, httptools.HttpParserError)


@dataclass(slots=True)
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; {} when it is none."""
        try:
            value = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def retry_after_s(self) -> float | None:
        return parse_retry_after(self.headers.get("retry-after"))


class ConnectionLost(ConnectionError):
    """The connection ended before the whole answer. `got_bytes` is False when not
    a byte of the answer came: on a reused connection, the server had closed it
    (keep-alive timeout) as the request went out, and a browser sends it again."""

    def __init__(self, message: str, *, got_bytes: bool) -> None:
        super().__init__(message)
        self.got_bytes = got_bytes


def request_bytes(
    method: str, path: str, host: str, *, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    """A whole request, built once and sent as it is."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def json_post(
    path: str,
    host: str,
    payload: dict[str, Any],
    *,
    close: bool = False,
    headers: dict[str, str] | None = None,
) -> bytes:
    headers = {"Content-Type": "application/json", **(headers or {})}
    if close:
        headers["Connection"] = "close"
    return request_bytes("POST", path, host, body=orjson.dumps(payload), headers=headers)


async def connect(host: str, port: int, source: str | None = None) -> HttpConnection:
    """A new connection; from the local address `source` when one is given."""
    local_addr = None if source is None else (source, 0)
    _, connection = await asyncio.get_running_loop().create_connection(
        HttpConnection, host, port, local_addr=local_addr
    )
    return connection


class HttpConnection(asyncio.Protocol):
    """One connection; `exchange` sends a request and returns its whole answer,
    `open_stream` returns an answer's head and hands each piece of its body to a
    callback until the connection ends (`closed`)."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._pending: asyncio.Future[Answer] | None = None
        self._early: Answer | None = None  # an answer that came before any request
        self._answer = Answer(0)
        self._body: list[bytes] = []
        self._on_body: Callable[[bytes], None] | None = None  # set while streaming
        self._got_bytes = False
        self.closed: asyncio.Future[None] = loop.create_future()
        self.requests_sent = 0
        self.written_ns = 0  # wall clock once the last request was handed to the kernel

    @property
    def is_open(self) -> bool:
        return not self.closed.done()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """Close at once, without waiting for buffered data (many streams at the end)."""
        if self._transport is not None:
            self._transport.abort()

    async def exchange(self, request: bytes) -> Answer:
        return await self.start(request)

    def start(self, request: bytes) -> asyncio.Future[Answer]:
        """Send `request` now, without yielding to the loop; the answer's future.
        Thousands of shoppers released together go out back to back this way."""
        future = asyncio.get_running_loop().create_future()
        if self._early is not None:
            future.set_result(self._early)
            self._early = None
        elif self._transport is None or not self.is_open:
            future.set_exception(ConnectionLost("connection already closed", got_bytes=False))
        else:
            self._pending, self._got_bytes = future, False
            self._transport.write(request)
            self.written_ns = time.time_ns()
            self.requests_sent += 1
        return future

    async def open_stream(self, request: bytes, on_body: Callable[[bytes], None]) -> Answer:
        """The answer's head (and whole body when it is not 200, e.g. a 503)."""
        self._on_body = on_body
        answer = await self.exchange(request)
        if answer.status != 200:
            self._on_body = None
        return answer

    # -- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._got_bytes = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)
            self.abort()

    def eof_received(self) -> bool | None:
        return None  # close the transport: an answer is never cut short by a half-close

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        self._fail(
            ConnectionLost(
                f"closed before the whole answer ({exc or 'EOF'})", got_bytes=self._got_bytes
            )
        )

    def _fail(self, exc: BaseException) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and not pending.done():
            pending.set_exception(exc)

    # -- httptools callbacks ------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._answer = Answer(0)
        self._body = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._answer.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._answer.status = self._parser.get_status_code()
        if self._on_body is not None and self._answer.status == 200:
            self._resolve(self._answer)

    def on_body(self, body: bytes) -> None:
        if self._on_body is not None and self._answer.status == 200:
            self._on_body(body)
        else:
            self._body.append(body)

    def on_message_complete(self) -> None:
        if self._on_body is not None and self._answer.status == 200:
            self.close()  # the server ended the stream
            return
        self._answer.body = b"".join(self._body)
        keep_alive = self._parser.should_keep_alive()
        self._resolve(self._answer)
        if not keep_alive:
            self.close()

    def _resolve(self, answer: Answer) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            if not pending.done():  # else the caller gave up waiting (its timeout)
                pending.set_result(answer)
        elif self.requests_sent == 0:
            self._early = answer
