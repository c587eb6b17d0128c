"""create_app(deps) -> falcon.App: wiring only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import falcon

from flashsale.api import error_handlers
from flashsale.api.admin import AdminSaleResource, SaleStarter
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
    breaker_state: Callable[[], str]
    breaker_json: Callable[[], dict[str, Any]]


def create_app(deps: AppDeps) -> falcon.App:
    view = deps.view
    app = falcon.App(middleware=[MetricsMiddleware(deps.recorder)])
    error_handlers.install(app)
    app.add_route("/flash-sale/status", StatusResource(view, deps.breaker_state))
    app.add_route(
        "/flash-sale/purchase", PurchaseResource(view.board, deps.allocator, deps.journal)
    )
    app.add_route(
        "/flash-sale/purchase/{user_id}", PurchaseLookupResource(view.board, deps.journal)
    )
    app.add_route("/flash-sale/metrics", MetricsResource(view, deps.breaker_json))
    app.add_route("/flash-sale/health", HealthResource(view, deps.breaker_json))
    app.add_route("/metrics", PrometheusResource(view, deps.breaker_json))
    app.add_route(
        "/flash-sale/admin/sale",
        AdminSaleResource(view.settings.admin_token, view.board, deps.allocator),
    )
    register_ui(app, view.settings.ui_dir)  # everything the API does not match
    return app
