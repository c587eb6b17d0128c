"""GET /openapi.json: the API's OpenAPI 3.1 document (openapi.json beside this module).

Read once, when the app is built: the document is part of the release, and the
integration test keeps it and the routes in step.
"""

from __future__ import annotations

from importlib.resources import files

import falcon
import falcon.asgi

OPENAPI_PATH = "/openapi.json"


def openapi_document() -> bytes:
    return files("flashsale.api").joinpath("openapi.json").read_bytes()


class OpenApiResource:
    def __init__(self, document: bytes) -> None:
        self.document = document

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.cache_control = ["no-cache"]
        resp.data = self.document
