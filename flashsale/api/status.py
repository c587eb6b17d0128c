"""GET /flash-sale/status: cheap enough for thousands of open pages (shared memory only)."""

from __future__ import annotations

import falcon
import falcon.asgi

from flashsale.api.representations import sale_json
from flashsale.clock import iso_from_us, now_us
from flashsale.observe import ServerView


def starting_up() -> falcon.HTTPServiceUnavailable:
    return falcon.HTTPServiceUnavailable(
        title="Starting", description="the allocator is recovering the sale", retry_after=1
    )


class StatusResource:
    def __init__(self, view: ServerView, breaker_state) -> None:
        self.view = view
        self.breaker_state = breaker_state

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        sale = self.view.board.sale()
        if sale is None:
            raise starting_up()
        at_us = now_us()
        body = sale_json(sale, at_us)
        body["breaker"] = self.breaker_state()
        # The tag covers what a shopper's page shows, so a page that polls every
        # second gets 304s while nothing changes.
        tag = f"{sale.sale_id}-{sale.sold}-{body['state']}-{body['breaker']}"
        resp.etag = tag
        resp.cache_control = ["no-cache"]
        if req.if_none_match and any(candidate in ("*", tag) for candidate in req.if_none_match):
            resp.status = falcon.HTTP_304
            return
        body["queueDepth"] = self.view.queue_depth()
        body["serverTime"] = iso_from_us(at_us)
        resp.media = body
