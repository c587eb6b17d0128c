"""Wall-clock times as the API shows them: microseconds since the epoch, ISO-8601 UTC.

A sale's times are held as int64 microseconds, with -1 meaning "no time"
(flashsale.shm.sale_board), and shown with datetime: so a time the server
accepts lies between the epoch and the end of year 9999.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from time import time_ns

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST_US = 0
LATEST_US = (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC) - EPOCH) // timedelta(
    microseconds=1
)
RANGE_TEXT = "between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z"


def instant_us(moment: datetime) -> int:
    """Exact microseconds since the epoch (a float timestamp rounds 9999-12-31T23:59:59.999999
    up into year 10000)."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def representable(moment_us: int) -> bool:
    return EARLIEST_US <= moment_us <= LATEST_US


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
    # A time outside datetime's years (only an old journal could hold one) is
    # shown as the nearest it can show: the status must not fail over it.
    seconds = min(max(seconds, _FIRST_SECOND), _LAST_SECOND)
    return (EPOCH + timedelta(seconds=seconds)).isoformat(timespec="seconds")[:-6]


_FIRST_SECOND = (datetime(1, 1, 1, tzinfo=UTC) - EPOCH) // timedelta(seconds=1)
_LAST_SECOND = LATEST_US // 1_000_000
