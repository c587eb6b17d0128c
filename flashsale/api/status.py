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
from flashsale.shm.sale_board import SaleSnapshot


def starting_up() -> HTTPProblem:
    return HTTPProblem(
        STARTING, "the allocator is recovering the sale", headers={"Retry-After": "1"}
    )


# A queue's "now serving" moves pages at most this often (a page works out the places
# between from the rate): thousands of waiting pages cost an event a step, not a tick.
QUEUE_STEP_S = 10


def queue_tag(sale: SaleSnapshot) -> str:
    """What of the waiting room a page must be pushed: its state at once; "now serving"
    by steps of QUEUE_STEP_S of admissions; the queue's length to two figures."""
    assert sale.queue is not None
    state, length, serving, _ = sale.queue_now
    rate = sale.queue.admit_per_minute
    step = 1 if rate is None else max(1, rate * QUEUE_STEP_S // 60)
    figures = max(1, 10 ** (len(str(length)) - 2))
    return f"-q{state}.{serving // step}.{length // figures}"


class SaleStatus:
    """The sale as a shopper's page shows it, read from shared memory; the status
    endpoint and the event stream answer the same JSON."""

    def __init__(
        self, view: ServerView, breaker_state: Callable[[], str], auth: dict[str, Any]
    ) -> None:
        self.view = view
        self.breaker_state = breaker_state
        self.auth = auth  # the same for the server's life: not part of the tag

    def read(self, *, pushed: bool = False) -> tuple[str, dict[str, Any], int] | None:
        """(tag, body, at_us), without the body's fields of the moment (see complete);
        None before the allocator has published a sale.

        The tag covers what a shopper's page shows: it changes when the page should
        (a pause or a resume changes the sale's lifecycle version). `pushed`: the tag
        of what is pushed to open pages, in which a waiting room's "now serving" moves
        by steps (queue_tag).
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
        if sale.queue is not None:
            tag += queue_tag(sale) if pushed else "-q{}.{}.{}.{}".format(*sale.queue_now)
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
