"""The release spread of first attempts, and when a burst is "not a burst"."""

from __future__ import annotations

import pytest

from stress.records import OUTCOME_RESENT, Record
from stress.verdicts.spread import SPREAD_WARNING_MS, not_a_burst, release_spread

T0 = 1_700_000_000 * 10**9
MS = 10**6


def purchase(user, send_ms, attempt=1, status="sold_out", http=410):
    return Record(user, "purchase", attempt, T0 + int(send_ms * MS), 5 * MS, http, status)


def test_the_spread_is_last_minus_first_of_each_shoppers_first_send():
    records = [purchase(f"u{i}", 2 + i * 0.5) for i in range(100)]  # 2 .. 51.5 ms
    records.append(purchase("u0", 900, attempt=2))  # a retry is not a first attempt
    records.append(Record("u1", "status", 0, T0 + 2000 * MS, MS, 200, "open"))  # nor a poll
    spread = release_spread(records, T0, "the release instant")
    assert spread is not None
    assert spread["firstAttempts"] == 100
    assert spread["spreadMs"] == pytest.approx(49.5)
    assert spread["firstMs"] == pytest.approx(2.0) and spread["lastMs"] == pytest.approx(51.5)
    assert spread["p50Ms"] == pytest.approx(26.5) and spread["p99Ms"] == pytest.approx(51.0)
    assert spread["origin"] == "the release instant"
    assert not_a_burst(spread, SPREAD_WARNING_MS) is None


def test_a_resent_purchase_counts_from_its_first_send():
    records = [purchase("a", 1), purchase("b", 3, status=OUTCOME_RESENT, http=0), purchase("b", 40)]
    spread = release_spread(records, T0, "the release instant")
    assert spread is not None and spread["spreadMs"] == pytest.approx(2.0)


def test_a_wide_spread_warns_not_a_burst_with_its_figures():
    records = [purchase(f"u{i}", i * 10) for i in range(50)]  # 0 .. 490 ms
    spread = release_spread(records, T0, "the release instant")
    warning = not_a_burst(spread, 100.0)
    assert warning is not None and warning.startswith("not a burst")
    assert "490 ms" in warning and "over 100 ms" in warning
    assert not_a_burst(spread, 500.0) is None  # the threshold is an option
    assert not_a_burst(release_spread([], T0, "x"), 100.0) is None  # no purchases, no spread


def test_offsets_may_be_negative_against_a_sale_start():
    # prestart: shoppers whose countdown ran a little fast press Buy before the start
    records = [purchase("a", -30), purchase("b", -5), purchase("c", 12)]
    spread = release_spread(records, T0, "the sale's start")
    assert spread is not None
    assert spread["firstMs"] == pytest.approx(-30.0) and spread["spreadMs"] == pytest.approx(42.0)
