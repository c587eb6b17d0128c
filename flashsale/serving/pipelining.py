"""The HTTP/1 parser of a connection: gunicorn_h1c's, holding pipelined requests
in a queue of their own instead of dropping them.

gunicorn's connection loop parses one request, answers it, then takes back the
bytes that followed it (`remaining()`), resets the parser and feeds them again.
The C parser keeps at most 64 KiB of those bytes and drops the rest; the loop
then closes the connection without a word (1,000 pipelined purchases got one
answer). This parser gives the C parser at most SLICE_BYTES at a time, and
keeps what comes after a whole request in `pending`, in order, for as long as
that request is unanswered. The protocol bounds `pending` by reading no more
from the socket while it is large (flashsale.serving.protocol).
"""

from __future__ import annotations

from gunicorn_h1c import H1CProtocol

# What the C parser is given at once: far below its 64 KiB bound on the bytes
# after a request, and small enough that handing them back for each pipelined
# request costs little.
SLICE_BYTES = 8192


class PipeliningParser(H1CProtocol):
    """H1CProtocol, for gunicorn's connection loop, whose calls are, per request:
    feed() until a request is whole; remaining(); reset(); feed(what remaining() gave).
    """

    __slots__ = ("_fed_since_reset", "_pending")

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        # The bytes after the tail the C parser holds, while a request waits for its answer.
        self._pending = bytearray()
        self._fed_since_reset = 0

    @property
    def pending_bytes(self) -> int:
        return len(self._pending)

    @property
    def untouched(self) -> bool:
        """Whether not a byte of a next request has come since the last reset()."""
        return self._fed_since_reset == 0 and not self._pending

    def reset(self) -> None:
        super().reset()
        self._fed_since_reset = 0

    def feed(self, data: bytes) -> None:
        self._fed_since_reset += len(data)
        if self.is_complete:
            # A whole request waits for its answer: what follows waits behind it.
            self._pending += data
            return
        if len(data) <= SLICE_BYTES:
            # A request in one read, the usual case; or what remaining() gave back,
            # which comes before anything pending.
            super().feed(data)
        else:
            # A large read. Nothing is pending: bytes are only held behind a whole request.
            self._feed_slices(memoryview(data))
        if self._pending:
            self._feed_pending()

    def holds_more(self) -> bool:
        """Whether bytes wait after the current request (a pipelined request)."""
        return bool(self._pending) or bool(super().remaining())

    def remaining(self) -> bytes:
        """The bytes to parse next: the C parser's tail or, when it holds none,
        the first of `pending` (the loop feeds them back after reset())."""
        tail: bytes = super().remaining()
        if tail or not self._pending:
            return tail
        head = bytes(self._pending[:SLICE_BYTES])
        del self._pending[:SLICE_BYTES]  # deleting from a bytearray's front is cheap
        return head

    def _feed_slices(self, data: memoryview) -> None:
        for start in range(0, len(data), SLICE_BYTES):
            super().feed(data[start : start + SLICE_BYTES])
            if self.is_complete:
                self._pending += data[start + SLICE_BYTES :]
                return

    def _feed_pending(self) -> None:
        """Go on with the pending bytes until a request is whole or none are left."""
        pending = self._pending
        while pending and not self.is_complete:
            piece = bytes(pending[:SLICE_BYTES])
            del pending[:SLICE_BYTES]
            super().feed(piece)
