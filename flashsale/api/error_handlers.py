"""The one place domain errors become HTTP answers, always with a JSON body."""

from __future__ import annotations

import json
import logging

import falcon

from flashsale.errors import InvalidInput

log = logging.getLogger("flashsale.api")


def _invalid_input(req: falcon.Request, resp: falcon.Response, exc: InvalidInput, params) -> None:
    raise falcon.HTTPBadRequest(title=exc.title, description=exc.description)


def _unexpected(req: falcon.Request, resp: falcon.Response, exc: Exception, params) -> None:
    if isinstance(exc, falcon.HTTPError):
        raise exc
    log.exception("unexpected error on %s %s", req.method, req.path)
    raise falcon.HTTPInternalServerError(
        title="Internal error", description="the server failed; nothing was changed by it"
    )


def serialize_error(req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError) -> None:
    """JSON whatever the client accepts: every error body is machine-readable."""
    resp.content_type = falcon.MEDIA_JSON
    resp.data = json.dumps(error.to_dict(), ensure_ascii=False).encode()


def install(app: falcon.App) -> None:
    app.add_error_handler(Exception, _unexpected)
    app.add_error_handler(InvalidInput, _invalid_input)
    app.set_error_serializer(serialize_error)
