"""The one place domain errors become HTTP answers: problem details (RFC 9457), always."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import falcon
import falcon.asgi

from flashsale.api.answers import RETRY_AFTER_UNAVAILABLE_S, answer_unavailable, unavailable_problem
from flashsale.api.middleware import PURCHASE_PATH
from flashsale.api.problems import (
    INTERNAL_ERROR,
    INVALID_BODY,
    INVALID_JSON,
    INVALID_SALE,
    INVALID_SKU,
    INVALID_USER_ID,
    PROBLEM_JSON,
    HTTPProblem,
    ProblemType,
    problem_for_status,
)
from flashsale.errors import (
    InvalidInput,
    InvalidJson,
    InvalidSale,
    InvalidSku,
    InvalidUserId,
    Unavailable,
)

log = logging.getLogger("flashsale.api")

# The problem type of each kind of bad input, most specific first.
_INVALID: tuple[tuple[type[InvalidInput], ProblemType], ...] = (
    (InvalidJson, INVALID_JSON),
    (InvalidUserId, INVALID_USER_ID),
    (InvalidSku, INVALID_SKU),
    (InvalidSale, INVALID_SALE),
    (InvalidInput, INVALID_BODY),
)


def problem_of_invalid(exc: InvalidInput) -> ProblemType:
    """The problem type a kind of bad input is answered with."""
    return next(problem for kind, problem in _INVALID if isinstance(exc, kind))


async def _invalid_input(
    req: falcon.asgi.Request, resp: falcon.asgi.Response, exc: InvalidInput, params: dict[str, Any]
) -> None:
    raise HTTPProblem(problem_of_invalid(exc), exc.description)


async def _unavailable(
    req: falcon.asgi.Request, resp: falcon.asgi.Response, exc: Unavailable, params: dict[str, Any]
) -> None:
    why = f"{exc}; nothing was changed"
    if req.path == PURCHASE_PATH and req.method == "POST":  # a purchase's answer: its outcome
        answer_unavailable(resp, why, RETRY_AFTER_UNAVAILABLE_S)
        return
    raise unavailable_problem(why, RETRY_AFTER_UNAVAILABLE_S)


async def _unexpected(
    req: falcon.asgi.Request, resp: falcon.asgi.Response, exc: Exception, params: dict[str, Any]
) -> None:
    # Falcon's own handler of HTTPError is more specific: only other exceptions come here.
    log.exception("unexpected error on %s %s", req.method, req.path)
    # Not "nothing was changed": the failure may come after the change (an
    # answer that could not be written), so say what is known.
    raise HTTPProblem(
        INTERNAL_ERROR,
        "the server failed while answering; read the current state before retrying",
    )


def problem_document(error: falcon.HTTPError) -> MutableMapping[str, Any]:
    """The problem an HTTP error is: ours say their type; Falcon's own (a route's
    405, a malformed conditional header's 400) are typed by their code."""
    if isinstance(error, HTTPProblem):
        return error.to_dict()
    problem = problem_for_status(error.status_code)
    detail = error.description or _DETAILS.get(error.status_code) or error.title
    document = problem.document(detail)
    document["status"] = error.status_code
    return document


# Falcon's own 404s and 405s come without a description; every problem says what is wrong.
_DETAILS = {
    404: "nothing is at this path",
    405: "this path does not take this method (see Allow)",
}


def serialize_error(req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError) -> None:
    """A problem document whatever the client accepts: every error body is machine-readable."""
    resp.content_type = PROBLEM_JSON
    resp.media = problem_document(error)


def install(app: falcon.asgi.App[falcon.asgi.Request, falcon.asgi.Response]) -> None:
    """Problems for every error; written by the app's JSON handler, set before this."""
    handlers = app.resp_options.media_handlers
    handlers[PROBLEM_JSON] = handlers[falcon.MEDIA_JSON]
    app.add_error_handler(Exception, _unexpected)
    app.add_error_handler(InvalidInput, _invalid_input)
    app.add_error_handler(Unavailable, _unavailable)
    app.set_error_serializer(serialize_error)
