"""Purchase outcomes as HTTP answers: status, JSON body and headers."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import falcon
import pytest
from falcon import HTTP_403, HTTP_404, HTTP_409, HTTP_410, HTTP_429, HTTP_503

from flashsale.api.answers import answer_purchase
from flashsale.api.problems import BY_SLUG
from flashsale.api.purchase import lookup_path
from flashsale.outcomes import Outcome
from flashsale.records import Confirmation

ORDER = Confirmation("0f0e0d0c-0b0a-0908-0706-050403020100", 3, 1, 7, 1764600000123456, "item")


def answer(outcome: Outcome, **kwargs) -> falcon.Response:
    resp = falcon.Response()
    answer_purchase(resp, outcome, user_id="ann", lookup_path=lambda: "/look/ann", **kwargs)
    return resp


def test_a_sale_is_201_with_the_order_and_its_look_up():
    resp = answer(Outcome.CONFIRMED, order=ORDER)
    assert resp.status == falcon.HTTP_201
    assert resp.location == "/look/ann"
    assert resp.media == {
        "outcome": "confirmed",
        "orderId": ORDER.order_id,
        "userId": "ann",
        "position": 7,
        "purchasedAt": "2025-12-01T14:40:00.123Z",
        "saleId": 3,
        "sku": "item",
    }


def refusal_case(
    outcome: Outcome,
    kwargs: dict[str, Any],
    http: str,
    status: str,
    extra: dict[str, Any],
    retry_after: str | None = None,
) -> tuple[Any, ...]:
    return (outcome, kwargs, http, status, extra, retry_after)


EPOCH = "1970-01-01T00:00:00.000Z"
SHOWN_ORDER = {"orderId": ORDER.order_id, "position": 7, "sku": "item"}


@pytest.mark.parametrize(
    ("outcome", "kwargs", "http", "status", "extra", "retry_after"),
    [
        refusal_case(
            Outcome.ALREADY_PURCHASED, {"order": ORDER}, HTTP_409, "already_purchased", SHOWN_ORDER
        ),
        refusal_case(Outcome.SOLD_OUT, {"sku": "s42"}, HTTP_410, "sold_out", {"sku": "s42"}),
        refusal_case(
            Outcome.UNKNOWN_PRODUCT, {"sku": "s99"}, HTTP_404, "unknown_product", {"sku": "s99"}
        ),
        refusal_case(
            Outcome.NOT_STARTED, {"starts_at_us": 0}, HTTP_403, "not_started", {"startsAt": EPOCH}
        ),
        refusal_case(Outcome.ENDED, {"ends_at_us": 0}, HTTP_403, "ended", {"endsAt": EPOCH}),
        refusal_case(
            Outcome.RATE_LIMITED,
            {"retry_after_s": 42},
            HTTP_429,
            "rate_limited",
            {},
            "42",
        ),
        refusal_case(
            Outcome.UNAVAILABLE,
            {"retry_after_s": 2},
            HTTP_503,
            "unavailable",
            {},
            "2",
        ),
        refusal_case(Outcome.EXPIRED, {}, HTTP_503, "unavailable", {}, "1"),
    ],
)
def test_a_refusal_is_a_problem_with_its_outcome_and_details(
    outcome, kwargs, http, status, extra, retry_after
):
    resp = answer(outcome, **kwargs)
    assert resp.status == http
    assert resp.content_type == "application/problem+json"
    assert resp.media["outcome"] == status
    problem = BY_SLUG[resp.media["type"].removeprefix("/problems/")]
    assert resp.media["type"] == f"/problems/{problem.slug}"
    assert resp.media["title"] == problem.title
    assert resp.media["status"] == problem.status == int(http.split()[0])
    assert resp.media["detail"]
    assert extra.items() <= resp.media.items()
    assert resp.get_header("Retry-After") == retry_after
    assert resp.location is None


def test_a_sold_out_product_of_several_does_not_say_the_sale_is_over():
    alone = answer(Outcome.SOLD_OUT, sku="item").media["detail"]
    among_others = answer(Outcome.SOLD_OUT, sku="s42", several=True).media["detail"]
    assert alone == "every item has been sold"
    assert "s42 is sold out" in among_others and "other products may remain" in among_others


def test_pending_points_at_the_look_up():
    resp = answer(Outcome.PENDING)
    assert resp.status == falcon.HTTP_202
    assert resp.media["outcome"] == "pending"
    assert resp.location == resp.media["location"] == "/look/ann"


@pytest.mark.parametrize("user", ["alice", "u-1.2_3~", "a b", "é", "a%2F", "a+b", "\U0001f600"])
def test_the_look_up_path_quotes_what_needs_it(user):
    assert lookup_path(user) == "/flash-sale/purchase/" + quote(user, safe="")
