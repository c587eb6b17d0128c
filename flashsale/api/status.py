"""GET /flash-sale/status: cheap enough for thousands of open pages (shared memory only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

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


def queue_tag(sale: SaleSnapshot) -> str:
    """What of a waiting room is pushed to open pages at once: its state, and its length
    to two figures. "Now serving" moves at the rate, which a page follows by itself: the
    broadcaster pushes it when a write is due anyway, in a heartbeat's place
    (flashsale.api.events); admitting all at once has no rate to follow, so there every
    change of it is pushed."""
    assert sale.queue is not None
    state, length, serving, _ = sale.queue_now
    figures = max(1, 10 ** (len(str(length)) - 2))
    moving = "" if sale.queue.admit_per_minute is not None else f".{serving}"
    return f"-q{state}.{length // figures}{moving}"


class StatusRead(NamedTuple):
    tag: str  # everything a page shows: the ETag, and an event's id
    prompt_tag: str  # what of it an open page is pushed at once (see SaleStatus.read)
    body: dict[str, Any]  # without the fields of the moment (SaleStatus.complete)
    at_us: int


class SaleStatus:
    """The sale as a shopper's page shows it, read from shared memory; the status
    endpoint and the event stream answer the same JSON."""

    def __init__(
        self,
        view: ServerView,
        breaker_state: Callable[[], str],
        auth: dict[str, Any],
        heartbeat_s: float,
    ) -> None:
        self.view = view
        self.breaker_state = breaker_state
        # The same for the server's life: not part of the tag.
        self.auth = auth
        self.heartbeat_s = heartbeat_s

    def read(self) -> StatusRead | None:
        """The status; None before the allocator has published a sale.

        The tag covers what a shopper's page shows: it changes when the page should (a
        pause or a resume changes the sale's lifecycle version). The prompt tag leaves
        out a waiting room's "now serving" and its exact length (queue_tag): open pages
        are pushed those in the heartbeats' place, not at each admission.
        """
        sale = self.view.board.sale()
        if sale is None:
            return None
        at_us = now_us()
        body = sale_json(sale, at_us)
        body["breaker"] = self.breaker_state()
        body["auth"] = self.auth
        body["heartbeatSeconds"] = self.heartbeat_s
        tag = f"{sale.sale_id}.{sale.version}-{sale.sold}-{body['state']}-{body['breaker']}"
        if sale.checkout is not None:  # holds, waitlists and offers change the page too
            tag += f"-{sale.held}-{body['waitlist']}-{sale.offers}"
        if sale.queue is None:
            return StatusRead(tag, tag, body, at_us)
        prompt_tag = tag + queue_tag(sale)
        tag += "-q{}.{}.{}.{}".format(*sale.queue_now)
        return StatusRead(tag, prompt_tag, body, at_us)

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
        tag, _, body, at_us = read
        # A page that polls every second gets 304s while nothing changes.
        resp.etag = tag
        resp.cache_control = ["no-cache"]
        if req.if_none_match and any(candidate in ("*", tag) for candidate in req.if_none_match):
            resp.status = falcon.HTTP_304
            return
        resp.media = self.status.complete(body, at_us)
