"""An incremental parser of `text/event-stream` bodies (Server-Sent Events), as a
browser's EventSource reads them: fields `event`, `data`, `id` and `retry`,
comments (lines starting with `:`), events ended by a blank line, lines ended
by LF, CR or CRLF, even when a chunk ends mid-line.
"""

from __future__ import annotations

from dataclasses import dataclass

CR, LF = 13, 10


@dataclass(frozen=True, slots=True)
class SseEvent:
    event: str  # "message" when the stream named none
    data: str
    id: str | None  # the last event id the stream set, as EventSource keeps it


class SseParser:
    def __init__(self) -> None:
        self._pending = b""  # an unfinished line
        self._event = ""
        self._data: list[str] = []
        self.last_id: str | None = None
        self.retry_ms: int | None = None
        self.comments = 0  # heartbeats, for this service

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """The events that `chunk` completes, in order."""
        buffer = self._pending + chunk
        events: list[SseEvent] = []
        start = 0
        while True:
            end = _line_end(buffer, start)
            if end < 0:
                break
            after = end + 1
            if buffer[end] == CR:
                if after == len(buffer):
                    break  # a CR last: wait to see whether an LF follows
                if buffer[after] == LF:
                    after += 1
            line, start = buffer[start:end], after
            event = self._line(line.decode("utf-8", "replace"))
            if event is not None:
                events.append(event)
        self._pending = buffer[start:]
        return events

    def _line(self, line: str) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            self.comments += 1
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self.last_id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None  # a blank line without data dispatches nothing
        return SseEvent(event or "message", "\n".join(data), self.last_id)


def _line_end(buffer: bytes, start: int) -> int:
    """Index of the first CR or LF at or after `start`, or -1."""
    lf, cr = buffer.find(b"\n", start), buffer.find(b"\r", start)
    if lf < 0:
        return cr
    return lf if cr < 0 else min(lf, cr)
