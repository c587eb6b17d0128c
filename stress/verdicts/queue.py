"""The verdict of a sale with a waiting room (`python -m stress flash --queue`): pure
functions over the operators' record of the queue (GET /flash-sale/admin/sales/{id}/queue),
the sale's orders, and what the shoppers and the queue-skippers saw.

- the pre-queue shuffled: a pre-queue ticket's place is not correlated with how early its
  holder joined (Spearman's rho with a bootstrap confidence interval containing 0, or |rho|
  negligible);
- later arrivals in arrival order: after the start, places rise with the server's join
  times and with the clients' (a join answered before another was sent is ahead of it),
  and every later place is behind the whole pre-queue;
- admission in queue order: the admitted places are the first ones, admitted in place order;
- queue-skippers bought nothing: every purchase without an admitted ticket of one's own
  (none, forged, another's) answered 403 not_admitted, and one with a used ticket 403 or 409
  already_purchased; no skipper has an order, forged tickets do not read as tickets, and a
  robbed shopper kept its admission;
- the admission rate held within a tolerance of admitPerMinute while the queue was not empty;
- exactly the stock sold (never more), one per person, each order by a used ticket;
- nobody admitted after the sell-out, and the queue closed: every ticket not admitted ends
  closed (the record's state, else its holder's last read), the status said so promptly,
  and the record's closedAt is the sell-out's;
- every tab of a person held the same ticket, one of them told 201 (new), the others 200.

Times from the server (joinedAt, admittedAt, usedAt, purchasedAt) are integer
milliseconds; the clients' are wall-clock nanoseconds of the host that ran them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from stress.verdicts.check import Check, examples
from stress.verdicts.ranks import bootstrap_interval, spearman

NOT_ADMITTED = "not_admitted"
# A buyer who presents its used ticket again may be refused either way: the ticket is
# spent (403 not_admitted), or the purchase is its own, already made (409, the same order).
REPLAY_ANSWERS = frozenset({(403, NOT_ADMITTED), (409, "already_purchased")})
# |rho| at most this is a negligible correlation whatever its interval (Cohen's "small"
# starts at 0.1): with many thousand tickets an interval is narrow enough to exclude 0
# for a bias nobody could exploit.
NEGLIGIBLE_RHO = 0.1
# Fewer pre-queue tickets than this say nothing about a shuffle.
MIN_PREQUEUE = 10
# The rate is measured over at least this many admissions and this long a span.
MIN_RATE_ADMISSIONS = 10
MIN_RATE_SPAN_MS = 2000
RATE_TOLERANCE = 0.05
# Without a rate, a ticket is admitted this soon after the start or its join.
AT_ONCE_MS = 1000
# The status shows the queue closed this soon after the last unit was sold.
CLOSED_SEEN_WITHIN_S = 2.0


@dataclass(frozen=True, slots=True)
class AuditTicket:
    """One ticket of the operators' record (the audit endpoint)."""

    place: int | None
    number: int
    user: str
    joined_ms: int | None
    admitted_ms: int | None
    used_ms: int | None
    state: str | None  # the record's, else its holder's last read; None: not known


@dataclass(frozen=True, slots=True)
class Join:
    """One tab's POST /flash-sale/queue: when it left and was answered (client clock)."""

    user: str
    tab: int
    sent_ns: int
    answered_ns: int
    http: int  # 0: no answer
    ticket: str | None = None
    state: str | None = None  # the ticket's state in the answer


@dataclass(frozen=True, slots=True)
class Arrival:
    """A person's first join after the start, with its place in the record."""

    user: str
    sent_ns: int
    answered_ns: int
    joined_ms: int | None
    place: int


@dataclass(frozen=True, slots=True)
class Attempt:
    """A purchase by a queue-skipper: kind no_ticket, forged, stolen or replayed."""

    kind: str
    user: str
    http: int  # 0: no answer
    outcome: str | None
    answered_ns: int = 0  # client clock


@dataclass(frozen=True, slots=True)
class SoldOrder:
    user: str
    purchased_ms: int | None


def prequeue_shuffled(
    joins: Sequence[tuple[int, int]],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 1,
) -> tuple[Check, dict[str, Any]]:
    """`joins`: (join instant, place) of each pre-queue ticket. The place must not follow
    the join instant: the bootstrap interval of Spearman's rho contains 0, or |rho| is
    negligible."""
    instants = [float(instant) for instant, _ in joins]
    places = [float(place) for _, place in joins]
    rho = spearman(instants, places)
    interval = bootstrap_interval(
        instants, places, resamples=resamples, confidence=confidence, seed=seed
    )
    figures: dict[str, Any] = {
        "tickets": len(joins),
        "rho": _round(rho),
        "interval": None if interval is None else [_round(end) for end in interval],
        "confidence": confidence,
        "resamples": resamples,
        "seed": seed,
    }
    level = f"{confidence * 100:g} %"
    if len(joins) < MIN_PREQUEUE or rho is None or interval is None:
        detail = f"{len(joins)} pre-queue tickets: too few to judge a shuffle (<{MIN_PREQUEUE})"
        return Check("the pre-queue shuffled (place not by join time)", False, detail), figures
    low, high = interval
    contains_zero = low <= 0 <= high
    negligible = abs(rho) <= NEGLIGIBLE_RHO
    why = (
        "the interval contains 0"
        if contains_zero
        else f"|rho| <= {NEGLIGIBLE_RHO:g}, negligible"
        if negligible
        else "correlated"
    )
    detail = (
        f"Spearman rho {rho:+.4f} between join instant and place over {len(joins)} pre-queue "
        f"tickets, bootstrap {level} interval [{low:+.4f}, {high:+.4f}] ({resamples} "
        f"resamples, seed {seed}): {why}"
    )
    return Check(
        "the pre-queue shuffled (place not by join time)", contains_zero or negligible, detail
    ), figures


def later_in_arrival_order(arrivals: Sequence[Arrival], prequeue_places: Collection[int]) -> Check:
    """After the start, the queue keeps arrival order: places rise with the server's
    joinedAt (equal milliseconds may go either way), a join answered before another was
    sent is ahead of it, and every later place is behind the whole pre-queue."""
    last_pre = max(prequeue_places, default=0)
    wrong = [
        f"{a.user} place {a.place} inside the pre-queue (..{last_pre})"
        for a in arrivals
        if a.place <= last_pre
    ]
    by_place = sorted(arrivals, key=lambda a: a.place)
    server_inversions = [
        f"{b.user} (joined {b.joined_ms}) place {b.place} after {a.user} (joined {a.joined_ms})"
        for a, b in pairwise(by_place)
        if a.joined_ms is not None and b.joined_ms is not None and a.joined_ms > b.joined_ms
    ]
    client_inversions = _happened_before_inversions(arrivals)
    wrong += server_inversions + client_inversions
    return Check(
        "later arrivals in arrival order",
        not wrong,
        f"{len(arrivals)} joins after the start, behind {len(prequeue_places)} pre-queue places; "
        f"places against the server's join times: {len(server_inversions)} inversions; "
        f"against the clients' (a join answered before another was sent): "
        f"{len(client_inversions)}" + examples(wrong),
    )


def _happened_before_inversions(arrivals: Sequence[Arrival]) -> list[str]:
    """Pairs where a's join was answered before b's was sent, yet b's place is ahead."""
    by_answer = sorted(arrivals, key=lambda a: a.answered_ns)
    answered = [a.answered_ns for a in by_answer]
    # best[i]: the arrival with the highest place among by_answer[: i + 1]
    best: list[Arrival] = []
    for a in by_answer:
        best.append(a if not best or a.place > best[-1].place else best[-1])
    found = []
    for b in arrivals:
        before = bisect_left(answered, b.sent_ns)  # answered strictly before b was sent
        if before and best[before - 1].place > b.place:
            a = best[before - 1]
            found.append(
                f"{a.user} answered before {b.user} was sent, placed {a.place} > {b.place}"
            )
    return found


def admitted_in_place_order(tickets: Sequence[AuditTicket]) -> Check:
    """The admitted tickets hold the first places, and admittedAt rises with the place."""
    placed = sorted((t for t in tickets if t.place is not None), key=lambda t: t.place or 0)
    admitted = [t for t in placed if t.admitted_ms is not None]
    last_admitted = (admitted[-1].place or 0) if admitted else 0
    skipped = [
        f"place {t.place} ({t.state}) not admitted"
        for t in placed
        if t.admitted_ms is None and (t.place or 0) < last_admitted
    ]
    backwards = [
        f"place {b.place} admitted at {b.admitted_ms} before place {a.place} at {a.admitted_ms}"
        for a, b in pairwise(admitted)
        if (b.admitted_ms or 0) < (a.admitted_ms or 0)
    ]
    places = [t.place for t in placed]
    whole = places == list(range(1, len(places) + 1))
    unplaced = len(tickets) - len(placed)
    problems = skipped + backwards
    if not whole:
        problems.insert(0, f"places are not 1..{len(places)} each once")
    return Check(
        "admission in queue order",
        not problems,
        f"{len(admitted)} of {len(placed)} placed tickets admitted (places 1..{last_admitted}), "
        f"{unplaced} without a place" + examples(problems),
    )


def skippers_refused(
    attempts: Sequence[Attempt],
    order_users: Collection[str],
    skippers: Collection[str],
    forged_reads: Sequence[int],
    robbed: Mapping[str, str],
    sold_out_ns: int | None = None,
) -> Check:
    """Every skipper's purchase answered 403 not_admitted (a replayed used ticket: that or
    409 already_purchased, REPLAY_ANSWERS), or 410 sold_out once answered after the last
    sale (`sold_out_ns`, on the client's clock: there is no queue left to skip); no skipper
    holds an order; a forged ticket read back answers 403 or 404, never 200; and every
    shopper whose admitted ticket a thief presented kept its admission: its own purchase
    was not refused not_admitted (`robbed`: user -> its own purchase's outcome; sold_out
    is no loss)."""
    refused = [a for a in attempts if _refused(a, sold_out_ns)]
    wrong = [
        f"{a.kind} {a.user}: {a.http or 'no answer'} {a.outcome or ''}".strip()
        for a in attempts
        if not _refused(a, sold_out_ns)
    ]
    after_sell_out = sum(1 for a in refused if a.http == 410)
    wrong += [f"skipper {user} holds an order" for user in sorted(set(skippers) & set(order_users))]
    valid_forgeries = sum(1 for http in forged_reads if http == 200)
    wrong += ["a forged ticket read back as a ticket"] * valid_forgeries
    lost = {user: outcome for user, outcome in robbed.items() if outcome == NOT_ADMITTED}
    wrong += [f"robbed {user} told {outcome}" for user, outcome in sorted(lost.items())]
    kinds: dict[str, int] = defaultdict(int)
    for attempt in attempts:
        kinds[attempt.kind] += 1
    return Check(
        "queue-skippers bought nothing",
        bool(attempts) and not wrong,
        f"{len(refused)} of {len(attempts)} purchases without an admitted ticket of one's own "
        "refused ("
        + ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
        + f"; {after_sell_out} of them sold_out after the last sale); "
        f"{len(forged_reads)} forged tickets read back, {valid_forgeries} valid; "
        f"{len(robbed) - len(lost)} of {len(robbed)} robbed shoppers kept their admission ("
        + _pairs(Counter(robbed.values()))
        + ")"
        + examples(wrong),
    )


def _refused(attempt: Attempt, sold_out_ns: int | None) -> bool:
    answer = (attempt.http, attempt.outcome)
    if answer == (410, "sold_out"):
        return sold_out_ns is not None and attempt.answered_ns >= sold_out_ns
    return answer in REPLAY_ANSWERS if attempt.kind == "replayed" else answer == (403, NOT_ADMITTED)


def admission_rate(
    tickets: Sequence[AuditTicket],
    admit_per_minute: int | None,
    *,
    tolerance: float = RATE_TOLERANCE,
) -> tuple[Check, dict[str, Any]]:
    """Admissions per minute over the span where the queue was not empty: from the first
    admission to the last one before a ticket that joined after its predecessor had been
    admitted (from there on arrivals, not the rate, set the pace). Admissions come in
    batches, so the rate counts those after the first instant over the span:
    (n - admitted at the first instant) / (last - first)."""
    admitted = sorted(
        (t for t in tickets if t.place is not None and t.admitted_ms is not None),
        key=lambda t: t.place or 0,
    )
    window: list[AuditTicket] = []
    for ticket in admitted:
        if (
            window
            and ticket.joined_ms is not None
            and ticket.joined_ms > (window[-1].admitted_ms or 0)
        ):
            break  # the queue was empty when the one before it was admitted
        window.append(ticket)
    name = "the admission rate held"
    if admit_per_minute is None:
        return _admitted_at_once(admitted)
    instants = [t.admitted_ms or 0 for t in window]
    span_ms = _span_ms(window)
    figures: dict[str, Any] = {
        "admitted": len(admitted),
        "inWindow": len(window),
        "spanS": round(span_ms / 1000, 3),
        "setPerMinute": admit_per_minute,
        "perMinute": None,
        "tolerance": tolerance,
    }
    if len(window) < MIN_RATE_ADMISSIONS or span_ms < MIN_RATE_SPAN_MS:
        return Check(
            name,
            False,
            f"{len(window)} admissions over {span_ms} ms while the queue was not empty: too "
            f"few to measure (needs {MIN_RATE_ADMISSIONS} over {MIN_RATE_SPAN_MS} ms)",
        ), figures
    first_batch = instants.count(instants[0])
    rate = (len(window) - first_batch) / span_ms * 60_000
    off = rate / admit_per_minute - 1
    figures.update(perMinute=round(rate, 2), off=round(off, 4), firstBatch=first_batch)
    return Check(
        name,
        abs(off) <= tolerance,
        f"{len(window)} admitted over {span_ms / 1000:.2f} s while the queue was not empty "
        f"(places 1..{window[-1].place}, {first_batch} at the first instant): "
        f"{rate:.1f}/min against {admit_per_minute}/min set, {off * 100:+.2f} % "
        f"(within {tolerance * 100:g} %)",
    ), figures


def _admitted_at_once(admitted: Sequence[AuditTicket]) -> tuple[Check, dict[str, Any]]:
    """Without admitPerMinute every ticket is admitted at the start, or at its join after
    it: within AT_ONCE_MS of the later of the two."""
    first = min((t.admitted_ms or 0 for t in admitted), default=0)
    waits = [(t.admitted_ms or 0) - max(first, t.joined_ms or first) for t in admitted]
    slow = [
        f"place {t.place} after {w} ms"
        for t, w in zip(admitted, waits, strict=True)
        if w > AT_ONCE_MS
    ]
    longest = max(waits, default=0)
    return Check(
        "the admission rate held",
        bool(admitted) and not slow,
        f"no admitPerMinute: {len(admitted)} admitted, each within {longest} ms of the first "
        f"admission or its join (at most {AT_ONCE_MS} ms)" + examples(slow),
    ), {"admitted": len(admitted), "longestWaitMs": longest}


def _span_ms(tickets: Sequence[AuditTicket]) -> int:
    instants = [t.admitted_ms for t in tickets if t.admitted_ms is not None]
    return max(instants) - min(instants) if instants else 0


def _pairs(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def stock_sold_exactly(
    orders: Sequence[SoldOrder],
    stock: int,
    tickets: Sequence[AuditTicket],
    *,
    expect_sell_out: bool,
) -> Check:
    """Never more than the stock, exactly the stock when demand was over it, one order per
    person, and each order's buyer holds a ticket that was used (the purchase ended it)."""
    per_user: dict[str, int] = defaultdict(int)
    for order in orders:
        per_user[order.user] += 1
    twice = [f"{user} holds {n}" for user, n in sorted(per_user.items()) if n > 1]
    used = {t.user for t in tickets if t.used_ms is not None}
    unticketed = sorted(set(per_user) - used)
    problems = twice + [f"{user} bought without a used ticket" for user in unticketed]
    if len(orders) > stock:
        problems.insert(0, f"{len(orders)} sold > stock {stock}")
    elif expect_sell_out and len(orders) != stock:
        problems.insert(0, f"{len(orders)} sold of {stock} though demand was over the stock")
    return Check(
        "exactly the stock sold, one per person, each by its ticket",
        not problems,
        f"{len(orders)} sold of {stock}, {len(per_user)} buyers, {len(used)} tickets used"
        + examples(problems),
    )


def nobody_admitted_after_sell_out(
    tickets: Sequence[AuditTicket],
    orders: Sequence[SoldOrder],
    stock: int,
    closed_seen_s: float | None,
    closed_at_ms: int | None = None,
) -> tuple[Check, dict[str, Any]]:
    """Once the last unit is sold: no admittedAt after it; every ticket never admitted
    whose state is known (the record's, else its holder's last read) ends closed; the
    status showed the queue closed within CLOSED_SEEN_WITHIN_S (`closed_seen_s`: its first
    sample showing it closed, seconds after the last sale); and the record's closedAt,
    when it has one, is not before the last sale nor later than that after it."""
    figures: dict[str, Any] = {"soldOut": len(orders) >= stock}
    name = "nobody admitted after the sell-out; the queue closed"
    if len(orders) < stock:
        return Check(name, True, f"{len(orders)} sold of {stock}: never sold out"), figures
    last_sale = max((o.purchased_ms for o in orders if o.purchased_ms is not None), default=None)
    if last_sale is None:
        return Check(name, False, "no purchasedAt among the orders"), figures
    late = [t for t in tickets if t.admitted_ms is not None and t.admitted_ms > last_sale]
    never = [t for t in tickets if t.admitted_ms is None]
    unknown = [t for t in never if t.state is None]
    open_after = [t for t in never if t.state is not None and t.state != "closed"]
    # Admitted, then the stock ran out before they bought (or they never did).
    admitted_unused = [t for t in tickets if t.admitted_ms is not None and t.used_ms is None]
    closed_after_s = None if closed_at_ms is None else (closed_at_ms - last_sale) / 1000
    figures.update(
        lastSaleMs=last_sale,
        admittedAfter=len(late),
        notClosed=len(open_after),
        stateUnknown=len(unknown),
        admittedNotUsed=len(admitted_unused),
        closedSeenAfterS=None if closed_seen_s is None else round(closed_seen_s, 3),
        closedAtAfterS=closed_after_s,
    )
    problems = [
        f"place {t.place} admitted {(t.admitted_ms or 0) - last_sale} ms after" for t in late
    ]
    problems += [f"place {t.place} ended {t.state}, not closed" for t in open_after]
    if closed_seen_s is None:
        problems.append("the status never showed the queue closed")
    elif closed_seen_s > CLOSED_SEEN_WITHIN_S:
        problems.append(f"the status showed it closed {closed_seen_s:.2f} s after the last sale")
    if closed_after_s is not None and not 0 <= closed_after_s <= CLOSED_SEEN_WITHIN_S:
        problems.append(f"closedAt {closed_after_s:+.3f} s from the last sale")
    seen = "never" if closed_seen_s is None else f"{closed_seen_s:+.2f} s after it"
    recorded = "" if closed_after_s is None else f", closedAt {closed_after_s:+.3f} s after it"
    return Check(
        name,
        not problems,
        f"{len(late)} admitted after the last sale; of {len(never)} tickets never admitted "
        f"{len(never) - len(open_after) - len(unknown)} end closed, {len(unknown)} unread; "
        f"status showed closed {seen}{recorded}; {len(admitted_unused)} admitted without buying"
        + examples(problems),
    ), figures


def tabs_one_ticket(joins: Sequence[Join]) -> Check:
    """Every tab of a person that got a ticket got the same one; one tab was told 201
    (a new ticket) and the others 200 (the existing one)."""
    tabs: dict[str, list[Join]] = defaultdict(list)
    for join in joins:
        tabs[join.user].append(join)
    problems: list[str] = []
    several = 0
    for user, own in sorted(tabs.items()):
        got = [j for j in own if j.http in (200, 201) and j.ticket]
        several += len(own) > 1
        if len({j.ticket for j in got}) > 1:
            problems.append(f"{user}: {len({j.ticket for j in got})} tickets over {len(own)} tabs")
        created = sum(1 for j in got if j.http == 201)
        if got and created != 1:
            problems.append(f"{user}: {created} tabs told 201 of {len(got)}")
    refused: dict[str, int] = defaultdict(int)
    for join in joins:
        if not join.ticket:
            refused[str(join.http or "no answer")] += 1
    return Check(
        "every tab of a person held the same ticket",
        not problems,
        f"{len(joins)} joins by {len(tabs)} people, {several} with several tabs"
        + (
            ", without a ticket: " + ", ".join(f"{k} {n}" for k, n in sorted(refused.items()))
            if refused
            else ""
        )
        + examples(problems),
    )
