"""The pieces of the orders' pages and export that need no server: the cursor, the CSV's
lines, and the export's iteration (its pages, its slot, its watchdog on a client
that takes nothing). The endpoints themselves: tests/integration/test_orders.py."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flashsale.api.admin_orders import CsvExport, ExportSlots, order_row_json
from flashsale.api.paging import decode_cursor, encode_cursor
from flashsale.api.problems import HTTPProblem
from flashsale.lookups import ExportPage
from flashsale.orders_csv import HEADER, csv_lines, defused
from flashsale.records import ListedOrder


def order(
    position: int,
    user_id: str = "alice",
    sku: str = "mug",
    state: str = "confirmed",
    payment_ref: str | None = None,
) -> ListedOrder:
    return ListedOrder(
        f"00000000-0000-0000-0000-{position:012d}",
        1,
        user_id,
        1,
        position,
        1_000_000,
        sku,
        1,
        state,
        payment_ref,
    )


@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz-0123456789", max_size=30), st.integers(0, 10**14)
)
def test_a_cursor_decodes_to_the_position_it_was_written_for(scope, position):
    assert decode_cursor(encode_cursor(scope, position), scope) == position


@given(st.text(max_size=200))
def test_any_other_text_is_refused_as_a_cursor_or_names_a_position(text):
    try:
        position = decode_cursor(text, "orders-1")
    except HTTPProblem as refused:
        assert refused.problem.slug == "invalid-parameter"
    else:  # only a cursor written for this scope, in its one canonical form
        assert encode_cursor("orders-1", position) == text


@pytest.mark.parametrize(
    ("user_id", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),
        ("'quoted", "'quoted"),
        ("plain", "plain"),
    ],
)
def test_a_user_id_a_spreadsheet_would_run_is_written_as_text(user_id, shown):
    assert defused(user_id) == shown


def test_csv_lines_are_rfc_4180_with_crlf_and_quotes_where_needed():
    lines = csv_lines([order(1, 'say "hi", then =go'), order(2, "=1+1"), order(3, "plain")])
    text = (HEADER + lines).decode()
    assert (
        text.splitlines(keepends=True)[0]
        == "orderId,userId,sku,position,purchasedAt,state,paymentRef\r\n"
    )
    assert '"say ""hi"", then =go"' in text and ",'=1+1," in text
    assert all(line.endswith("\r\n") for line in text.splitlines(keepends=True))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert [row[1] for row in rows[1:]] == ['say "hi", then =go', "'=1+1", "plain"]
    assert rows[1][3:] == ["1", "1970-01-01T00:00:01.000Z", "confirmed", ""]
    assert csv_lines([]) == b""


@pytest.mark.parametrize(
    ("state", "payment_ref", "shown"),
    [
        ("held", None, ["held", ""]),
        ("expired", None, ["expired", ""]),
        ("cancelled", None, ["cancelled", ""]),
        ("confirmed", "pay_123", ["confirmed", "pay_123"]),
        ("confirmed", "=HYPERLINK(1)", ["confirmed", "'=HYPERLINK(1)"]),
        ("confirmed", "-42", ["confirmed", "'-42"]),
        ("confirmed", "a,b", ["confirmed", "a,b"]),
    ],
)
def test_each_line_ends_with_the_state_and_a_defused_payment_ref(state, payment_ref, shown):
    text = csv_lines([order(1, state=state, payment_ref=payment_ref)]).decode()
    (row,) = csv.reader(io.StringIO(text, newline=""))
    assert row[:5] == [order(1).order_id, "alice", "mug", "1", "1970-01-01T00:00:01.000Z"]
    assert row[5:] == shown


def test_a_page_row_carries_the_state_and_payment_ref():
    row = order_row_json(order(3, state="confirmed", payment_ref="pay-9"))
    assert row["state"] == "confirmed" and row["paymentRef"] == "pay-9"
    assert order_row_json(order(4, state="expired"))["paymentRef"] is None


class Pages:
    """A sale of `total` orders, read a page at a time, counting the reads."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.reads: list[tuple[int, int]] = []

    async def sale_exists(self, sale_id: int) -> bool:
        return True

    async def orders_after(self, sale_id: int, position: int, limit: int) -> list[ListedOrder]:
        return [order(p) for p in range(position + 1, min(position + limit, self.total) + 1)]

    async def export_page(self, sale_id: int, position: int, limit: int) -> ExportPage:
        self.reads.append((position, limit))
        orders = await self.orders_after(sale_id, position, limit)
        last = orders[-1].position if orders else position
        return ExportPage(len(orders), last, csv_lines(orders))


@pytest.mark.parametrize(("total", "reads"), [(0, 1), (1, 1), (9, 2), (10, 3), (11, 3)])
def test_an_export_reads_page_after_page_and_gives_its_slot_back_once(total, reads):
    slots = ExportSlots(1)
    assert slots.take() and not slots.take()
    pages = Pages(total)
    export = CsvExport(pages, 1, slots.give_back, stall_s=60, page_rows=5)

    async def stream() -> bytes:
        try:
            return b"".join([chunk async for chunk in export])
        finally:
            await export.close()
            await export.close()  # Falcon closes once; twice gives back once

    body = asyncio.run(stream())
    assert body == HEADER + csv_lines([order(p) for p in range(1, total + 1)])
    assert len(pages.reads) == reads and pages.reads[0] == (0, 5)
    assert slots.taken == 0 and slots.take()


def test_an_export_whose_chunk_is_not_taken_in_time_cancels_its_request():
    slots = ExportSlots(1)
    slots.take()
    export = CsvExport(Pages(100), 1, slots.give_back, stall_s=0.05, page_rows=10)

    async def request() -> None:  # Falcon's loop over the stream, with a send that never ends
        try:
            async for _chunk in export:
                await asyncio.Event().wait()
        finally:
            await export.close()

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(asyncio.ensure_future(request()), 5)
        return loop.time() - started

    assert asyncio.run(scenario()) < 2
    assert slots.taken == 0
