"""The one place where a purchase outcome becomes an HTTP answer.

Every purchase answer names its `outcome` (`confirmed`, `sold_out`, ...). A
refusal is a problem (flashsale.api.problems) with its outcome as an extension
member, written straight into the response rather than raised: most answers
of a flash sale are refusals ("sold out"), and Falcon's error path (a handler
look-up, a serializer) costs a third of such a request's handling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon

from flashsale.api.problems import (
    ALREADY_PURCHASED,
    NOT_ADMITTED,
    NOT_STARTED,
    PROBLEM_JSON,
    RATE_LIMITED,
    SALE_ENDED,
    SALE_PAUSED,
    SOLD_OUT,
    UNAVAILABLE,
    UNKNOWN_PRODUCT,
    HTTPProblem,
    ProblemType,
)
from flashsale.api.representations import order_json
from flashsale.clock import iso_from_us
from flashsale.outcomes import Outcome
from flashsale.records import Order

RETRY_AFTER_UNAVAILABLE_S = 1
# A pause is the operator's: shoppers need not ask every second.
RETRY_AFTER_PAUSED_S = 5


# The refusals that say the same every time: (problem, detail, Retry-After).
_FIXED_REFUSALS: dict[Outcome, tuple[ProblemType, str, int | None]] = {
    Outcome.PAUSED: (
        SALE_PAUSED,
        "the sale is paused; nothing was bought",
        RETRY_AFTER_PAUSED_S,
    ),
    Outcome.NOT_ADMITTED: (
        NOT_ADMITTED,
        "this sale has a waiting room: buy with your admitted ticket (Flash-Sale-Ticket); "
        "nothing was bought",
        None,
    ),
}


def answer_purchase(
    resp: falcon.Response,
    outcome: Outcome,
    *,
    user_id: str,
    lookup_path: Callable[[], str],
    sku: str | None = None,
    several: bool = False,
    order: Order | None = None,
    starts_at_us: int | None = None,
    ends_at_us: int | None = None,
    retry_after_s: int = RETRY_AFTER_UNAVAILABLE_S,
    hold: tuple[str, int] | None = None,
    waitlist: tuple[int, int] | None = None,
) -> None:
    """Fill `resp` for `outcome`; `lookup_path` names the user's look-up (201, 202).

    `sku`: the product asked for; `several`: the sale has other products, so a
    sold-out one does not mean the sale is over.
    """
    if outcome is Outcome.HELD and order is not None:
        resp.status = falcon.HTTP_201
        token, expires_at_us = hold or ("", 0)
        resp.media = {
            "outcome": outcome.word,
            **order_json(order, user_id),
            "expiresAt": iso_from_us(expires_at_us),
            **({"checkoutToken": token} if token else {}),
        }
        resp.location = lookup_path()
        return
    if outcome is Outcome.CONFIRMED and order is not None:
        resp.status = falcon.HTTP_201
        resp.media = {"outcome": outcome.word, **order_json(order, user_id)}
        resp.location = lookup_path()
        return
    if outcome is Outcome.PENDING:
        resp.status = falcon.HTTP_202
        resp.location = path = lookup_path()
        resp.media = {
            "outcome": outcome.word,
            "title": "Purchase pending",
            "detail": "the outcome is not known yet: read it from the look-up",
            "location": path,
        }
        return
    if outcome is Outcome.ALREADY_PURCHASED and order is not None:
        refuse(
            resp,
            ALREADY_PURCHASED,
            outcome,
            "this user already bought the most allowed; here is the order",
            order_json(order, user_id),
        )
    elif outcome is Outcome.SOLD_OUT:
        why = (
            f"{sku} is sold out; other products may remain"
            if several
            else "every item has been sold"
        )
        extra: dict[str, Any] = {"sku": sku}
        if waitlist is not None:  # a sale with holds: units may come back
            held, waiting = waitlist
            extra["held"] = held
            extra["waitlist"] = {"open": held > 0, "length": waiting}
        refuse(resp, SOLD_OUT, outcome, why, extra)
    elif outcome is Outcome.UNKNOWN_PRODUCT:
        refuse(
            resp,
            UNKNOWN_PRODUCT,
            outcome,
            f"{sku!r} is not a product of this sale; nothing was bought",
            {"sku": sku},
        )
    elif outcome is Outcome.NOT_STARTED:
        refuse(
            resp,
            NOT_STARTED,
            outcome,
            "the sale has not started yet",
            {"startsAt": iso_from_us(starts_at_us)},
        )
    elif outcome is Outcome.ENDED:
        refuse(resp, SALE_ENDED, outcome, "the sale is over", {"endsAt": iso_from_us(ends_at_us)})
    elif outcome in _FIXED_REFUSALS:
        problem, detail, retry_after = _FIXED_REFUSALS[outcome]
        refuse(resp, problem, outcome, detail, retry_after_s=retry_after)
    elif outcome is Outcome.RATE_LIMITED:
        refuse(
            resp,
            RATE_LIMITED,
            outcome,
            f"try again in {retry_after_s} s",
            retry_after_s=retry_after_s,
        )
    else:  # UNAVAILABLE, EXPIRED, or anything unexpected: nothing was sold.
        answer_unavailable(resp, "the sale is busy; nothing was bought", retry_after_s)


def answer_unavailable(
    resp: falcon.Response, why: str, retry_after_s: int, problem: ProblemType = UNAVAILABLE
) -> None:
    """A purchase that was not decided: `unavailable`, nothing bought."""
    refuse(
        resp,
        problem,
        Outcome.UNAVAILABLE,
        f"{why}; try again in {retry_after_s} s",
        retry_after_s=retry_after_s,
    )


def unavailable_problem(why: str, retry_after_s: int) -> HTTPProblem:
    """The same, for any other request: raised, with no purchase outcome."""
    return HTTPProblem(
        UNAVAILABLE,
        f"{why}; try again in {retry_after_s} s",
        headers={"Retry-After": str(retry_after_s)},
    )


def refuse(
    resp: falcon.Response,
    problem: ProblemType,
    outcome: Outcome,
    detail: str,
    extra: dict[str, Any] | None = None,
    *,
    retry_after_s: int | None = None,
) -> None:
    resp.status = problem.status_line
    resp.content_type = PROBLEM_JSON
    resp.media = problem.document(detail, outcome=outcome.word, **(extra or {}))
    if retry_after_s is not None:
        resp.set_header("Retry-After", str(retry_after_s))
