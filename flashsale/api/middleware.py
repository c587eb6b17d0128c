"""Middleware: stamp each request's arrival and count it in this process's metrics row."""

from __future__ import annotations

import time

import falcon
import falcon.asgi

from flashsale.metrics import MetricsRecorder
from flashsale.outcomes import Outcome
from flashsale.shm.slots import Endpoint

PURCHASE_PATH = "/flash-sale/purchase"
OPERATOR_PATHS = ("/flash-sale/metrics", "/flash-sale/health", "/flash-sale/admin", "/metrics")


# The busiest paths, found with one dict look-up.
_EXACT = {
    PURCHASE_PATH: Endpoint.PURCHASE,
    "/flash-sale/status": Endpoint.STATUS,
    "/flash-sale/events": Endpoint.EVENTS,
}


def endpoint_of(path: str) -> Endpoint:
    exact = _EXACT.get(path)
    if exact is not None:
        return exact
    if path.startswith(PURCHASE_PATH + "/"):
        return Endpoint.LOOKUP
    if path.startswith(OPERATOR_PATHS):
        return Endpoint.OPERATOR
    if path.startswith("/flash-sale"):
        return Endpoint.OTHER
    return Endpoint.UI


class MetricsMiddleware:
    def __init__(self, recorder: MetricsRecorder) -> None:
        self.recorder = recorder

    async def process_request(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        # The arrival time orders purchases across workers: CLOCK_MONOTONIC is
        # one clock for every process on the machine.
        req.context.arrival_ns = time.monotonic_ns()
        req.context.outcome = None

    async def process_response(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        resource: object,
        req_succeeded: bool,
    ) -> None:
        endpoint = endpoint_of(req.path)
        outcome = req.context.get("outcome")
        if endpoint is Endpoint.PURCHASE and outcome is None:
            # Refused before any decision: bad input, or a server error.
            outcome = Outcome.INVALID if resp.status_code < 500 else Outcome.UNAVAILABLE
        arrival_ns: int = req.context.get("arrival_ns") or 0  # 0 if process_request did not run
        elapsed_us = (time.monotonic_ns() - arrival_ns) // 1000
        self.recorder.record(endpoint, outcome, elapsed_us)
