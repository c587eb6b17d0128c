"""A bound on repeated log records, so that no input can flood the log.

Once a malformed token wrote a traceback per request: 14,310 of them (22 MB)
in 5 s, on a volume that may hold the journal. Every process of the server
(master, allocator, workers) puts a RepeatLimit on each handler of the root
logger and of gunicorn's: records of one kind pass REPEATS_PER_WINDOW times
in WINDOW_S, the rest are counted, and one line says how many were not
written ('... repeated K more times in the last T s'), before the next
record that handler writes after the window, or at the process's exit.

Records are of one kind when they come from the same logger, level and call
(file, line, message template) and carry the same exception type raised at
the same place. A message built with its values inside (an f-string) would
be a new kind each time: past MAX_KINDS kinds in a window, records of new
kinds share one allowance, so the volume stays bounded whatever they say.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

REPEATS_PER_WINDOW = 10
WINDOW_S = 60.0
MAX_KINDS = 256
# gunicorn's own loggers do not propagate to the root logger: each has its handler.
LOGGERS = ("", "gunicorn.error", "gunicorn.access")
SUMMARY_TEMPLATE_CHARS = 200
# Records of any kind past MAX_KINDS in a window are counted as this one.
_OTHER_KINDS = ("other kinds",)

Kind = tuple[Any, ...]


@dataclass
class _Count:
    """One kind of record in its current window."""

    started_s: float
    written: int = 0
    dropped: int = 0
    # The first record not written, for the summary: not the record itself, whose
    # traceback would keep a request's frames alive for the window.
    example: _Example | None = None


@dataclass(frozen=True)
class _Example:
    name: str
    level: int
    pathname: str
    lineno: int
    what: str  # the message template, and the exception's type if any

    @classmethod
    def of(cls, record: logging.LogRecord) -> _Example:
        what = record.msg if isinstance(record.msg, str) else type(record.msg).__qualname__
        if record.exc_info and record.exc_info[0] is not None:
            what = f"{what} ({record.exc_info[0].__qualname__})"
        return cls(record.name, record.levelno, record.pathname, record.lineno, what)


class _Summary(logging.LogRecord):
    """The line that counts what was not written; it passes every limit."""


class RepeatLimit(logging.Filter):
    """A handler's filter: the first `repeats` records of a kind per `window_s` pass."""

    def __init__(
        self,
        handler: logging.Handler,
        *,
        repeats: int = REPEATS_PER_WINDOW,
        window_s: float = WINDOW_S,
        max_kinds: int = MAX_KINDS,
        clock_s: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._handler = handler
        self._repeats = repeats
        self._window_s = window_s
        self._max_kinds = max_kinds
        self._clock_s = clock_s
        self._after_fork()
        _LIMITS.add(self)

    def _after_fork(self) -> None:
        # In a child: the parent's counts are the parent's to report, and its
        # lock may have been held by a thread that the fork did not copy.
        self._lock = threading.Lock()
        self._counts: dict[Kind, _Count] = {}
        self._next_end_s = float("inf")  # when the earliest window ends

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record, _Summary):
            return True  # our own line, written once per window
        now_s = self._clock_s()
        with self._lock:
            summaries = self._end_windows(now_s) if now_s >= self._next_end_s else []
            allowed = self._admit(record, now_s)
        for summary in summaries:  # outside the lock: handle() calls this filter again
            self._handler.handle(summary)
        return allowed

    def flush(self) -> None:
        """Write the counts of every window still open (at the process's exit)."""
        with self._lock:
            summaries = self._end_windows(float("inf"), now_s=self._clock_s())
        for summary in summaries:
            self._handler.handle(summary)

    def _admit(self, record: logging.LogRecord, now_s: float) -> bool:
        kind = kind_of(record)
        count = self._counts.get(kind)
        if count is None and len(self._counts) >= self._max_kinds:
            kind = _OTHER_KINDS
            count = self._counts.get(kind)
        if count is None:
            count = self._counts[kind] = _Count(started_s=now_s)
            self._next_end_s = min(self._next_end_s, now_s + self._window_s)
        if count.written < self._repeats:
            count.written += 1
            return True
        count.dropped += 1
        if count.example is None:
            count.example = _Example.of(record)
        return False

    def _end_windows(self, until_s: float, now_s: float | None = None) -> list[_Summary]:
        """Close the windows that began `window_s` before `until_s`; their summaries."""
        now_s = until_s if now_s is None else now_s
        summaries: list[_Summary] = []
        next_end_s = float("inf")
        for kind, count in list(self._counts.items()):
            if count.started_s + self._window_s > until_s:
                next_end_s = min(next_end_s, count.started_s + self._window_s)
                continue
            del self._counts[kind]
            if count.example is not None:
                other = kind is _OTHER_KINDS
                summaries.append(_summary(count, now_s - count.started_s, other_kinds=other))
        self._next_end_s = next_end_s
        return summaries


def kind_of(record: logging.LogRecord) -> Kind:
    """What makes two records alike: logger, level, call, template, exception and its place."""
    template = record.msg if isinstance(record.msg, str) else type(record.msg).__qualname__
    raised: tuple[str, str, int] | None = None
    if record.exc_info and record.exc_info[0] is not None:
        trace = record.exc_info[2]
        while trace is not None and trace.tb_next is not None:
            trace = trace.tb_next
        where = (trace.tb_frame.f_code.co_filename, trace.tb_lineno) if trace else ("", 0)
        raised = (record.exc_info[0].__qualname__, *where)
    return (record.name, record.levelno, record.pathname, record.lineno, template, raised)


def _summary(count: _Count, lasted_s: float, *, other_kinds: bool) -> _Summary:
    example = count.example
    assert example is not None
    what = f"records of many kinds, the first {example.what}" if other_kinds else example.what
    # The template, quoted and cut: never the values, which may be anyone's input.
    return _Summary(
        name=example.name,
        level=example.level,
        pathname=example.pathname,
        lineno=example.lineno,
        msg="%r repeated %d more times in the last %.0f s (not written)",
        args=(what[:SUMMARY_TEMPLATE_CHARS], count.dropped, lasted_s),
        exc_info=None,
    )


_LIMITS: weakref.WeakSet[RepeatLimit] = weakref.WeakSet()


def _limits_after_fork() -> None:
    for limit in list(_LIMITS):
        limit._after_fork()


def flush() -> None:
    """Every limit of this process writes its open counts (it is about to exit)."""
    for limit in list(_LIMITS):
        limit.flush()


os.register_at_fork(after_in_child=_limits_after_fork)
atexit.register(flush)


def install(loggers: Iterable[str] = LOGGERS) -> None:
    """A RepeatLimit on every handler of `loggers` that has none yet (gunicorn makes
    new handlers for its loggers when it reloads): call it again after that."""
    for name in loggers:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(each, RepeatLimit) for each in handler.filters):
                handler.addFilter(RepeatLimit(handler))
