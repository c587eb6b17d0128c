"""Whether the store can take sales, as the allocator last found it: the SQLite
journal can be written, or Redis answers (FLASHSALE_ENGINE says which).

Layout (int64 words):

  word  field               notes
  0     version             seqlock: odd while words 1-3 and the text are rewritten
  1     failing_since_us    0: writable; else when writes started failing
  2     errors              failed writes or calls (commits and probes) since the server started
  3     text_bytes          length of the error's text
  4-27  text                the last error, UTF-8, at most TEXT_BYTES

Written by the allocator only; the master's mapping outlives any allocator,
so a successor starts from what its predecessor last saw. Workers read
word 1 on every purchase (one load, no lock) and the rest for health.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flashsale.shm.segment import WORD_BYTES, Words

_VERSION, _FAILING_SINCE, _ERRORS, _TEXT_BYTES, _TEXT = range(5)
_TEXT_WORDS = 24
TEXT_BYTES = _TEXT_WORDS * WORD_BYTES
_READ_TRIES = 1000


@dataclass(frozen=True)
class StoreStatus:
    writable: bool
    failing_since_us: int | None
    errors: int
    error: str | None  # the last error, also once writable again


class StoreBoard:
    def __init__(self) -> None:
        self._words = Words(_TEXT + _TEXT_WORDS)

    # -- the allocator's side -------------------------------------------------
    def report_failure(self, error: str) -> None:
        text = error.encode("utf-8")[:TEXT_BYTES]
        words = self._words
        # Odd while writing, even after, also if a killed allocator left it odd.
        writing = (words[_VERSION] + 1) | 1
        words[_VERSION] = writing
        if not words[_FAILING_SINCE]:
            words[_FAILING_SINCE] = time.time_ns() // 1000
        words[_ERRORS] += 1
        self._text_view()[: len(text)] = text
        words[_TEXT_BYTES] = len(text)
        words[_VERSION] = writing + 1

    def report_writable(self) -> None:
        self._words[_FAILING_SINCE] = 0

    # -- every reader ---------------------------------------------------------
    def failing(self) -> bool:
        return self._words[_FAILING_SINCE] != 0

    def status(self) -> StoreStatus:
        words = self._words
        # Bounded: an allocator killed mid-write leaves the version odd, and a
        # torn text is better than a worker spinning forever.
        for _ in range(_READ_TRIES):
            before = words[_VERSION]
            since, errors = words[_FAILING_SINCE], words[_ERRORS]
            size = min(words[_TEXT_BYTES], TEXT_BYTES)
            text = bytes(self._text_view()[:size])
            if not before & 1 and words[_VERSION] == before:
                break
        return StoreStatus(
            writable=since == 0,
            failing_since_us=since or None,
            errors=errors,
            error=text.decode("utf-8", "replace") if size else None,
        )

    def _text_view(self) -> memoryview:
        return self._words.row(_TEXT, _TEXT_WORDS).cast("B")
