"""GET /flash-sale/status: cheap enough for thousands of open pages (shared memory only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon
import falcon.asgi

from flashsale.api.problems import STARTING, HTTPProblem
from flashsale.api.representations import sale_json
from flashsale.clock import iso_from_us, now_us
from flashsale.observe import ServerView


def starting_up() -> HTTPProblem:
    return HTTPProblem(
        STARTING, "the allocator is recovering the sale", headers={"Retry-After": "1"}
    )


class SaleStatus:
    """The sale as a shopper's page shows it, read from shared memory; the status
    endpoint and the event stream answer the same JSON."""

    def __init__(
        self, view: ServerView, breaker_state: Callable[[], str], auth: dict[str, Any]
    ) -> None:
        self.view = view
        self.breaker_state = breaker_state
        self.auth = auth  # the same for the server's life: not part of the tag

    def read(self) -> tuple[str, dict[str, Any], int] | None:
        """(tag, body, at_us), without the body's fields of the moment (see complete);
        None before the allocator has published a sale.

        The tag covers what a shopper's page shows: it changes when the page should
        (a pause or a resume changes the sale's lifecycle version).
        """
        sale = self.view.board.sale()
        if sale is None:
            return None
        at_us = now_us()
        body = sale_json(sale, at_us)
        body["breaker"] = self.breaker_state()
        body["auth"] = self.auth
        tag = f"{sale.sale_id}.{sale.version}-{sale.sold}-{body['state']}-{body['breaker']}"
        if sale.checkout is not None:  # holds, waitlists and offers change the page too
            tag += f"-{sale.held}-{body['waitlist']}-{sale.offers}"
        if sale.queue is not None:  # "now serving" moves every page in the queue
            tag += "-q{}.{}.{}.{}".format(*sale.queue_now)
        return tag, body, at_us

    def complete(self, body: dict[str, Any], at_us: int) -> dict[str, Any]:
        body["queueDepth"] = self.view.queue_depth()
        body["serverTime"] = iso_from_us(at_us)
        return body


class StatusResource:
    def __init__(self, status: SaleStatus) -> None:
        self.status = status

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        read = self.status.read()
        if read is None:
            raise starting_up()
        tag, body, at_us = read
        # A page that polls every second gets 304s while nothing changes.
        resp.etag = tag
        resp.cache_control = ["no-cache"]
        if req.if_none_match and any(candidate in ("*", tag) for candidate in req.if_none_match):
            resp.status = falcon.HTTP_304
            return
        resp.media = self.status.complete(body, at_us)
