"""A page's event stream, read as a test would: one event at a time, parsed by the
stress toolkit's parser (stress.client.sse), as a browser's EventSource reads it."""

from __future__ import annotations

import json
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import requests

from stress.client.sse import SseEvent, SseParser
from tests.support.raw_http import RawAnswer, connect, parse_answer

EVENTS_PATH = "/flash-sale/events"


class EventStream:
    """An open `GET /flash-sale/events`; a read timeout of the connection fails the test."""

    def __init__(self, answer: requests.Response) -> None:
        self.answer = answer
        self.parser = SseParser()
        self._chunks = answer.iter_content(chunk_size=None)
        self._events: deque[SseEvent] = deque()

    def _read(self) -> None:
        chunk = next(self._chunks, None)
        if chunk is None:
            raise AssertionError("the stream ended")
        self._events.extend(self.parser.feed(chunk))

    def next_event(self) -> SseEvent:
        while not self._events:
            self._read()
        return self._events.popleft()

    def next_status(self) -> dict:
        event = self.next_event()
        assert event.event == "status", event
        return json.loads(event.data)

    def status_until(self, wanted: Callable[[dict], bool]) -> dict:
        while not wanted(status := self.next_status()):
            pass
        return status

    def wait_for_heartbeat(self) -> None:
        """Until a comment arrives, with no event meanwhile."""
        comments = self.parser.comments
        while self.parser.comments == comments:
            self._read()
            assert not self._events, "an event came where only a heartbeat was due"

    def close(self) -> None:
        self.answer.close()


def open_stream(base_url: str, *, read_timeout_s: float = 30.0) -> EventStream:
    answer = requests.get(f"{base_url}{EVENTS_PATH}", stream=True, timeout=(5, read_timeout_s))
    answer.raise_for_status()
    return EventStream(answer)


def open_raw_stream(port: int) -> socket.socket:
    """A stream on a bare socket, read up to its first event: for closing it by hand."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.sendall(f"GET {EVENTS_PATH} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    received = b""
    while b"event: status" not in received:
        chunk = conn.recv(65536)
        assert chunk, "the server closed the stream"
        received += chunk
    return conn


@dataclass
class RawStream:
    """A stream asked for on a bare socket: its answer and, when that is 200, the
    connection, open and past its first event."""

    answer: RawAnswer  # a refusal's whole answer; a stream's head only
    conn: socket.socket | None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def ask_for_stream(port: int, source: str, *, forwarded: str | None = None) -> RawStream:
    """GET the events from the client address `source` (any of 127.0.0.0/8), with an
    X-Forwarded-For when given, as a page behind that proxy would."""
    conn = connect(port, source)
    extra = f"X-Forwarded-For: {forwarded}\r\n" if forwarded else ""
    conn.sendall(f"GET {EVENTS_PATH} HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode())
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = conn.recv(65536)
        if not chunk:
            break
        received += chunk
    if received.startswith(b"HTTP/1.1 200"):
        while b"event: status" not in received:
            chunk = conn.recv(65536)
            assert chunk, "the server closed the stream"
            received += chunk
        return RawStream(parse_answer(received.partition(b"\r\n\r\n")[0]), conn)
    # A refusal: stop writing, and the server closes once it has answered.
    with conn:
        conn.shutdown(socket.SHUT_WR)
        while chunk := conn.recv(65536):
            received += chunk
    answer = parse_answer(received)
    if answer.headers.get("transfer-encoding") == "chunked":
        answer = RawAnswer(answer.status, answer.headers, _unchunked(answer.body))
    return RawStream(answer, None)


def _unchunked(body: bytes) -> bytes:
    whole = b""
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return whole
        whole, body = whole + body[:size], body[size + 2 :]
