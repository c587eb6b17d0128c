"""`python -m stress flash --queue`: a sale with a waiting room, and its verdict.

The toolkit starts the client processes (stress.client.queue_shopper, drawn by
stress.scenarios.queue_plans), then makes the sale with its queue term through the
admin API, starting `prequeue_s` after the release instant it then sets. People join the
pre-queue before the start and the queue after it, follow their place and buy once
admitted; queue-skippers try to buy without an admitted ticket of their own. Once every
process is done, the operators' record of the queue (GET /flash-sale/admin/sales/{id}/queue)
and the sale's orders are read, and stress.verdicts.queue judges.
"""

from __future__ import annotations

import queue
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import multiprocess

from stress.api import iso_to_ms, iso_to_ns
from stress.api_client import Api, ApiError
from stress.client.queue_shopper import PersonEnd, ProcessResult, client_main
from stress.client.release import STARTED, PhaseGate, ReleaseError
from stress.runs import new_run_id
from stress.scenarios.queue_plans import QueueOptions, deadline_s, process_plans
from stress.verdicts.check import Check
from stress.verdicts.queue import (
    Arrival,
    AuditTicket,
    Join,
    SoldOrder,
    admission_rate,
    admitted_in_place_order,
    later_in_arrival_order,
    nobody_admitted_after_sell_out,
    prequeue_shuffled,
    skippers_refused,
    stock_sold_exactly,
    tabs_one_ticket,
)

# From the release instant being picked to the release: time to make the sale.
SALE_LEAD_S = 1.0
RESULT_GRACE_S = 60.0


@dataclass
class QueueResult:
    checks: list[Check]
    figures: dict[str, Any]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


def run_queue(options: QueueOptions) -> QueueResult:
    parts = urlsplit(options.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    api = Api(options.url, options.admin_token)
    try:
        offset_ns = _server_offset_ns(api)
        plans = process_plans(options, new_run_id(), host, port)
        started = time.monotonic()
        sale, results = _play(api, options, plans, offset_ns)
        wall_s = time.monotonic() - started
        sale_id = str(sale["saleId"])
        raw_tickets, record = api.queue_record(sale_id)
        raw_orders = api.orders(sale_id)
        status = api.status()
    finally:
        api.close()
    told = {end.user: end.final_state for r in results for end in r.people if end.final_state}
    tickets = [_audit_ticket(t, told) for t in raw_tickets]
    orders = [SoldOrder(str(o.get("userId")), iso_to_ms(o.get("purchasedAt"))) for o in raw_orders]
    skippers = {s.user for plan in plans for s in plan.skippers}
    return judge(
        options, sale, results, tickets, orders, skippers, offset_ns, record, status, wall_s
    )


def _server_offset_ns(api: Api) -> int:
    """The server's clock less this host's (0 on one host, NTP's error on two)."""
    before = time.time_ns()
    server_ns = iso_to_ns(api.status().get("serverTime"))
    after = time.time_ns()
    return 0 if server_ns is None else server_ns - (before + after) // 2


def _iso(instant_ns: int) -> str:
    return datetime.fromtimestamp(instant_ns / 1e9, UTC).isoformat(timespec="milliseconds")


def _play(
    api: Api, options: QueueOptions, plans: list[Any], offset_ns: int
) -> tuple[dict[str, Any], list[ProcessResult]]:
    """Start the processes, make the sale, release them; their results."""
    context = multiprocess.get_context("spawn")
    gate, results = PhaseGate(context), context.Queue()
    children = [
        context.Process(
            target=client_main,
            args=(index, plan, gate, results),
            name=f"stress-queue-{index}",
            daemon=True,
        )
        for index, plan in enumerate(plans)
    ]
    for child in children:
        child.start()
    try:
        try:
            gate.collect(STARTED, children)
        except ReleaseError as exc:
            raise ApiError(f"client processes: {exc}") from None
        release_ns = time.time_ns() + int(SALE_LEAD_S * 1e9)
        starts_at = _iso(release_ns + offset_ns + int(options.prequeue_s * 1e9))
        sale = api.start_sale(options.stock, 1, starts_at=starts_at, queue=_queue_term(options))
        if time.time_ns() >= release_ns:
            raise ApiError(f"making the sale took over {SALE_LEAD_S:g} s")
        gate.release_at(release_ns)
        _progress(options, "released; the sale starts at " + starts_at)
        wait_s = deadline_s(options) + SALE_LEAD_S + RESULT_GRACE_S
        gathered: list[ProcessResult] = []
        deadline = time.monotonic() + wait_s
        while len(gathered) < len(children):
            try:
                gathered.append(results.get(timeout=1.0))
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise ApiError("client processes sent no results in time") from None
                dead = [c.name for c in children if c.exitcode not in (None, 0)]
                if dead:
                    raise ApiError(f"client processes died: {dead}") from None
        return sale, gathered
    finally:
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.terminate()


def _queue_term(options: QueueOptions) -> dict[str, Any]:
    return {
        "opensAt": None,
        "shuffle": True,
        "admitPerMinute": options.admit_per_minute,
        "admittedSeconds": options.admitted_s,
        "proofOfWork": False,
    }


def _progress(options: QueueOptions, line: str) -> None:
    if options.progress:
        print(f"stress flash --queue: {line}", file=sys.stderr)


def _audit_ticket(raw: dict[str, Any], told: dict[str, str]) -> AuditTicket:
    """A ticket of the record; its state the record's, else what its holder last read."""
    place = raw.get("place")
    state = raw.get("state") or told.get(str(raw.get("userId")))
    return AuditTicket(
        place if isinstance(place, int) else None,
        int(raw.get("number") or 0),
        str(raw.get("userId")),
        iso_to_ms(raw.get("joinedAt")),
        iso_to_ms(raw.get("admittedAt")),
        iso_to_ms(raw.get("usedAt")),
        None if state is None else str(state),
    )


def judge(
    options: QueueOptions,
    sale: dict[str, Any],
    results: list[ProcessResult],
    tickets: list[AuditTicket],
    orders: list[SoldOrder],
    skippers: set[str],
    offset_ns: int,
    record: dict[str, Any],
    status: dict[str, Any],
    wall_s: float,
) -> QueueResult:
    joins = [join for result in results for join in result.joins]
    first = _first_joins(joins)
    place_of = {t.user: t.place for t in tickets if t.place is not None}
    prequeue = {user for user, join in first.items() if join.state == "prequeue"}
    pairs = [(first[u].sent_ns, place_of[u]) for u in prequeue if u in place_of]
    shuffle_check, rank_figures = prequeue_shuffled(
        pairs, confidence=options.confidence, resamples=options.resamples, seed=options.seed
    )
    joined_ms = {t.user: t.joined_ms for t in tickets}
    arrivals = [
        Arrival(u, j.sent_ns, j.answered_ns, joined_ms.get(u), place_of[u])
        for u, j in first.items()
        if u not in prequeue and u in place_of
    ]
    attempts = [a for result in results for a in result.attempts]
    robbed = {user: outcome for result in results for user, outcome in result.robbed.items()}
    forged_reads = [http for result in results for http in result.forged_reads]
    rate_check, rate_figures = admission_rate(tickets, options.admit_per_minute)
    closed_ns = [r.closed_seen_ns for r in results if r.closed_seen_ns is not None]
    last_sale_ms = max((o.purchased_ms for o in orders if o.purchased_ms is not None), default=0)
    closed_seen_s = (min(closed_ns) + offset_ns) / 1e9 - last_sale_ms / 1e3 if closed_ns else None
    with_ticket = {t.user for t in tickets} - skippers
    forgers = sum(1 for u in skippers if u.endswith("-forged"))
    sold_out_check, sold_out_figures = nobody_admitted_after_sell_out(
        tickets, orders, options.stock, closed_seen_s, iso_to_ms(record.get("closedAt"))
    )
    checks = [
        shuffle_check,
        later_in_arrival_order(arrivals, [place_of[u] for u in prequeue if u in place_of]),
        admitted_in_place_order(tickets),
        skippers_refused(
            attempts,
            {o.user for o in orders},
            skippers,
            forged_reads,
            robbed,
            last_sale_ms * 10**6 - offset_ns if len(orders) >= options.stock else None,
        ),
        rate_check,
        stock_sold_exactly(
            orders,
            options.stock,
            tickets,
            expect_sell_out=len(with_ticket) >= options.stock + forgers,
        ),
        sold_out_check,
        tabs_one_ticket(joins),
    ]
    people = [end for result in results for end in result.people]
    answers: Counter[str] = Counter()
    for result in results:
        answers.update(result.answers)
    samples = next((r.samples for r in results if r.samples), [])
    figures: dict[str, Any] = {
        "saleId": sale.get("saleId"),
        "people": options.people,
        "prequeue": len(prequeue),
        "later": len(arrivals),
        "tabs": len(joins),
        "skippers": dict(Counter(u.rsplit("-", 1)[-1] for u in skippers)),
        "stock": options.stock,
        "admitPerMinute": options.admit_per_minute,
        "admittedSeconds": options.admitted_s,
        "prequeueSeconds": options.prequeue_s,
        "laterSeconds": options.later_s,
        "processes": len(results),
        "runSeconds": round(wall_s, 2),
        "sold": len(orders),
        "shuffledAt": record.get("shuffledAt"),
        "serving": record.get("serving"),
        "statusQueue": status.get("queue"),
        "ticketStates": dict(Counter(_final(t) for t in tickets)),
        "outcomes": dict(Counter(_ended(p) for p in people)),
        "rank": rank_figures,
        "rate": rate_figures,
        "sellOut": sold_out_figures,
        "answers": dict(sorted(answers.items())),
        "notes": [f"client {r.index}: {r.note}" for r in results if r.note],
        "series": {
            "t": [s[0] for s in samples],
            "serving": [s[1] for s in samples],
            "waiting": [s[2] for s in samples],
            "sold": [s[5] for s in samples],
        },
    }
    return QueueResult(checks, figures)


def _ended(person: PersonEnd) -> str:
    if person.ticket is None:
        return "without a ticket"
    return person.outcome or f"ended {person.final_state or 'unread'}"


def _final(ticket: AuditTicket) -> str:
    if ticket.used_ms is not None:
        return "used"
    return ticket.state or ("admitted, unread" if ticket.admitted_ms else "unread")


def _first_joins(joins: list[Join]) -> dict[str, Join]:
    """Each person's join that made its ticket (told 201), else its earliest with one."""
    first: dict[str, Join] = {}
    for join in sorted(joins, key=lambda j: (j.http != 201, j.sent_ns)):
        if join.ticket and join.user not in first:
            first[join.user] = join
    return first


def format_queue(result: QueueResult) -> str:
    f = result.figures
    lines = ["waiting-room flash sale: " + ("PASSED" if result.ok else "FAILED")]
    for check in result.checks:
        lines.append(f"  [{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
    rate = "all at the start" if f["admitPerMinute"] is None else f"{f['admitPerMinute']}/min"
    lines.append(
        f"  {f['people']} people ({f['prequeue']} in the pre-queue over "
        f"{f['prequeueSeconds']:g} s, "
        f"{f['later']} after the start over {f['laterSeconds']:g} s, {f['tabs']} tabs), "
        f"skippers {_pairs(f['skippers'])}; stock {f['stock']}, admitted {rate} for "
        f"{f['admittedSeconds']} s each; {f['processes']} client processes, {f['runSeconds']} s"
    )
    lines.append(f"  sold {f['sold']}; tickets: {_pairs(f['ticketStates'])}")
    lines.append(f"  people ended: {_pairs(f['outcomes'])}")
    lines.append("  answers: " + ", ".join(f"{k}: {n}" for k, n in f["answers"].items()))
    lines += [f"  note: {note}" for note in f["notes"]]
    return "\n".join(lines)


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none"
