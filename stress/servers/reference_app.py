"""The trivial Falcon app the ceiling measures the server against.

Served by the same worker class, worker count and settings as the server
(stress/servers/reference.conf.py), it does the least an HTTP JSON endpoint can: GET
answers a five-field object; POST parses a JSON body and answers 201 with three
fields. Nothing is stored, nothing is checked: its rates are what this host's
serving stack gives before the sale's own work, and the ceiling reports the
server's rates as fractions of them.
"""

from __future__ import annotations

import falcon
import falcon.asgi
import falcon.media
import orjson

JSON = falcon.media.JSONHandler(dumps=orjson.dumps, loads=orjson.loads)


class StatusResource:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"saleId": 1, "state": "open", "total": 100, "remaining": 50, "sold": 50}


class PurchaseResource:
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        body = await req.get_media()
        resp.status = falcon.HTTP_201
        resp.media = {"outcome": "confirmed", "userId": body["userId"], "position": 1}


app = falcon.asgi.App()
app.req_options.media_handlers[falcon.MEDIA_JSON] = JSON
app.resp_options.media_handlers[falcon.MEDIA_JSON] = JSON
app.add_route("/flash-sale/status", StatusResource())
app.add_route("/flash-sale/purchase", PurchaseResource())
