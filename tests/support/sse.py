"""A page's event stream, read as a test would: one event at a time, with a deadline."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import requests

EVENTS_PATH = "/flash-sale/events"


@dataclass
class Event:
    name: str | None = None  # None for a comment (a heartbeat)
    id: str | None = None
    data: str = ""
    retry_ms: int | None = None
    comment: str | None = None

    def json(self) -> dict:
        return json.loads(self.data)


class EventStream:
    """An open `GET /flash-sale/events`, read line by line."""

    def __init__(self, answer: requests.Response) -> None:
        self.answer = answer
        self._lines: Iterator[str] = answer.iter_lines(decode_unicode=True)

    def next(self) -> Event:
        """The next event or comment; a read timeout of the connection fails the test."""
        event = Event()
        for line in self._lines:
            if line == "":
                if event.name or event.comment is not None:
                    return event
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                event.comment = value
                return event
            if name == "event":
                event.name = value
            elif name == "id":
                event.id = value
            elif name == "data":
                event.data += value
            elif name == "retry":
                event.retry_ms = int(value)
        raise AssertionError("the stream ended")

    def next_status(self, timeout_s: float = 15.0) -> dict:
        """The data of the next status event, skipping heartbeats."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            event = self.next()
            if event.name == "status":
                return event.json()
        raise AssertionError(f"no status event within {timeout_s}s")

    def status_until(self, predicate: Callable[[dict], bool], timeout_s: float = 15.0) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.next_status(timeout_s)
            if predicate(status):
                return status
        raise AssertionError(f"no status event as wanted within {timeout_s}s")

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
