"""How sharply the shoppers pressed Buy: the spread of their first attempts after
the release instant (or the sale's start), and the "not a burst" warning.

A burst whose first attempts leave over seconds is a ramp shaped by the client:
its latency figures then describe the client more than the server.
"""

from __future__ import annotations

from typing import Any

from stress.records import Record
from stress.stats import percentile

SPREAD_WARNING_MS = 100.0
# Scenarios whose shoppers all press Buy at one instant; ramp and soak spread
# their arrivals on purpose.
AT_ONE_INSTANT = ("burst", "bots", "prestart")


def release_spread(records: list[Record], origin_ns: int, origin: str) -> dict[str, Any] | None:
    """Send offsets of every shopper's first purchase attempt from `origin_ns`, in ms."""
    first: dict[str, int] = {}
    for record in records:
        if record.kind == "purchase" and record.send_ns < first.get(record.user, 1 << 63):
            first[record.user] = record.send_ns
    if not first:
        return None
    offsets_ms = sorted((send_ns - origin_ns) / 1e6 for send_ns in first.values())
    return {
        "firstAttempts": len(offsets_ms),
        "spreadMs": round(offsets_ms[-1] - offsets_ms[0], 2),
        "firstMs": round(offsets_ms[0], 2),
        "p50Ms": round(percentile(offsets_ms, 0.50) or 0.0, 2),
        "p99Ms": round(percentile(offsets_ms, 0.99) or 0.0, 2),
        "lastMs": round(offsets_ms[-1], 2),
        "origin": origin,
    }


def not_a_burst(spread: dict[str, Any] | None, threshold_ms: float) -> str | None:
    """The warning when the first attempts spread over more than `threshold_ms`."""
    if spread is None or spread["spreadMs"] <= threshold_ms:
        return None
    return (
        f"not a burst: the first attempts left over {spread['spreadMs']:g} ms "
        f"(over {threshold_ms:g} ms; p99 {spread['p99Ms']:g} ms after {spread['origin']}): "
        "the client shaped the arrival, and the latencies describe it more than the server"
    )
