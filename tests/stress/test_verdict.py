"""The verdict catches what a broken sale looks like, from synthetic records."""

from __future__ import annotations

import itertools
import random

import pytest

from stress.records import Record
from stress.verdicts.fairness import count_inversions, count_pairs
from stress.verdicts.orders import LookupResult
from stress.verdicts.verdict import SaleFacts, judge

T0 = 1_700_000_000 * 10**9
MS = 10**6
SALE = "sale-1"


def purchase(user, send_ms, http, status, *, position=None, order=None, attempt=1, latency_ms=5):
    return Record(
        user=user,
        kind="purchase",
        attempt=attempt,
        send_ns=T0 + int(send_ms * MS),
        latency_ns=int(latency_ms * MS),
        http=http,
        status=status,
        position=position,
        order_id=order,
        sale_id=SALE if http == 201 else None,
    )


def confirmed(user, send_ms, position, order=None):
    return purchase(user, send_ms, 201, "confirmed", position=position, order=order or f"o-{user}")


def sold_out(user, send_ms):
    return purchase(user, send_ms, 410, "sold_out")


def lookups_for(records):
    """What a correct server's look-ups say about these records."""
    found: dict[str, LookupResult] = {}
    for record in records:
        found.setdefault(record.user, LookupResult(record.user, 404))
        if record.http == 201:
            found[record.user] = LookupResult(
                record.user, 200, record.order_id, record.position, SALE, record.send_ns
            )
    return found


def facts(stock, sold, **overrides):
    status = {"sold": sold, "remaining": stock - sold, "total": stock, "saleId": SALE}
    return SaleFacts(stock=stock, sale_id=SALE, status_after=status, **overrides)


def fair_burst(users=200, stock=20, gap_ms=1.0):
    """A correct sale: the first `stock` senders win, in send order."""
    records = []
    for i in range(users):
        user = f"u{i}"
        if i < stock:
            records.append(confirmed(user, i * gap_ms, i + 1))
        else:
            records.append(sold_out(user, i * gap_ms))
    return records


def failed_names(verdict):
    return {check.name for check in verdict.failed()}


def test_a_correct_sale_passes():
    records = fair_burst()
    verdict = judge(records, lookups_for(records), facts(20, 20))
    assert verdict.ok, verdict.failed()
    assert verdict.confirmed == 20
    assert verdict.demand == 200
    assert verdict.fairness.inversions == 0
    assert verdict.fairness.latest_winner_rank == 20


def test_an_oversell_is_caught():
    records = [*fair_burst(), confirmed("u150", 150, 21)]
    records = [r for r in records if not (r.user == "u150" and r.http == 410)]
    verdict = judge(records, lookups_for(records), facts(20, 21))
    assert not verdict.ok
    assert "no oversell" in failed_names(verdict)


def test_a_double_buy_is_caught():
    records = [*fair_burst(), confirmed("u3", 40, 99, order="second-order")]
    lookups = lookups_for(records)
    lookups["u3"] = LookupResult("u3", 200, "o-u3", 4, SALE)
    verdict = judge(records, lookups, facts(20, 21))
    assert "nobody over the per-user limit (1)" in failed_names(verdict)


def test_an_order_id_given_to_two_users_is_caught():
    records = fair_burst()
    records[1] = confirmed("u1", 1, 2, order="o-u0")
    verdict = judge(records, lookups_for(records), facts(20, 20))
    assert "order ids unique" in failed_names(verdict)


def test_a_lost_sale_is_caught():
    records = fair_burst()
    lookups = lookups_for(records)
    lookups["u5"] = LookupResult("u5", 404)  # confirmed with a 201, then gone
    verdict = judge(records, lookups, facts(20, 19))
    assert "look-ups agree with the answers" in failed_names(verdict)
    assert "status sold/remaining agree" in failed_names(verdict)


def test_a_sale_to_a_shopper_told_sold_out_is_caught():
    records = fair_burst()
    lookups = lookups_for(records)
    lookups["u100"] = LookupResult("u100", 200, "o-ghost", 21, SALE)
    verdict = judge(records, lookups, facts(20, 21))
    assert "look-ups agree with the answers" in failed_names(verdict)
    assert "no oversell" in failed_names(verdict)


def test_selling_fewer_than_the_stock_while_demand_exceeds_it_is_caught():
    records = fair_burst(users=200, stock=20)
    records = [sold_out(r.user, 5) if r.user in ("u18", "u19") else r for r in records]
    verdict = judge(records, lookups_for(records), facts(20, 18))
    assert "sold exactly min(stock, demand)" in failed_names(verdict)


def test_an_unfair_order_is_caught():
    # The first 180 shoppers, who pressed Buy two seconds earlier, are all told
    # "sold out"; the 20 latest senders win.
    records = []
    for i in range(180):
        records.append(sold_out(f"u{i}", i))
    for j in range(20):
        records.append(confirmed(f"late{j}", 2000 + j, j + 1))
    verdict = judge(records, lookups_for(records), facts(20, 20))
    assert not verdict.ok
    assert any(name.startswith("fair order") for name in failed_names(verdict))
    assert verdict.fairness.overtaken_losers == 180
    assert verdict.fairness.latest_winner_rank == 200


def test_winners_served_in_reverse_arrival_order_are_caught():
    records = [confirmed(f"u{i}", i * 100, 20 - i) for i in range(20)]  # 100 ms apart, reversed
    verdict = judge(records, lookups_for(records), facts(20, 20))
    assert verdict.fairness.inversions == 190
    assert verdict.fairness.inversion_ratio == 1.0
    assert verdict.fairness.unfair_winner_pairs > 0
    assert any(name.startswith("fair order") for name in failed_names(verdict))


def test_jitter_within_the_tolerance_is_fair():
    rng = random.Random(7)
    records = fair_burst(users=100, stock=30, gap_ms=0.1)
    positions = list(range(1, 31))
    rng.shuffle(positions)  # order scrambled, but all sent within 3 ms
    records = [
        confirmed(r.user, (r.send_ns - T0) / MS, positions[i]) if r.http == 201 else r
        for i, r in enumerate(records)
    ]
    verdict = judge(records, lookups_for(records), facts(30, 30))
    assert verdict.ok, verdict.failed()
    assert verdict.fairness.inversions > 0


def test_server_errors_and_connection_errors_fail_the_run():
    records = fair_burst()
    records[50] = purchase("u50", 50, 500, "")
    records[51] = purchase("u51", 51, 0, "")
    verdict = judge(records, lookups_for(records), facts(20, 20))
    assert "no 5xx (besides 503 unavailable or paused)" in failed_names(verdict)
    assert "no connection errors" in failed_names(verdict)


def test_a_503_paused_is_no_server_error():
    """The operator paused the sale: the answer decided nothing (stress.verdicts.pause)."""
    records = fair_burst()
    records[50] = purchase("u50", 50, 503, "paused")
    verdict = judge(records, lookups_for(records), facts(20, 20))
    assert "no 5xx (besides 503 unavailable or paused)" not in failed_names(verdict)


def test_a_shed_503_is_a_warning_not_a_failure():
    records = fair_burst()
    records[60] = purchase("u60", 60, 503, "unavailable")
    verdict = judge(records, lookups_for(records), facts(20, 20))
    assert verdict.ok, verdict.failed()
    assert any("503" in warning for warning in verdict.warnings)


def test_a_409_must_name_the_order_held():
    records = [*fair_burst(), purchase("u2", 30, 409, "already_purchased", order="o-u2")]
    assert judge(records, lookups_for(records), facts(20, 20)).ok
    records.append(purchase("u150", 160, 409, "already_purchased", order="o-nobody"))
    verdict = judge(records, lookups_for(records), facts(20, 20))
    assert "409 answers name the order held" in failed_names(verdict)


def test_a_pending_answer_resolved_by_the_look_up_counts_as_a_sale():
    records = fair_burst()
    records[19] = purchase("u19", 19, 202, "pending")
    lookups = lookups_for(records)
    lookups["u19"] = LookupResult("u19", 200, "o-u19", 20, SALE)
    verdict = judge(records, lookups, facts(20, 20))
    assert verdict.ok, verdict.failed()
    assert verdict.confirmed == 20
    assert any("pending" in warning for warning in verdict.warnings)


def test_a_bot_that_is_never_rate_limited_is_caught():
    records = [confirmed("bot", 0, 1)]
    records += [
        purchase("bot", i * 10, 409, "already_purchased", order="o-bot", attempt=i + 1)
        for i in range(1, 30)
    ]
    verdict = judge(records, lookups_for(records), facts(1, 1, rate_limit_per_min=10))
    assert "rate limit held (10/min per user)" in failed_names(verdict)

    limited = records[:10] + [
        purchase("bot", i * 10, 429, "rate_limited", attempt=i + 1) for i in range(10, 30)
    ]
    assert judge(limited, lookups_for(limited), facts(1, 1, rate_limit_per_min=10)).ok


def test_a_sale_before_the_start_time_is_caught():
    records = fair_burst(users=30, stock=5)
    starts = T0 + 3 * MS  # u0..u2 were sold before the sale opened
    verdict = judge(records, lookups_for(records), facts(5, 5, starts_at_ns=starts))
    assert "no sale before the start time" in failed_names(verdict)


def test_status_disagreeing_with_the_answers_is_caught():
    records = fair_burst()
    verdict = judge(records, lookups_for(records), facts(20, 17))
    assert "status sold/remaining agree" in failed_names(verdict)


def test_a_request_stuck_in_a_starved_client_is_not_called_unfair():
    # u0 took its send time first, but its thread then waited 3 s for the GIL: its
    # bytes left after the winners'. Only the send time says it was overtaken.
    stuck = sold_out("u0", 0)
    stuck.latency_ns = 3100 * MS
    stuck.written_ns = T0 + 3000 * MS
    winners = [confirmed(f"w{i}", 2000 + i, i + 1) for i in range(10)]
    losers = [sold_out(f"v{i}", 2100 + i) for i in range(40)]
    records = [stuck, *winners, *losers]
    verdict = judge(records, lookups_for(records), facts(10, 10))
    assert verdict.ok, verdict.failed()
    assert verdict.fairness.worst_send_overtake_ms == 2009.0


@pytest.mark.parametrize("margin", [0, 3])
def test_count_pairs_matches_brute_force(margin):
    rng = random.Random(margin)
    first = [rng.randrange(40) for _ in range(120)]
    second = [rng.randrange(40) for _ in range(120)]
    brute = sum(1 for a, b in itertools.combinations(first, 2) if a > b + margin)
    assert count_inversions(first, margin) == brute
    brute_pairs = sum(
        1 for i in range(120) for j in range(i + 1, 120) if first[i] > second[j] + margin
    )
    assert count_pairs(first, second, margin) == brute_pairs


def test_a_purchase_resent_after_a_closed_keep_alive_connection_is_a_warning():
    records = fair_burst()
    lost = purchase("u70", 69.5, 0, "resent")
    lost.error = "connection: ('Connection aborted.', RemoteDisconnected(...))"
    records.append(lost)
    verdict = judge(records, lookups_for(records), facts(20, 20))
    assert verdict.ok, verdict.failed()
    assert any("sent again" in warning for warning in verdict.warnings)
