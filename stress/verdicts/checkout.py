"""The verdict of a sale with checkout holds (`python -m stress flash --hold-seconds`):
pure functions over what the shoppers saw, the status sampled through the run, the
orders' final states (the look-ups) and the webhooks that arrived.

- confirmed <= stock, per product and in all;
- live (held + confirmed: the status's `sold`) <= stock and held <= live at every sample;
- every unit ends confirmed or released: no order is still held once the run settled;
- payments: on time -> 200 confirmed; late -> 200 (the unit was free, taken back) and then
  confirmed, or 409 hold-expired with refundRequired and the order stays released;
- the waitlist served in order: per product, offers go to entries in join order (no
  entry is passed over for a later one, offered holds' positions rise with the place);
- webhooks: each delivered with a valid signature, none missing for the orders' final
  states and the offers, none contradicting them, none for an unknown order.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from stress.verdicts.check import Check, examples

HELD, CONFIRMED, CANCELLED, EXPIRED = "held", "confirmed", "cancelled", "expired"
RELEASED = (CANCELLED, EXPIRED)
# A confirm sent this close before its expiresAt may arrive after it: either answer is right.
EDGE_S = 0.25
HOLD_EXPIRED = "/problems/hold-expired"

# Which order events each final state implies (must arrive) and allows (may arrive).
# A late confirm that took a free unit back ends confirmed after it expired.
IMPLIED = {
    CONFIRMED: {"order.held", "order.confirmed"},
    EXPIRED: {"order.held", "order.expired"},
    CANCELLED: {"order.held", "order.cancelled"},
}
ALLOWED = {
    CONFIRMED: {"order.held", "order.confirmed", "order.expired"},
    EXPIRED: {"order.held", "order.expired"},
    CANCELLED: {"order.held", "order.cancelled"},
    HELD: {"order.held"},
}


@dataclass(frozen=True, slots=True)
class Sample:
    """The status at one instant: `sold` is live units (held + confirmed)."""

    at_s: float
    sold: int
    held: int


@dataclass(frozen=True, slots=True)
class FinalOrder:
    order_id: str
    user: str
    sku: str
    position: int
    state: str


@dataclass(frozen=True, slots=True)
class Payment:
    """One confirm a shopper sent: when (wall clock), its hold's expiresAt, the answer."""

    order_id: str
    sku: str
    sent_s: float
    expires_s: float
    http: int
    problem: str | None = None  # the problem's type
    refund_required: bool = False


@dataclass(frozen=True, slots=True)
class WaitEntry:
    user: str
    sku: str
    place: int
    state: str  # waiting, offered, closed
    order_id: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    webhook_id: str
    type: str
    order_id: str | None


def confirmed_within_stock(orders: Iterable[FinalOrder], stock: Mapping[str, int]) -> Check:
    confirmed = Counter(order.sku for order in orders if order.state == CONFIRMED)
    over = [
        f"{sku} {n} > {stock.get(sku, 0)}" for sku, n in confirmed.items() if n > stock.get(sku, 0)
    ]
    total, whole = sum(confirmed.values()), sum(stock.values())
    return Check(
        "confirmed <= stock",
        not over and total <= whole,
        f"{total} confirmed of {whole} units" + examples(over),
    )


def live_within_stock(samples: Sequence[Sample], stock: int) -> Check:
    bad = [s for s in samples if s.sold > stock or s.held > s.sold or s.held < 0]
    peak_live = max((s.sold for s in samples), default=0)
    peak_held = max((s.held for s in samples), default=0)
    return Check(
        "confirmed + held <= stock through the run",
        bool(samples) and not bad,
        f"{len(samples)} status samples; peak live {peak_live} of {stock}, peak held {peak_held}"
        + examples(f"at {s.at_s:.2f}s sold {s.sold} held {s.held}" for s in bad)
        + ("" if samples else ": no sample taken"),
    )


def every_unit_settled(orders: Sequence[FinalOrder], final: Sample | None) -> Check:
    held = [order.order_id for order in orders if order.state not in (CONFIRMED, *RELEASED)]
    states = Counter(order.state for order in orders)
    still = final.held if final is not None else None
    return Check(
        "every unit ends confirmed or released",
        not held and still == 0,
        ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
        + f"; status held at the end: {still}"
        + examples(held),
    )


def payments_answered(payments: Sequence[Payment], states: Mapping[str, str]) -> Check:
    """On time: 200 and confirmed. Late: 200 and confirmed (a free unit taken back), or
    409 hold-expired with refundRequired while the order stays released."""
    wrong: list[str] = []
    late_refused = late_taken = 0
    for pay in payments:
        final = states.get(pay.order_id)
        margin = pay.sent_s - pay.expires_s
        if pay.http == 200:
            if final != CONFIRMED:
                wrong.append(f"{pay.order_id}: 200 but ends {final}")
            elif margin > EDGE_S:
                late_taken += 1
        elif pay.http == 409 and pay.problem == HOLD_EXPIRED:
            if margin < -EDGE_S:
                wrong.append(f"{pay.order_id}: hold-expired {-margin:.2f}s before expiresAt")
            elif not pay.refund_required:
                wrong.append(f"{pay.order_id}: hold-expired without refundRequired")
            elif final not in RELEASED:
                wrong.append(f"{pay.order_id}: refused but ends {final}")
            else:
                late_refused += 1
        else:
            wrong.append(f"{pay.order_id}: {pay.http} {pay.problem or ''}".strip())
    return Check(
        "payments answered as their timing says",
        not wrong,
        f"{len(payments)} confirms; late ones refused (hold_expired, refundRequired) "
        f"{late_refused}, late ones given a free unit back {late_taken}" + examples(wrong),
    )


def waitlist_in_order(entries: Sequence[WaitEntry], positions: Mapping[str, int]) -> Check:
    """Per product, offers go in join order: an offered entry has no earlier entry still
    unoffered, and offered holds' positions (decision order) rise with the place."""
    by_sku: dict[str, list[WaitEntry]] = defaultdict(list)
    for entry in entries:
        by_sku[entry.sku].append(entry)
    wrong: list[str] = []
    offered_total = 0
    for sku, group in by_sku.items():
        group.sort(key=lambda e: e.place)
        places = [e.place for e in group]
        if len(set(places)) != len(places):
            wrong.append(f"{sku}: a place given twice")
        offered = [e for e in group if e.state == "offered"]
        offered_total += len(offered)
        if offered:
            last = offered[-1].place
            passed = [e for e in group if e.place < last and e.state != "offered"]
            wrong += [f"{sku} place {e.place} {e.state}, place {last} offered" for e in passed]
        seen = [positions.get(e.order_id or "") for e in offered]
        if any(p is None for p in seen):
            wrong.append(f"{sku}: an offered entry without its order")
        known = [p for p in seen if p is not None]
        if known != sorted(known):
            wrong.append(f"{sku}: offered holds' positions {known[:6]} not in join order")
    return Check(
        "the waitlist served in order",
        not wrong,
        f"{len(entries)} entries over {len(by_sku)} product(s), {offered_total} offered"
        + examples(wrong),
    )


def webhooks_complete(
    deliveries: Sequence[Delivery],
    orders: Sequence[FinalOrder],
    offered: Sequence[WaitEntry],
    rejected: Mapping[str, int],
) -> tuple[Check, dict[str, int]]:
    """Every event the final states imply arrived (at least once: the receiver keeps the
    first of each webhook-id), none contradicts them, and none was forged or stale."""
    got: dict[str, set[str]] = defaultdict(set)
    unknown: list[str] = []
    state_of = {order.order_id: order.state for order in orders}
    offers_seen = set()
    for one in deliveries:
        if one.type == "waitlist.offered":
            offers_seen.add(one.order_id)
        elif one.type.startswith("order."):
            if one.order_id not in state_of:
                unknown.append(f"{one.type} for unknown {one.order_id}")
            else:
                got[one.order_id or ""].add(one.type)
    missing: list[str] = []
    contradicting: list[str] = []
    for order in orders:
        arrived = got.get(order.order_id, set())
        missing += [
            f"{kind} {order.order_id}" for kind in IMPLIED.get(order.state, set()) - arrived
        ]
        contradicting += [
            f"{kind} for a {order.state} {order.order_id}"
            for kind in arrived - ALLOWED.get(order.state, set())
        ]
    missing += [f"waitlist.offered {e.order_id}" for e in offered if e.order_id not in offers_seen]
    bad_signatures = sum(rejected.get(reason, 0) for reason in ("forged", "stale"))
    figures = {
        "delivered": len(deliveries),
        "missing": len(missing),
        "contradicting": len(contradicting),
        "unknown": len(unknown),
        "rejected": bad_signatures,
        "duplicates": rejected.get("duplicate", 0),
        **{f"type:{k}": n for k, n in sorted(Counter(d.type for d in deliveries).items())},
    }
    problems = missing + contradicting + unknown
    return (
        Check(
            "every webhook arrived, signed, none missing",
            not problems and bad_signatures == 0,
            f"{len(deliveries)} delivered ({figures['duplicates']} duplicates dropped), "
            f"{len(missing)} missing, {len(contradicting)} contradicting, "
            f"{len(unknown)} unknown, {bad_signatures} with a bad signature or time"
            + examples(problems),
        ),
        figures,
    )
