"""Small numeric helpers of the figures: nearest-rank percentiles and latency summaries."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending sequence (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary_ms(latencies_ns: Iterable[int]) -> dict[str, float | int | None]:
    values = sorted(v / 1e6 for v in latencies_ns)
    return {
        "count": len(values),
        "p50": _round(percentile(values, 0.50)),
        "p95": _round(percentile(values, 0.95)),
        "p99": _round(percentile(values, 0.99)),
        "max": _round(values[-1] if values else None),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
