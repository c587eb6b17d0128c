"""Wall-clock times as the API shows them: microseconds since the epoch, ISO-8601 UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from time import time_ns


def now_us() -> int:
    return time_ns() // 1000


def iso_from_us(moment_us: int | None) -> str | None:
    if moment_us is None:
        return None
    moment = datetime.fromtimestamp(moment_us / 1e6, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
