"""Operator endpoints: health, metrics as JSON, and /metrics for Prometheus."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon
import falcon.asgi
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from flashsale.api.bearer import BearerAuth
from flashsale.api.representations import sale_json
from flashsale.clock import iso_from_us, now_us
from flashsale.metrics import THROUGHPUT_WINDOW_S, MetricsSnapshot, SaleFigures, success_rate
from flashsale.observe import ServerView
from flashsale.outcomes import REPORTED_OUTCOMES, Outcome
from flashsale.prometheus import registry_for
from flashsale.shm.slots import ADMIN_ACTIONS, Endpoint


class HealthResource:
    """200 or 503 for load balancers, open to all; the detail (processes, restarts,
    the breaker) only with the operator token when one is set."""

    def __init__(
        self,
        view: ServerView,
        breaker_json: Callable[[], dict[str, Any]],
        auth: BearerAuth | None,
    ) -> None:
        self.view = view
        self.breaker_json = breaker_json
        self.auth = auth

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        problems = self.view.problems()
        healthy = not problems
        resp.status = falcon.HTTP_200 if healthy else falcon.HTTP_503
        resp.cache_control = ["no-store"]
        if self.auth is not None and not await self.auth.presented(req):
            resp.media = {"status": "ok" if healthy else "unhealthy"}
            return
        resp.media = {
            "status": "ok" if healthy else "unhealthy",
            "problems": problems,
            "uptimeSeconds": self.view.uptime_s(),
            "allocator": self.view.allocator_json(),
            "journal": self.view.store_json(),
            "engine": self.view.engine,
            # null while webhooks are off; a dead sender shows here, not in the status.
            "webhooks": self.view.webhooks_json(),
            "breaker": self.breaker_json(),
            "workers": self.view.workers_json(),
            # Each process's memory (and CPU time), as in the metrics.
            "processes": self.view.processes_json(),
            "serverTime": iso_from_us(now_us()),
        }


def metrics_json(view: ServerView, breaker: dict[str, Any]) -> dict[str, Any]:
    sale = view.board.sale()
    snapshot = MetricsSnapshot.read(view.slots, sale.sale_id if sale else None)
    return {
        "uptimeSeconds": view.uptime_s(),
        "requests": {
            "total": sum(snapshot.requests.values()),
            **{e.name.lower(): snapshot.requests[e] for e in Endpoint},
        },
        "outcomes": _outcomes_json(snapshot.outcomes),
        "successRate": success_rate(snapshot.outcomes),
        "latencyMs": {
            "p50": snapshot.latency_percentile_ms(0.50),
            "p95": snapshot.latency_percentile_ms(0.95),
            "p99": snapshot.latency_percentile_ms(0.99),
            "max": snapshot.latency_max_us / 1000,
            "mean": round(snapshot.latency_sum_us / snapshot.purchases / 1000, 3)
            if snapshot.purchases
            else 0.0,
        },
        "throughput": {
            "requestsPerSecond": snapshot.requests_per_s,
            "purchasesPerSecond": snapshot.purchases_per_s,
            "windowSeconds": THROUGHPUT_WINDOW_S,
        },
        "queueDepth": snapshot.in_flight,
        "queueHighWater": snapshot.queue_peak,
        "openEventStreams": snapshot.open_streams,
        "queueCapacity": view.settings.queue_capacity,
        "breaker": breaker,
        "sale": sale_json(sale, now_us()) if sale else None,
        "currentSale": _sale_figures_json(snapshot.sale),
        "adminActions": {
            action: {
                outcome: count
                for (counted, outcome), count in snapshot.admin_actions.items()
                if counted == action
            }
            for action in ADMIN_ACTIONS
        },
        "allocator": view.allocator_json(),
        "journal": view.store_json(),
        "engine": view.engine,
        "webhooks": view.webhooks_json(),
        "workers": view.workers_json(),
        # CPU seconds and memory of each server process: with two readings a
        # load test tells the server's share of the machine from its own.
        "processes": view.processes_json(),
    }


def _outcomes_json(outcomes: dict[Outcome, int]) -> dict[str, int]:
    return {o.word: outcomes[o] for o in REPORTED_OUTCOMES}


def _sale_figures_json(figures: SaleFigures | None) -> dict[str, Any] | None:
    """The current sale's own figures: counted from zero when it started."""
    if figures is None:
        return None
    return {
        "saleId": figures.sale_id,
        "outcomes": _outcomes_json(figures.outcomes),
        "successRate": success_rate(figures.outcomes),
        "queueHighWater": figures.queue_peak,
    }


class MetricsResource:
    def __init__(
        self,
        view: ServerView,
        breaker_json: Callable[[], dict[str, Any]],
        auth: BearerAuth | None,
    ) -> None:
        self.view = view
        self.breaker_json = breaker_json
        self.auth = auth

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        if self.auth is not None:
            await self.auth.authorize(req)
        resp.cache_control = ["no-store"]
        resp.media = metrics_json(self.view, self.breaker_json())


class PrometheusResource:
    def __init__(
        self,
        view: ServerView,
        breaker_json: Callable[[], dict[str, Any]],
        auth: BearerAuth | None,
    ) -> None:
        self.registry = registry_for(view, breaker_json)
        self.auth = auth  # Prometheus sends it with `authorization: {credentials: ...}`

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        if self.auth is not None:
            await self.auth.authorize(req)
        resp.content_type = CONTENT_TYPE_LATEST
        resp.cache_control = ["no-store"]
        resp.data = generate_latest(self.registry)
