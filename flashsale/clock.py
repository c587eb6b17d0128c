"""Wall-clock times as the API shows them: microseconds since the epoch, ISO-8601 UTC."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from time import time_ns


def now_us() -> int:
    return time_ns() // 1000


def iso_from_us(moment_us: int | None) -> str | None:
    """`2026-12-01T17:17:50.634Z`: milliseconds, truncated, as datetime.isoformat does."""
    if moment_us is None:
        return None
    seconds, micros = divmod(moment_us, 1_000_000)
    return f"{_iso_second(seconds)}.{micros // 1000:03d}Z"


@functools.lru_cache(maxsize=256)
def _iso_second(seconds: int) -> str:
    # Most times shown are of this second (serverTime, a sale just made): a
    # datetime a second instead of one per time shown, on every status read.
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="seconds")[:-6]
