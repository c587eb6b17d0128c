"""The one place where a purchase outcome becomes an HTTP answer."""

from __future__ import annotations

from typing import Any

import falcon

from flashsale.api.representations import order_json
from flashsale.clock import iso_from_us
from flashsale.journal import OrderRecord
from flashsale.outcomes import Outcome

RETRY_AFTER_UNAVAILABLE_S = 1


class OutcomeError(falcon.HTTPError):
    """An answer that is not a sale: Falcon's error body plus our `status` and details."""

    def __init__(
        self,
        http_status: str,
        outcome: Outcome,
        title: str,
        description: str,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(http_status, title=title, description=description, headers=headers)
        self.outcome = outcome
        self.extra = extra or {}

    def to_dict(self, obj_type=dict):
        body = super().to_dict(obj_type)
        body["status"] = self.outcome.status
        body.update(self.extra)
        return body


def answer_purchase(
    resp: falcon.Response,
    outcome: Outcome,
    *,
    user_id: str,
    order: OrderRecord | None = None,
    starts_at_us: int | None = None,
    ends_at_us: int | None = None,
    retry_after_s: int = RETRY_AFTER_UNAVAILABLE_S,
    lookup_path: str = "",
) -> None:
    """Fill `resp` for a sale or a pending answer; raise OutcomeError for the rest."""
    if outcome is Outcome.CONFIRMED and order is not None:
        resp.status = falcon.HTTP_201
        resp.media = {"status": outcome.status, **order_json(order, user_id)}
        resp.location = lookup_path
        return
    if outcome is Outcome.PENDING:
        resp.status = falcon.HTTP_202
        resp.location = lookup_path
        resp.media = {
            "status": outcome.status,
            "title": "Purchase pending",
            "description": "the outcome is not known yet: read it from the look-up",
            "location": lookup_path,
        }
        return
    if outcome is Outcome.ALREADY_PURCHASED and order is not None:
        raise OutcomeError(
            falcon.HTTP_409, outcome, "Already purchased",
            "this user already bought the most allowed; here is the order",
            order_json(order, user_id),
        )  # fmt: skip
    if outcome is Outcome.SOLD_OUT:
        raise OutcomeError(falcon.HTTP_410, outcome, "Sold out", "every item has been sold")
    if outcome is Outcome.NOT_STARTED:
        raise OutcomeError(
            falcon.HTTP_403, outcome, "Not started", "the sale has not started yet",
            {"startsAt": iso_from_us(starts_at_us)},
        )  # fmt: skip
    if outcome is Outcome.ENDED:
        raise OutcomeError(
            falcon.HTTP_403, outcome, "Sale ended", "the sale is over",
            {"endsAt": iso_from_us(ends_at_us)},
        )  # fmt: skip
    if outcome is Outcome.RATE_LIMITED:
        raise OutcomeError(
            falcon.HTTP_429, outcome, "Too many attempts",
            f"try again in {retry_after_s} s", {"retryAfter": retry_after_s},
            {"Retry-After": str(retry_after_s)},
        )  # fmt: skip
    # UNAVAILABLE, EXPIRED, or anything unexpected: nothing was sold.
    raise OutcomeError(
        falcon.HTTP_503, Outcome.UNAVAILABLE, "Busy",
        f"the sale is busy; nothing was bought; try again in {retry_after_s} s",
        {"retryAfter": retry_after_s}, {"Retry-After": str(retry_after_s)},
    )  # fmt: skip
