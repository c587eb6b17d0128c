"""A page's event stream, read as a test would: one event at a time, parsed by the
stress toolkit's parser (stress.sse), as a browser's EventSource reads it."""

from __future__ import annotations

import json
import socket
from collections import deque
from collections.abc import Callable

import requests

from stress.sse import SseEvent, SseParser

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
