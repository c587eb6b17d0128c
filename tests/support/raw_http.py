"""HTTP/1.1 by hand, for requests no client library would send."""

from __future__ import annotations

import errno
import json
import socket
from contextlib import suppress
from dataclasses import dataclass


@dataclass(frozen=True)
class RawAnswer:
    status: int | None  # None: the server closed without answering
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def parse_answer(reply: bytes) -> RawAnswer:
    if not reply:
        return RawAnswer(None, {}, b"")
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawAnswer(int(lines[0].split()[1]), headers, body)


def exchange(
    port: int,
    data: bytes,
    *,
    half_close: bool = True,
    timeout_s: float = 10,
    source: str | None = None,
) -> RawAnswer:
    """Send `data` on a new connection (then half-close it), read until the server closes.

    `source`: the client's own address, any of 127.0.0.0/8 (Linux routes all of it to
    loopback), for a client the server must tell from another."""
    with connect(port, source, timeout_s) as conn:
        # A server that refuses a connection answers and closes before reading:
        # writing may then fail, and what it sent is still there to read.
        try:
            conn.sendall(data)
            if half_close:
                conn.shutdown(socket.SHUT_WR)
        except OSError as exc:
            if exc.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                raise
        reply = b""
        with suppress(ConnectionResetError):
            while chunk := conn.recv(65536):
                reply += chunk
    return parse_answer(reply)


def connect(port: int, source: str | None = None, timeout_s: float = 10) -> socket.socket:
    """A connection to the server on 127.0.0.1, from `source` if given."""
    return socket.create_connection(
        ("127.0.0.1", port), timeout=timeout_s, source_address=(source, 0) if source else None
    )


def purchase_head(body_length: int | None, *, extra: str = "") -> bytes:
    """The head of a JSON purchase: with a Content-Length, or chunked when None."""
    framing = (
        "Transfer-Encoding: chunked" if body_length is None else f"Content-Length: {body_length}"
    )
    return (
        "POST /flash-sale/purchase HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: application/json\r\n{framing}\r\n{extra}\r\n"
    ).encode()


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def split_answers(stream: bytes) -> tuple[list[RawAnswer], bytes]:
    """The whole answers at the start of `stream` (each framed by its
    Content-Length; an interim 1xx has no body), and the bytes after them."""
    answers = []
    while (end := stream.find(b"\r\n\r\n")) >= 0:
        head = parse_answer(stream[: end + 4])
        length = 0 if head.status is not None and head.status < 200 else None
        if length is None:
            length = int(head.headers.get("content-length", "0"))
        if len(stream) < end + 4 + length:
            break
        answers.append(parse_answer(stream[: end + 4 + length]))
        stream = stream[end + 4 + length :]
    return answers, stream
