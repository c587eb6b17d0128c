"""The metrics in Prometheus text format, through prometheus_client's exposition.

We keep our own shared-memory rows (one writer per row, summed at read time)
instead of prometheus_client's multiprocess mode: that mode keeps one mmap file
per process in a directory that must be wiped between runs and cleaned when
workers die, while our rows live in one anonymous mapping, survive worker
restarts by folding into a retired row, and also feed the JSON endpoints.
A custom collector turns a snapshot into metric families; the library does the
text format.

Names follow Prometheus's conventions (`promtool check metrics` is clean, a test
runs it on a real scrape): `_total` only on counters (the library adds it), the
unit last (`_seconds`, `_bytes`, `_items` for units of stock), and the build on
`flashsale_build_info`.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator
from importlib.metadata import version
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from flashsale.clock import now_us
from flashsale.metrics import MetricsSnapshot, SaleFigures, success_rate
from flashsale.observe import SENDER_SILENCE_S, ServerView
from flashsale.outcomes import REPORTED_OUTCOMES
from flashsale.shm.sale_board import QUEUE_STATES, ProductStock, SaleSnapshot
from flashsale.shm.slots import ADMIN_ACTIONS, LATENCY_BOUNDS_US, PID, Endpoint

BREAKER_STATES = ("closed", "open", "half_open")
# The states a sale's snapshot can be in (SaleSnapshot.state), each a series of
# flashsale_sale_state, 1 for the current one. `paused` is the admin API's
# (issue 23); a state the snapshot returns that is missing here gets its series too.
SALE_STATES = ("upcoming", "open", "paused", "sold_out", "ended")
# The installed package's version (pyproject.toml), read once.
VERSION = version("flashsale")


class FlashSaleCollector(Collector):
    def __init__(self, view: ServerView, breaker_json: Callable[[], dict[str, Any]]) -> None:
        self.view = view
        self.breaker_json = breaker_json

    def collect(self) -> Iterator[Metric]:
        view = self.view
        sale = view.board.sale()
        snapshot = MetricsSnapshot.read(view.slots, sale.sale_id if sale else None)
        yield InfoMetricFamily(
            "flashsale_build",
            "The running build: its version, Python's, and the engine",
            value={
                "version": VERSION,
                "python": platform.python_version(),
                "engine": view.engine["name"],
            },
        )
        requests = CounterMetricFamily(
            "flashsale_http_requests", "HTTP requests answered, by endpoint", labels=["endpoint"]
        )
        for endpoint in Endpoint:
            requests.add_metric([endpoint.name.lower()], snapshot.requests[endpoint])
        yield requests

        outcomes = CounterMetricFamily(
            "flashsale_purchases", "Purchase answers, by outcome", labels=["outcome"]
        )
        for outcome in REPORTED_OUTCOMES:
            outcomes.add_metric([outcome.word], snapshot.outcomes[outcome])
        yield outcomes

        cumulative, buckets = 0, []
        for bound_us, count in zip((*LATENCY_BOUNDS_US, None), snapshot.buckets, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound_us is None else f"{bound_us / 1e6:g}", cumulative))
        latency = HistogramMetricFamily(
            "flashsale_purchase_latency_seconds", "Time to answer a purchase"
        )
        latency.add_metric([], buckets, sum_value=snapshot.latency_sum_us / 1e6)
        yield latency

        if sale is not None:
            yield GaugeMetricFamily(
                "flashsale_stock_items", "Stock of the current sale", value=sale.stock
            )
            yield GaugeMetricFamily(
                "flashsale_stock_sold_items", "Durable sales of the current sale", value=sale.sold
            )
            yield GaugeMetricFamily(
                "flashsale_stock_remaining_items", "Items left to sell", value=sale.remaining
            )
            # An identity, not a measurement: a label on an info metric (one new
            # series per sale, and sales are few), joinable onto the stock gauges.
            yield InfoMetricFamily(
                "flashsale_sale", "The current sale", value={"sale_id": str(sale.sale_id)}
            )
            yield from _product_families(sale)
            yield _sale_state(sale.state(now_us()))
            if sale.queue is not None:
                yield from _queue_families(sale)
        if snapshot.sale is not None:
            yield from _sale_families(snapshot.sale)
        yield GaugeMetricFamily(
            "flashsale_queue_depth", "Purchases waiting for the allocator", value=snapshot.in_flight
        )
        yield GaugeMetricFamily(
            "flashsale_queue_depth_peak",
            "Most purchases waiting for the allocator at once since the server started",
            value=snapshot.queue_peak,
        )
        yield GaugeMetricFamily(
            "flashsale_open_event_streams",
            "Live pages: /flash-sale/events streams open on all workers",
            value=snapshot.open_streams,
        )
        yield GaugeMetricFamily(
            "flashsale_queue_capacity",
            "Most purchases allowed to wait",
            value=view.settings.queue_capacity,
        )
        allocator = view.allocator_json()
        yield GaugeMetricFamily(
            "flashsale_allocator_up", "1 when the allocator is alive", value=int(allocator["alive"])
        )
        yield CounterMetricFamily(
            "flashsale_allocator_restarts", "Allocators restarted", value=allocator["restarts"]
        )
        journal = view.store.status()
        yield GaugeMetricFamily(
            "flashsale_journal_writable",
            "1 while the journal can be written (else nothing is sold)",
            value=int(journal.writable),
        )
        yield CounterMetricFamily(
            "flashsale_journal_write_errors",
            "Journal writes (commits and probes) that failed",
            value=journal.errors,
        )
        yield GaugeMetricFamily(
            "flashsale_workers_alive", "Gunicorn workers alive", value=view.workers_json()["alive"]
        )
        breaker = self.breaker_json()
        state = GaugeMetricFamily(
            "flashsale_breaker_state", "1 for the breaker's current state", labels=["state"]
        )
        for name in BREAKER_STATES:
            state.add_metric([name], float(breaker["state"] == name))
        yield state
        yield CounterMetricFamily(
            "flashsale_breaker_trips", "Times the breaker opened", value=breaker.get("trips", 0)
        )
        yield _admin_actions(snapshot.admin_actions)
        yield from _webhook_families(view)
        yield from _process_families(view)


def _sale_state(current: str) -> Metric:
    family = GaugeMetricFamily(
        "flashsale_sale_state", "1 for the current sale's state", labels=["state"]
    )
    states = SALE_STATES if current in SALE_STATES else (*SALE_STATES, current)
    for state in states:
        family.add_metric([state], float(state == current))
    return family


def _sale_families(figures: SaleFigures) -> Iterator[Metric]:
    """The current sale's own figures, counted from zero when it started.

    The sale's id is a label, so each sale is series of its own that begin at
    zero, rather than a counter that goes back to zero mid-series; only the
    current sale's are exported, and sales are few.
    """
    sale_id = str(figures.sale_id)
    outcomes = CounterMetricFamily(
        "flashsale_sale_purchases",
        "Purchase answers of the current sale, by outcome",
        labels=["sale_id", "outcome"],
    )
    for outcome in REPORTED_OUTCOMES:
        outcomes.add_metric([sale_id, outcome.word], figures.outcomes[outcome])
    yield outcomes
    success = GaugeMetricFamily(
        "flashsale_sale_success_ratio",
        "Confirmed purchases among those decided, over the current sale",
        labels=["sale_id"],
    )
    success.add_metric([sale_id], success_rate(figures.outcomes))
    yield success
    peak = GaugeMetricFamily(
        "flashsale_sale_queue_depth_peak",
        "Most purchases waiting for the allocator at once during the current sale",
        labels=["sale_id"],
    )
    peak.add_metric([sale_id], figures.queue_peak)
    yield peak


def _admin_actions(counted: dict[tuple[str, str], int]) -> Metric:
    """Admin requests by action and outcome: each action's "ok" always, other
    outcomes once they happened (ADMIN_OUTCOMES bounds them)."""
    family = CounterMetricFamily(
        "flashsale_admin_actions",
        "Admin requests answered, by action and outcome (ok or the problem type)",
        labels=["action", "outcome"],
    )
    pairs = {(action, "ok"): 0 for action in ADMIN_ACTIONS if action != "other"} | counted
    for (action, outcome), count in pairs.items():
        family.add_metric([action, outcome], count)
    return family


def _webhook_families(view: ServerView) -> Iterator[Metric]:
    """The webhook sender's figures, only while webhooks are on."""
    figures = view.webhook_figures()
    if figures is None:
        return
    yield GaugeMetricFamily(
        "flashsale_webhook_sender_up",
        "1 when the webhook sender is alive",
        value=int(figures.alive(SENDER_SILENCE_S)),
    )
    yield CounterMetricFamily(
        "flashsale_webhook_sender_restarts", "Webhook senders restarted", value=figures.restarts
    )
    yield GaugeMetricFamily(
        "flashsale_webhook_backlog",
        "Webhook events neither delivered nor given up yet",
        value=figures.backlog,
    )
    yield GaugeMetricFamily(
        "flashsale_webhook_retrying",
        "Webhook events that failed and wait for their next try",
        value=figures.retrying,
    )
    yield GaugeMetricFamily(
        "flashsale_webhook_oldest_undelivered_age_seconds",
        "Age of the oldest webhook event not delivered yet (0: none)",
        value=figures.oldest_age_s(now_us()),
    )
    deliveries = CounterMetricFamily(
        "flashsale_webhook_deliveries",
        "Webhook tries, by outcome: delivered (a 2xx), failed (tried again later), "
        "gave_up (an event abandoned after FLASHSALE_WEBHOOK_MAX_AGE_S)",
        labels=["outcome"],
    )
    deliveries.add_metric(["delivered"], figures.delivered)
    deliveries.add_metric(["failed"], figures.failed)
    deliveries.add_metric(["gave_up"], figures.gave_up)
    yield deliveries


def _queue_families(sale: SaleSnapshot) -> Iterator[Metric]:
    """The current sale's waiting room: its tickets, how many wait, "now serving"."""
    state, length, serving, waiting = sale.queue_now
    yield GaugeMetricFamily(
        "flashsale_queue_tickets", "Tickets the waiting room has issued", value=length
    )
    yield GaugeMetricFamily(
        "flashsale_queue_waiting_tickets", "Tickets not admitted yet", value=waiting
    )
    yield GaugeMetricFamily(
        "flashsale_queue_serving_place", "The highest place admitted (now serving)", value=serving
    )
    open_state = GaugeMetricFamily(
        "flashsale_queue_state",
        "The waiting room's state (1 for the current one)",
        labels=["state"],
    )
    for code, word in enumerate(QUEUE_STATES):
        open_state.add_metric([word], 1 if code == state else 0)
    yield open_state


def _product_families(sale: SaleSnapshot) -> Iterator[Metric]:
    """Each product's stock, by sku: a sale has at most 64, so the labels stay few."""
    figures: dict[str, tuple[str, Callable[[ProductStock], int]]] = {
        "flashsale_product_stock_items": (
            "Stock of each product of the current sale",
            lambda item: item.product.stock,
        ),
        "flashsale_product_sold_items": ("Durable sales of each product", lambda item: item.sold),
        "flashsale_product_remaining_items": (
            "Items of each product left to sell",
            lambda item: item.remaining,
        ),
    }
    for name, (documentation, figure) in figures.items():
        family = GaugeMetricFamily(name, documentation, labels=["sku"])
        for item in sale.products:
            family.add_metric([item.product.sku], figure(item))
        yield family


def _process_families(view: ServerView) -> Iterator[Metric]:
    # Labelled by role and worker slot, not by pid: a pid label starts a series
    # for every worker ever forked, while the master gives a new worker the
    # lowest free slot, so slots stay as few as the most workers alive at once.
    # A recycled worker's counter then starts again from zero in its slot's
    # series, which rate() reads as the counter reset it is. The master and the
    # allocator have no slot: Prometheus treats slot="" as no slot label at all,
    # where a made-up value would repeat the role. The pid is an info metric's
    # label: only that series changes when a process is replaced.
    cpu = CounterMetricFamily(
        "flashsale_process_cpu_seconds",
        "User and system CPU time of each server process",
        labels=["role", "slot"],
    )
    memory = GaugeMetricFamily(
        "flashsale_process_resident_memory_bytes",
        "Resident memory of each server process",
        labels=["role", "slot"],
    )
    info = InfoMetricFamily(
        "flashsale_process", "Pid of each server process", labels=["role", "slot"]
    )
    # Read before the processes: a worker that starts in between has no slot
    # here yet and is left out of this scrape.
    slot_of = {view.slots.row(slot)[PID]: str(slot) for slot in view.slots.live_slots()}
    for usage in view.processes():
        slot = slot_of.get(usage.pid) if usage.role == "worker" else ""
        if slot is None:
            continue
        cpu.add_metric([usage.role, slot], usage.cpu_s)
        memory.add_metric([usage.role, slot], usage.resident_bytes)
        info.add_metric([usage.role, slot], {"pid": str(usage.pid)})
    yield cpu
    yield memory
    yield info


def registry_for(view: ServerView, breaker_json: Callable[[], dict[str, Any]]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FlashSaleCollector(view, breaker_json))
    return registry
