"""create_app(deps) -> falcon.App: wiring only."""

from __future__ import annotations

from dataclasses import dataclass

import falcon

from flashsale.api import error_handlers
from flashsale.api.admin import AdminSaleResource, SaleStarter
from flashsale.api.guard import PurchaseGuard
from flashsale.api.middleware import MetricsMiddleware
from flashsale.api.operator import HealthResource, MetricsResource, PrometheusResource
from flashsale.api.purchase import Allocation, PurchaseLookupResource, PurchaseResource
from flashsale.api.status import StatusResource
from flashsale.api.ui import register_ui
from flashsale.journal import JournalReader
from flashsale.metrics import MetricsRecorder
from flashsale.observe import ServerView


class AllocatorGateway(Allocation, SaleStarter):
    """The allocator as the API sees it: purchases and new sales."""


@dataclass(frozen=True)
class AppDeps:
    view: ServerView
    allocator: AllocatorGateway
    journal: JournalReader
    recorder: MetricsRecorder
    guard: PurchaseGuard


def create_app(deps: AppDeps) -> falcon.App:
    view, breaker = deps.view, deps.guard.breaker
    app = falcon.App(middleware=[MetricsMiddleware(deps.recorder)])
    error_handlers.install(app)
    app.add_route("/flash-sale/status", StatusResource(view, breaker.state))
    app.add_route(
        "/flash-sale/purchase",
        PurchaseResource(view.board, deps.allocator, deps.journal, deps.guard, deps.recorder),
    )
    app.add_route(
        "/flash-sale/purchase/{user_id}", PurchaseLookupResource(view.board, deps.journal)
    )
    app.add_route("/flash-sale/metrics", MetricsResource(view, breaker.as_json))
    app.add_route("/flash-sale/health", HealthResource(view, breaker.as_json))
    app.add_route("/metrics", PrometheusResource(view, breaker.as_json))
    app.add_route(
        "/flash-sale/admin/sale",
        AdminSaleResource(view.settings.admin_token, view.board, deps.allocator),
    )
    register_ui(app, view.settings.ui_dir)  # everything the API does not match
    return app
