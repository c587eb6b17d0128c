"""The open pages' checks and figures, from synthetic page records."""

from __future__ import annotations

from stress.records import PageRecord, Record
from stress.verdicts.orders import LookupResult
from stress.verdicts.pages import last_sale, page_checks, page_figures

T0 = 1_700_000_000 * 10**9
MS = 10**6
SOLD_OUT = {"state": "sold_out", "sold": 10, "remaining": 0, "total": 10}


def page(n, *, sold_out_ms=None, http=200, first_ms=5, last_sold=10, error=""):
    connected = http == 200 and first_ms is not None
    return PageRecord(
        page=n,
        connect_ns=T0,
        http=http,
        first_event_ns=T0 + first_ms * MS if connected else 0,
        first_state="open" if connected else "",
        events=2 if connected else 0,
        last_state="sold_out" if sold_out_ms is not None else "open",
        last_sold=last_sold if connected else None,
        sold_out_ns=T0 + int(sold_out_ms * MS) if sold_out_ms is not None else 0,
        retry_after_s=5.0 if http == 503 else None,
        error=error,
    )


def last_at(ms):
    return last_sale([], {"u": LookupResult("u", 200, "o", 1, "s", T0 + ms * MS)})


def names(checks):
    return {check.name: check.ok for check in checks}


def test_every_page_in_time_passes_and_the_delays_are_reported():
    pages = [page(n, sold_out_ms=100 + n) for n in range(100)]  # 100 .. 199 ms
    last = last_at(40)
    checks, warnings = page_checks(pages, last, SOLD_OUT)
    assert all(check.ok for check in checks) and not warnings
    assert len(checks) == 2
    figures = page_figures(pages, last, "sold_out")
    assert (figures["watchers"], figures["connected"], figures["failed"]) == (100, 100, 0)
    delay = figures["soldOutDelayMs"]
    assert (delay["p50"], delay["p90"], delay["p99"], delay["max"]) == (109.0, 149.0, 158.0, 159.0)
    assert "purchasedAt" in delay["from"]
    assert figures["firstEventMs"]["p50"] == 5.0


def test_a_late_or_missing_sold_out_fails():
    last = last_at(0)
    late = [page(0, sold_out_ms=200), page(1, sold_out_ms=1500)]
    assert names(page_checks(late, last, SOLD_OUT)[0]) == {
        "every open page got the status on connect": True,
        "every open page showed sold_out within 1000 ms of the last sale": False,
    }
    never = [page(0, sold_out_ms=200), page(1)]
    check = page_checks(never, last, SOLD_OUT)[0][1]
    assert not check.ok and "1 never" in check.detail
    # the limit is an option
    assert page_checks(late, last, SOLD_OUT, within_ms=2000)[0][1].ok


def test_a_page_without_its_first_event_fails_and_a_refused_one_warns():
    last = last_at(0)
    pages = [
        page(0, sold_out_ms=10),
        page(1, http=0, first_ms=None, error="OSError: refused"),
        page(2, first_ms=None, error="the stream ended before its first event"),
        page(3, http=503, first_ms=None, error="503: Too many event streams"),
    ]
    checks, warnings = page_checks(pages, last, SOLD_OUT)
    first = checks[0]
    assert not first.ok and "1 of 4 pages got a status event" in first.detail
    assert "OSError: refused" in first.detail
    assert len(warnings) == 1 and "1 of 4 pages were refused" in warnings[0]
    figures = page_figures(pages, last, "sold_out")
    assert (figures["connected"], figures["refused"], figures["failed"]) == (1, 1, 2)


def test_a_sale_that_did_not_sell_out_checks_the_final_stock():
    status = {"state": "open", "sold": 7, "remaining": 3, "total": 10}
    pages = [page(0, last_sold=7), page(1, last_sold=6)]
    checks, _ = page_checks(pages, None, status)
    assert names(checks)["every open page shows the final stock"] is False
    assert "page 1: sold 6" in checks[1].detail
    assert "soldOutDelayMs" not in page_figures(pages, None, "open")


def test_the_last_sale_comes_from_the_look_ups_else_from_the_last_201():
    confirmed = Record("a", "purchase", 1, T0, 30 * MS, 201, "confirmed", 1, "o-a")
    lookups = {
        "a": LookupResult("a", 200, "o-a", 1, "s", T0 + 12 * MS),
        "b": LookupResult("b", 404),
    }
    found = last_sale([confirmed], lookups)
    assert found is not None and found.at_ns == T0 + 12 * MS
    fallback = last_sale([confirmed], {"a": LookupResult("a", 200, "o-a", 1, "s", None)})
    assert fallback is not None
    assert fallback.at_ns == T0 + 30 * MS and "201" in fallback.source
    assert last_sale([], {}) is None
    no_sale = page_checks([page(0, sold_out_ms=5)], None, SOLD_OUT)[0][1]
    assert not no_sale.ok and "no sale" in no_sale.detail


def test_no_pages_no_checks():
    assert page_checks([], None, SOLD_OUT) == ([], [])


def test_page_records_cross_a_process_boundary_as_tuples():
    record = page(3, sold_out_ms=12.5)
    assert PageRecord.from_row(record.to_row()) == record
