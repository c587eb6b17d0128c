"""Open pages (watchers of `GET /flash-sale/events`): their figures and the checks
the verdict adds for them, from what each saw (stress.records.PageRecord). Pure
functions, no network.

A page passes when its stream answered 200 and sent the status at once, and
when it showed the sale's end: `sold_out` within SOLD_OUT_WITHIN_MS of the last
sale, or (a sale that did not sell out) the final sold count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stress.records import PageRecord, Record
from stress.stats import latency_summary_ms, percentile
from stress.verdicts.check import Check, examples
from stress.verdicts.orders import LookupResult

SOLD_OUT_WITHIN_MS = 1000.0
EXAMPLES = 3


@dataclass(frozen=True, slots=True)
class LastSale:
    """When the sale's last item went, and how the run knows it."""

    at_ns: int
    source: str


def last_sale(records: list[Record], lookups: dict[str, LookupResult]) -> LastSale | None:
    """The latest decision time of the run's orders from the look-ups (`purchasedAt`,
    the allocator's clock as it decided, a little before the commit: a conservative
    origin); without it, the last 201 as the client received it."""
    decided = [
        lk.purchased_at_ns for lk in lookups.values() if lk.http == 200 and lk.purchased_at_ns
    ]
    if decided:
        return LastSale(max(decided), "the last order's purchasedAt (the allocator's decision)")
    received = [r.answer_ns for r in records if r.kind == "purchase" and r.http == 201]
    if received:
        return LastSale(max(received), "the last 201 as the client received it")
    return None


def page_figures(
    pages: list[PageRecord], last: LastSale | None, final_state: str | None
) -> dict[str, Any]:
    connected = [p for p in pages if p.connected]
    figures: dict[str, Any] = {
        "watchers": len(pages),
        "connected": len(connected),
        "refused": sum(1 for p in pages if p.http == 503),
        "failed": sum(1 for p in pages if not p.connected and p.http != 503),
        "endedEarly": sum(1 for p in connected if p.ended_ns),
        "firstEventMs": latency_summary_ms(p.first_event_ns - p.connect_ns for p in connected),
        "eventsPerPage": round(sum(p.events for p in connected) / len(connected), 2)
        if connected
        else None,
        "heartbeats": sum(p.heartbeats for p in connected),
    }
    if final_state == "sold_out" and last is not None:
        delays = sorted((p.sold_out_ns - last.at_ns) / 1e6 for p in connected if p.sold_out_ns)
        figures["soldOutDelayMs"] = {
            "count": len(delays),
            "missing": len(connected) - len(delays),
            **{
                name: _round(percentile(delays, fraction))
                for name, fraction in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
            },
            "from": last.source,
        }
    return figures


def page_checks(
    pages: list[PageRecord],
    last: LastSale | None,
    status_after: dict[str, Any] | None,
    within_ms: float = SOLD_OUT_WITHIN_MS,
) -> tuple[list[Check], list[str]]:
    """The checks of the open pages, and warnings (pages the server refused)."""
    if not pages:
        return [], []
    warnings: list[str] = []
    refused = [p for p in pages if p.http == 503]
    if refused:
        warnings.append(
            f"{len(refused)} of {len(pages)} pages were refused their stream "
            "(503 with Retry-After: over the server's FLASHSALE_MAX_EVENT_STREAMS)"
        )
    failed = [p for p in pages if not p.connected and p.http != 503]
    checks = [
        Check(
            "every open page got the status on connect",
            not failed,
            f"{len(pages) - len(refused) - len(failed)} of {len(pages)} pages got a status "
            f"event at once, {len(failed)} did not"
            + examples((_why(p) for p in failed), most=EXAMPLES),
        )
    ]
    connected = [p for p in pages if p.connected]
    ended = [p for p in connected if p.ended_ns]
    if ended:
        warnings.append(f"{len(ended)} event streams ended before the run did")
    status = status_after or {}
    if status.get("state") == "sold_out":
        checks.append(_check_sold_out_seen(connected, last, within_ms))
    elif isinstance(status.get("sold"), int):
        stale = [p for p in connected if p.last_sold != status["sold"]]
        checks.append(
            Check(
                "every open page shows the final stock",
                not stale,
                f"{len(connected) - len(stale)} of {len(connected)} pages last showed "
                f"sold {status['sold']}"
                + examples((f"page {p.page}: sold {p.last_sold}" for p in stale), most=EXAMPLES),
            )
        )
    return checks, warnings


def _check_sold_out_seen(
    connected: list[PageRecord], last: LastSale | None, within_ms: float
) -> Check:
    name = f"every open page showed sold_out within {within_ms:g} ms of the last sale"
    if last is None:
        return Check(name, False, "no sale of this run is known")
    late, missing = [], []
    for page in connected:
        if not page.sold_out_ns:
            missing.append(page)
        elif (page.sold_out_ns - last.at_ns) / 1e6 > within_ms:
            late.append(page)
    worst = max(
        ((p.sold_out_ns - last.at_ns) / 1e6 for p in connected if p.sold_out_ns), default=None
    )
    return Check(
        name,
        not late and not missing,
        f"{len(connected) - len(late) - len(missing)} of {len(connected)} in time, "
        f"{len(late)} late, {len(missing)} never; worst "
        f"{'-' if worst is None else f'{worst:.0f} ms'} after {last.source}"
        + examples(
            (f"page {p.page}: last showed {p.last_state or '-'}" for p in missing), most=EXAMPLES
        ),
    )


def _why(page: PageRecord) -> str:
    if page.error:
        return f"page {page.page}: {page.error}"
    return f"page {page.page}: answered {page.http}, no status event"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
