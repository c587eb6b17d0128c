"""The one place domain errors become HTTP answers, always with a JSON body."""

from __future__ import annotations

import logging
from typing import Any

import falcon
import falcon.asgi
import orjson

from flashsale.api.answers import RETRY_AFTER_UNAVAILABLE_S, answer_unavailable
from flashsale.errors import InvalidInput, Unavailable

log = logging.getLogger("flashsale.api")


async def _invalid_input(
    req: falcon.asgi.Request, resp: falcon.asgi.Response, exc: InvalidInput, params: dict[str, Any]
) -> None:
    raise falcon.HTTPBadRequest(title=exc.title, description=exc.description)


async def _unavailable(
    req: falcon.asgi.Request, resp: falcon.asgi.Response, exc: Unavailable, params: dict[str, Any]
) -> None:
    answer_unavailable(resp, f"{exc}; nothing was changed", RETRY_AFTER_UNAVAILABLE_S)


async def _unexpected(
    req: falcon.asgi.Request, resp: falcon.asgi.Response, exc: Exception, params: dict[str, Any]
) -> None:
    # Falcon's own handler of HTTPError is more specific: only other exceptions come here.
    log.exception("unexpected error on %s %s", req.method, req.path)
    # Not "nothing was changed": the failure may come after the change (an
    # answer that could not be written), so say what is known.
    raise falcon.HTTPInternalServerError(
        title="Internal error",
        description="the server failed while answering; read the current state before retrying",
    )


def serialize_error(req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError) -> None:
    """JSON whatever the client accepts: every error body is machine-readable."""
    resp.content_type = falcon.MEDIA_JSON
    body = error.to_dict()
    # Falcon's own 404s and 405s come without one; every error says what is wrong.
    body.setdefault("description", _DESCRIPTIONS.get(error.status_code, error.title))
    resp.data = orjson.dumps(body)


_DESCRIPTIONS = {
    404: "nothing is at this path",
    405: "this path does not take this method (see Allow)",
}


def install(app: falcon.asgi.App[falcon.asgi.Request, falcon.asgi.Response]) -> None:
    app.add_error_handler(Exception, _unexpected)
    app.add_error_handler(InvalidInput, _invalid_input)
    app.add_error_handler(Unavailable, _unavailable)
    app.set_error_serializer(serialize_error)
