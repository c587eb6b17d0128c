"""The allocator's answers to the operator's commands (flashsale.admin_commands.AdminAnswer)
as HTTP: the sale resource with its ETag (and Location for a new sale), or the problem
of a refusal, its `detail` written here from the data the engine decided it with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon

from flashsale.admin_commands import AdminAnswer
from flashsale.api.problems import BY_SLUG, HTTPProblem
from flashsale.api.representations import sale_resource_json
from flashsale.clock import iso_from_us

SALES_PATH = "/flash-sale/admin/sales"
REPLAYED_HEADER = "Idempotent-Replayed"


def sale_path(sale_id: int) -> str:
    return f"{SALES_PATH}/{sale_id}"


def answer_admin(resp: falcon.Response, answer: AdminAnswer) -> None:
    """Fill `resp` with a done command's sale, or raise the refusal's problem."""
    if answer.problem is not None:
        raise refusal_problem(answer)
    sale = answer.sale
    if sale is None:  # a done command always shows its sale
        raise RuntimeError(f"an answer {answer.status} without a sale")
    resp.status = falcon.code_to_http_status(answer.status)
    resp.media = sale_resource_json(sale, answer.sold, answer.at_us)
    resp.set_header("ETag", sale.etag)
    if answer.status == 201:
        resp.location = sale_path(sale.sale_id)
    if answer.replayed:
        resp.set_header(REPLAYED_HEADER, "true")


def refusal_problem(answer: AdminAnswer) -> HTTPProblem:
    assert answer.problem is not None
    problem = BY_SLUG[answer.problem]
    extensions = dict(answer.extensions)
    detail = _DETAILS.get(answer.problem, _generic)(extensions)
    if "endedAtUs" in extensions:
        extensions["endedAt"] = iso_from_us(extensions.pop("endedAtUs"))
    headers = {"Retry-After": "1"} if problem.status == 503 else None
    # `reason` only chose the detail; an error from the store is said in the detail.
    extensions.pop("reason", None)
    extensions.pop("error", None)
    return HTTPProblem(problem, detail, headers=headers, **extensions)


def _in_progress(ext: dict[str, Any]) -> str:
    sale_id = ext["saleId"]
    return (
        f"sale {sale_id} is {ext['state']}: end it first, or replace it "
        f'(If-Match: {ext["etag"]}, or "replaces": {sale_id})'
    )


def _stale(ext: dict[str, Any]) -> str:
    return (
        f"the current sale is {ext['saleId']} at {ext['etag']}: If-Match or replaces named "
        "another; nothing was changed"
    )


def _key_reused(ext: dict[str, Any]) -> str:
    return (
        f"this Idempotency-Key made sale {ext['saleId']} with another body; "
        "use a new key for a new request"
    )


def _not_current(ext: dict[str, Any]) -> str:
    return (
        f"sale {ext['saleId']} is not the current sale ({ext['currentSaleId']}); "
        "only the current sale changes"
    )


def _ended(ext: dict[str, Any]) -> str:
    return f"sale {ext['saleId']} has ended; an ended sale is final"


def _not_found(ext: dict[str, Any]) -> str:
    return f"there is no sale {ext['saleId']}"


def _invalid(ext: dict[str, Any]) -> str:
    if ext.get("reason") == "not_after_start":
        return "Invalid endsAt: endsAt must be later than startsAt"
    return "Invalid endsAt: the sale is running, and endsAt must be in the future"


def _not_selling(ext: dict[str, Any]) -> str:
    return f"nothing was changed: the store cannot be written ({ext.get('error')})"


def _generic(ext: dict[str, Any]) -> str:
    return "refused; nothing was changed"


_DETAILS: dict[str, Callable[[dict[str, Any]], str]] = {
    "sale-in-progress": _in_progress,
    "precondition-failed": _stale,
    "idempotency-key-reused": _key_reused,
    "sale-not-current": _not_current,
    "sale-already-ended": _ended,
    "not-found": _not_found,
    "invalid-sale": _invalid,
    "not-selling": _not_selling,
}
