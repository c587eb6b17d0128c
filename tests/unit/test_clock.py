"""Times as the API shows them."""

from __future__ import annotations

from flashsale.clock import iso_from_us


def test_times_are_shown_as_iso_utc_with_milliseconds_truncated():
    assert iso_from_us(None) is None
    assert iso_from_us(0) == "1970-01-01T00:00:00.000Z"
    assert iso_from_us(-1) == "1969-12-31T23:59:59.999Z"
    assert iso_from_us(1764600000999999) == "2025-12-01T14:40:00.999Z"
    # Exact at the calendar's edge (a float of these microseconds rounds into year 10000).
    assert iso_from_us(253402300799999999) == "9999-12-31T23:59:59.999Z"
    assert iso_from_us(-62135596800000000) == "0001-01-01T00:00:00.000Z"
