"""A small progress bar on stderr (no dependency): a redrawn line on a terminal,
a plain line every few seconds otherwise (CI logs)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 30
PLAIN_EVERY_S = 5.0


class ProgressBar:
    def __init__(self, total: int, label: str, *, enabled: bool = True):
        self.total = max(1, total)
        self.label = label
        self.enabled = enabled
        self.stream: TextIO = sys.stderr
        self.is_tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self.last_plain = 0.0

    def update(self, done: int, extra: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        elapsed = now - self.started
        filled = int(BAR_WIDTH * min(done, self.total) / self.total)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        line = f"{self.label} [{bar}] {done}/{self.total} {elapsed:5.1f}s {extra}"
        if self.is_tty:
            self.stream.write("\r" + line[:160].ljust(100))
            self.stream.flush()
        elif now - self.last_plain >= PLAIN_EVERY_S:
            self.last_plain = now
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self, done: int, extra: str = "") -> None:
        if not self.enabled:
            return
        self.last_plain = 0.0
        self.update(done, extra)
        if self.is_tty:
            self.stream.write("\n")
            self.stream.flush()
