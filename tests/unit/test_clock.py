"""Times as the API shows them."""

from __future__ import annotations

from flashsale.clock import LATEST_US, instant_us, iso_from_us, representable
from flashsale.config import parse_instant


def test_times_are_shown_as_iso_utc_with_milliseconds_truncated():
    assert iso_from_us(None) is None
    assert iso_from_us(0) == "1970-01-01T00:00:00.000Z"
    assert iso_from_us(-1) == "1969-12-31T23:59:59.999Z"
    assert iso_from_us(1764600000999999) == "2025-12-01T14:40:00.999Z"
    # Exact at the calendar's edge (a float of these microseconds rounds into year 10000).
    assert iso_from_us(253402300799999999) == "9999-12-31T23:59:59.999Z"
    assert iso_from_us(-62135596800000000) == "0001-01-01T00:00:00.000Z"


def test_times_convert_exactly_and_the_range_is_what_can_be_shown():
    assert instant_us(parse_instant("9999-12-31T23:59:59.999999Z")) == LATEST_US
    assert iso_from_us(LATEST_US) == "9999-12-31T23:59:59.999Z"
    assert instant_us(parse_instant("1970-01-01T00:00:00.000001+00:00")) == 1
    assert representable(0) and representable(LATEST_US)
    assert not representable(-1)  # the shared memory's "no time"
    assert not representable(LATEST_US + 1)


def test_a_time_beyond_the_calendar_is_shown_at_its_edge_rather_than_failing():
    # Only an old journal could hold one; the status must still answer.
    assert iso_from_us(10**18) == "9999-12-31T23:59:59.000Z"
    assert iso_from_us(-(10**17)) == "0001-01-01T00:00:00.000Z"
