"""A sale's orders as CSV for a spreadsheet: RFC 4180, a page at a time.

The header line is `orderId,userId,sku,position,purchasedAt,state,paymentRef`
(the last two added at the end, so that a reader of the first five columns reads
them as before); lines end with CRLF, and a field is quoted when it holds a
comma, a quote or a line break (a quote inside doubled). A user id and a
payment reference are other people's text (the shopper's, the shop's payment
provider's): one that begins with `=`, `+`, `-` or `@` (or a tab or CR) would run
as a formula once the file is opened in a spreadsheet (OWASP's "CSV injection"),
so it is written after a `'`, which makes it text. No other field can: an order
id is a UUID, a sku is letters, digits, `.`, `_` and `-` (one starting with `-`
is at worst a number), a position is a number, a time begins with a digit and a
state is a word. An order without a payment reference has an empty field. Pure:
no I/O.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from flashsale.clock import iso_from_us
from flashsale.records import ListedOrder

COLUMNS = ("orderId", "userId", "sku", "position", "purchasedAt", "state", "paymentRef")
HEADER = (",".join(COLUMNS) + "\r\n").encode()
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MEDIA_TYPE = "text/csv; charset=utf-8"


def defused(text: str) -> str:
    """`text` as a spreadsheet shows it, never runs it."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(orders: Iterable[ListedOrder]) -> bytes:
    """One line per order, in the header's columns, as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(
        (
            order.order_id,
            defused(order.user_id),
            order.sku,
            order.position,
            iso_from_us(order.purchased_at_us),
            order.state,
            "" if order.payment_ref is None else defused(order.payment_ref),
        )
        for order in orders
    )
    return buffer.getvalue().encode()
