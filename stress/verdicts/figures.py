"""Figures of a run, from the records alone: throughput, latency percentiles per
outcome, time to the last sale and to sold-out, and the series the charts draw."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from stress.records import Record
from stress.stats import latency_summary_ms

BIN_WIDTHS_S = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
MAX_TIME_BINS = 120
HISTOGRAM_BINS_PER_DECADE = 8
HISTOGRAM_FLOOR_MS = 0.1


def compute_figures(records: list[Record]) -> dict[str, Any]:
    purchases = [r for r in records if r.kind == "purchase"]
    polls = [r for r in records if r.kind == "status"]
    figures: dict[str, Any] = {
        "purchaseRequests": len(purchases),
        "statusPolls": len(polls),
        "users": len({r.user for r in purchases}),
    }
    if not purchases:
        return figures
    first_send = min(r.send_ns for r in purchases)
    last_answer = max(r.answer_ns for r in purchases)
    span_s = max((last_answer - first_send) / 1e9, 1e-9)
    answered = [r for r in purchases if r.http]
    sales = [r.answer_ns for r in purchases if r.http == 201]
    sold_out = [r.answer_ns for r in purchases if r.status == "sold_out"]

    by_outcome: dict[str, list[int]] = defaultdict(list)
    for record in purchases:
        by_outcome[record.outcome].append(record.latency_ns)
    figures.update(
        {
            "answered": len(answered),
            "durationS": round(span_s, 3),
            "requestsPerS": round(len(answered) / span_s, 1),
            "salesPerS": round(len(sales) / span_s, 1) if sales else 0.0,
            "firstRequestToLastSaleS": round((max(sales) - first_send) / 1e9, 4) if sales else None,
            "timeToSoldOutS": round((min(sold_out) - first_send) / 1e9, 4) if sold_out else None,
            "latencyMs": {
                "all": latency_summary_ms(r.latency_ns for r in purchases),
                **{name: latency_summary_ms(values) for name, values in sorted(by_outcome.items())},
            },
            "outcomes": {name: len(values) for name, values in sorted(by_outcome.items())},
            "answersPerInterval": answers_over_time(purchases, first_send),
            "latencyHistogram": latency_histogram(purchases),
        }
    )
    if polls:
        figures["statusPollLatencyMs"] = latency_summary_ms(r.latency_ns for r in polls)
    return figures


def answers_over_time(purchases: list[Record], origin_ns: int) -> dict[str, Any]:
    """Answers per second in time bins (by answer time), one series per outcome."""
    end_s = max(r.answer_ns for r in purchases) / 1e9 - origin_ns / 1e9
    width = next((w for w in BIN_WIDTHS_S if end_s / w <= MAX_TIME_BINS), BIN_WIDTHS_S[-1])
    bins = max(1, math.ceil(end_s / width + 1e-9))
    series: dict[str, list[float]] = {}
    for record in purchases:
        index = min(int((record.answer_ns - origin_ns) / 1e9 / width), bins - 1)
        row = series.setdefault(record.outcome, [0.0] * bins)
        row[index] += 1 / width
    return {
        "binWidthS": width,
        "startsS": [round(i * width, 3) for i in range(bins)],
        "perSecond": {name: [round(v, 2) for v in row] for name, row in sorted(series.items())},
    }


def latency_histogram(purchases: list[Record]) -> dict[str, Any]:
    """Counts of latencies in log-spaced bins (ms), one series per outcome."""
    values_ms = [max(r.latency_ns / 1e6, HISTOGRAM_FLOOR_MS) for r in purchases]
    # Bins start at the decade of the fastest answer, so the chart is not mostly empty.
    floor = 10 ** math.floor(math.log10(min(values_ms)))
    top = max(values_ms)
    decades = max(1, math.ceil(math.log10(top / floor) + 1e-9))
    count = decades * HISTOGRAM_BINS_PER_DECADE
    edges = [floor * 10 ** (i / HISTOGRAM_BINS_PER_DECADE) for i in range(count + 1)]
    series: dict[str, list[int]] = {}
    for record, value in zip(purchases, values_ms, strict=True):
        index = int(math.log10(value / floor) * HISTOGRAM_BINS_PER_DECADE)
        row = series.setdefault(record.outcome, [0] * count)
        row[min(max(index, 0), count - 1)] += 1
    return {
        "edgesMs": [round(edge, 4) for edge in edges],
        "counts": dict(sorted(series.items())),
    }
