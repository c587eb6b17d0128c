"""A sale's id as a client writes it: in a path, and in a `saleId` query parameter.

Sales are numbered 1, 2, 3... in the order they were started. Only the plain
decimal form is an id (no sign, no leading zero, no other digits than 0-9), of
at most MAX_DIGITS digits, so nothing a client writes reaches the journal or
Redis as a number they cannot hold. In a path, anything else names no sale
(404); in a query parameter it is a malformed parameter (400).
"""

from __future__ import annotations

import re

import falcon

from flashsale.api.paging import single_param
from flashsale.api.problems import INVALID_PARAMETER, UNKNOWN_SALE, HTTPProblem

MAX_DIGITS = 15
_SALE_ID = re.compile(rf"[1-9][0-9]{{0,{MAX_DIGITS - 1}}}").fullmatch


def unknown_sale(text: str) -> HTTPProblem:
    return HTTPProblem(UNKNOWN_SALE, f"no sale has the id {text[:40]!r}")


def sale_in_path(text: str) -> int:
    """The id a path names; a 404 problem when it cannot be one."""
    if not _SALE_ID(text):
        raise unknown_sale(text)
    return int(text)


def sale_in_query(req: falcon.Request) -> int | None:
    """`?saleId=`: None when not given; a 400 problem when it is not an id."""
    text = single_param(req, "saleId")
    if text is None:
        return None
    if not _SALE_ID(text):
        raise HTTPProblem(
            INVALID_PARAMETER,
            f"saleId must be a sale's id: a positive integer of at most {MAX_DIGITS} digits",
        )
    return int(text)
