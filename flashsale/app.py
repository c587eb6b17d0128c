"""create_app(deps) -> the ASGI app of a worker: wiring only.

Falcon's app serves everything but the event streams, which EventStreams
serves in front of it (flashsale.api.events says why).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import falcon
import falcon.asgi
import falcon.media
import orjson

from flashsale import collector
from flashsale.api import error_handlers
from flashsale.api.admin import AdminSaleResource
from flashsale.api.admin_access import AdminAccess, AdminGateway
from flashsale.api.admin_audit import AdminAuditResource
from flashsale.api.admin_orders import register_admin_orders
from flashsale.api.admin_queue import QUEUE_PATH, AdminQueueResource
from flashsale.api.admin_reads import AdminReads, SalesReader
from flashsale.api.admin_sales import AdminSaleItemResource, AdminSalesResource
from flashsale.api.bearer import BearerAuth
from flashsale.api.checkout import CheckoutGateway, OrderCheckoutResource, WaitlistResource
from flashsale.api.events import EventStreams, StatusBroadcaster
from flashsale.api.guard import PurchaseGuard
from flashsale.api.identity import LOOKUP_SELF, Identity
from flashsale.api.images import ImagesResource
from flashsale.api.middleware import MetricsMiddleware
from flashsale.api.openapi import OPENAPI_PATH, OpenApiResource, openapi_document
from flashsale.api.operator import HealthResource, MetricsResource, PrometheusResource
from flashsale.api.problem_pages import ProblemPagesResource
from flashsale.api.purchase import Allocation, PurchaseLookupResource, PurchaseResource
from flashsale.api.queue import QueueResource
from flashsale.api.security import SecurityHeaders
from flashsale.api.status import SaleStatus, StatusResource
from flashsale.api.ui import register_ui
from flashsale.config import Settings
from flashsale.lookups import OrderLookups
from flashsale.metrics import MetricsRecorder
from flashsale.observe import ServerView
from flashsale.ratelimit import RateLimiter

# Request bodies are parsed by flashsale.api.validation (strict: orjson keeps
# the last of two equal keys), so only answers go through this handler.
JSON_HANDLER = falcon.media.JSONHandler(dumps=orjson.dumps, loads=orjson.loads)

log = logging.getLogger("flashsale.app")


class AllocatorGateway(Allocation, AdminGateway, CheckoutGateway, Protocol):
    """The allocator as the API sees it: purchases and the operator's commands, and its
    connection."""

    async def start(self, timeout_s: float) -> bool: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class AppDeps:
    view: ServerView
    allocator: AllocatorGateway
    lookups: OrderLookups
    # Sales and the audit trail as the admin API reads them (the journal, or Redis).
    sales: SalesReader
    recorder: MetricsRecorder
    guard: PurchaseGuard
    identity: Identity
    # Wrong admin and operator tokens, counted by client address in a table of their own.
    auth_failures: RateLimiter
    connect_timeout_s: float = 5.0
    # Registers what to do when the worker begins to stop (flashsale.serving.worker).
    when_stopping: Callable[[Callable[[], None]], None] = lambda callback: None


class LifespanMiddleware:
    """Connect to the allocator and start the broadcaster before serving; let go of
    them and the journal after."""

    def __init__(
        self, deps: AppDeps, broadcaster: StatusBroadcaster, admin_reads: AdminReads
    ) -> None:
        self.deps = deps
        self.broadcaster = broadcaster
        self.admin_reads = admin_reads

    async def process_startup(self, scope: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        if not await self.deps.allocator.start(self.deps.connect_timeout_s):
            # It may be restarting: serve anyway; purchases wait for it within
            # their own deadlines while the client keeps trying.
            log.warning("worker %s: allocator not reachable yet; serving anyway", os.getpid())
        self.broadcaster.start()
        # Open streams never end by themselves: gunicorn would wait for them.
        self.deps.when_stopping(self.broadcaster.stop)
        collector.settle_after_start()

    async def process_shutdown(self, scope: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        self.broadcaster.stop()
        await self.deps.allocator.close()
        self.deps.lookups.close()
        self.admin_reads.close()


def create_app(deps: AppDeps) -> EventStreams:
    view, breaker, settings = deps.view, deps.guard.breaker, deps.view.settings
    status = SaleStatus(
        view, breaker.state, _auth_json(deps.identity, settings), settings.events_heartbeat_s
    )
    broadcaster = StatusBroadcaster(
        status,
        max_streams=settings.max_event_streams,
        per_address=settings.event_streams_per_address,
        heartbeat_s=settings.events_heartbeat_s,
        count_streams=deps.recorder.count_streams,
    )
    admin_reads = AdminReads(deps.sales)
    app: falcon.asgi.App[falcon.asgi.Request, falcon.asgi.Response] = falcon.asgi.App(
        middleware=[
            LifespanMiddleware(deps, broadcaster, admin_reads),
            MetricsMiddleware(deps.recorder),
            SecurityHeaders(),
        ]
    )
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = JSON_HANDLER
    error_handlers.install(app)
    app.add_route("/flash-sale/status", StatusResource(status))
    app.add_route(
        "/flash-sale/purchase",
        PurchaseResource(
            view.board,
            deps.allocator,
            deps.lookups,
            deps.guard,
            deps.recorder,
            deps.identity,
            settings.engine,
        ),
    )
    lookup = PurchaseLookupResource(view.board, deps.lookups, deps.identity)
    app.add_route("/flash-sale/purchase/{user_id}", lookup)
    app.add_route(f"/flash-sale/purchase/{LOOKUP_SELF}", lookup, suffix="me")
    checkout = OrderCheckoutResource(deps.allocator, settings.checkout_token)
    for action in ("confirm", "cancel", "extend"):
        app.add_route(f"/flash-sale/orders/{{order_id}}/{action}", checkout, suffix=action)
    waitlist = WaitlistResource(view.board, deps.allocator, deps.identity, deps.lookups)
    app.add_route("/flash-sale/waitlist", waitlist)
    # Its own suffix: one responder set per route, so a GET of the list or a POST of an
    # entry is a 405, not a responder called with the wrong arguments.
    app.add_route("/flash-sale/waitlist/{sku}", waitlist, suffix="entry")
    queue = QueueResource(view.board, deps.allocator, deps.identity)
    app.add_route("/flash-sale/queue", queue)
    app.add_route("/flash-sale/queue/challenge", queue, suffix="challenge")
    app.add_route("/flash-sale/queue/{ticket}", queue, suffix="ticket")
    operator = _bearer(deps, settings.operator_token, "operator", "FLASHSALE_OPERATOR_TOKEN")
    app.add_route("/flash-sale/metrics", MetricsResource(view, breaker.as_json, operator))
    app.add_route("/flash-sale/health", HealthResource(view, breaker.as_json, operator))
    app.add_route("/metrics", PrometheusResource(view, breaker.as_json, operator))
    admin = AdminAccess(
        _bearer(deps, settings.admin_token, "admin", "FLASHSALE_ADMIN_TOKEN"),
        deps.allocator,
        deps.guard.addresses,
        deps.recorder,
    )
    app.add_route(
        "/flash-sale/admin/sale",
        AdminSaleResource(admin, view.board, settings.product, settings.engine),
    )
    app.add_route(
        "/flash-sale/admin/sales",
        AdminSalesResource(admin, admin_reads, view.board, settings.product, settings.engine),
    )
    app.add_route(
        "/flash-sale/admin/sales/{sale_id}", AdminSaleItemResource(admin, admin_reads, view.board)
    )
    app.add_route("/flash-sale/admin/audit", AdminAuditResource(admin, admin_reads))
    register_admin_orders(app, admin, deps.lookups, settings)
    app.add_route(QUEUE_PATH, AdminQueueResource(admin, deps.lookups))
    app.add_route("/flash-sale/images/{name}", ImagesResource(settings.images_dir))
    app.add_route(OPENAPI_PATH, OpenApiResource(openapi_document()))
    app.add_route("/problems/{slug}", ProblemPagesResource())
    register_ui(app, settings.ui_dir)  # everything the API does not match
    return EventStreams(app, status, broadcaster, deps.recorder, deps.guard.addresses)


def _auth_json(identity: Identity, settings: Settings) -> dict[str, Any]:
    """What a shop page needs to know of identity: the mode, and where its token is."""
    cookie = settings.jwt_cookie if identity.mode == "jwt" else None
    return {"mode": identity.mode, "tokenCookie": cookie}


def _bearer(deps: AppDeps, token: str | None, name: str, variable: str) -> BearerAuth | None:
    """The check of one bearer token; None when the token is not set."""
    if token is None:
        return None
    return BearerAuth(
        token,
        name=name,
        variable=variable,
        limiter=deps.auth_failures,
        addresses=deps.guard.addresses,
    )
