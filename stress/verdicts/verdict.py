"""The verdict: did the sale behave? Pure functions over the shoppers' records,
the look-ups made afterwards and the final status; no network.

Each invariant is a `Check` that holds or fails with a detail line; the verdict
is green only when every check holds. Warnings (shed load, pending answers,
client notes) are reported but do not fail the run.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from stress.api import OUTCOME_PAUSED
from stress.records import OUTCOME_RESENT, Record
from stress.verdicts.check import Check, examples
from stress.verdicts.fairness import FairnessFigures, fairness_figures
from stress.verdicts.identity_verdict import identity_checks, identity_counts
from stress.verdicts.orders import HeldOrder, LookupResult, RunOrders, collect_orders, held_by_user
from stress.verdicts.product_verdict import (
    ProductFacts,
    ProductRow,
    asked_sku,
    product_checks,
    product_rows,
)

RATE_WINDOW_NS = 60 * 10**9


@dataclass(frozen=True, slots=True)
class SaleFacts:
    """What the run knows about the sale under test, before and after."""

    stock: int  # items offered to this run's shoppers
    per_user_limit: int = 1
    sale_id: str | None = None
    sold_before: int = 0  # sold before the run (a sale used as it stood)
    starts_at_ns: int | None = None
    status_after: dict[str, Any] | None = None
    rate_limit_per_min: int | None = None  # check the rate limit when set
    fairness_tolerance_ms: float = 1000.0
    auth_mode: str = "open"  # "jwt": the buyer is the token's sub (stress.scenarios.identity)
    # The sale's products (stress.verdicts.product_verdict); () from a server without products.
    products: tuple[ProductFacts, ...] = ()


@dataclass
class Verdict:
    checks: list[Check]
    warnings: list[str]
    confirmed: int
    demand: int
    fairness: FairnessFigures
    counts: dict[str, int] = field(default_factory=dict)
    # jwt mode: stress.verdicts.identity_verdict
    identity: dict[str, int] = field(default_factory=dict)
    products: list[ProductRow] = field(default_factory=list)  # stress.verdicts.product_verdict

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def failed(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "confirmed": self.confirmed,
            "demand": self.demand,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
            "warnings": self.warnings,
            "fairness": self.fairness.to_dict(),
            "counts": self.counts,
            "identity": self.identity,
            "products": [row.to_dict() for row in self.products],
        }


def judge(records: list[Record], lookups: dict[str, LookupResult], facts: SaleFacts) -> Verdict:
    purchases = [r for r in records if r.kind == "purchase"]
    by_user: dict[str, list[Record]] = defaultdict(list)
    for record in purchases:
        by_user[record.user].append(record)
    for attempts in by_user.values():
        attempts.sort(key=lambda r: r.send_ns)

    orders = collect_orders(by_user, lookups)
    confirmed = len(orders.users_of)
    demand = sum(min(facts.per_user_limit, len(attempts)) for attempts in by_user.values())
    counts = _count_outcomes(purchases)
    checks: list[Check] = []
    warnings: list[str] = []

    checks.append(_check_oversell(confirmed, facts))
    rows = product_rows(
        facts.products, by_user, orders.sku_of, facts.per_user_limit, facts.status_after
    )
    # Several products: each sells up to its own stock, whatever the others' demand.
    expected = sum(row.expected for row in rows) if rows else min(facts.stock, demand)
    checks.append(
        Check(
            "sold exactly min(stock, demand)",
            confirmed == expected,
            f"{confirmed} confirmed; stock {facts.stock}, demand {demand}, expected {expected}",
        )
    )
    checks.append(_check_per_user_limit(orders, facts.per_user_limit, len(facts.products)))
    checks += [
        Check(*check)
        for check in product_checks(rows, facts.products, by_user, held_by_user(orders))
    ]
    checks.append(_check_unique_orders(orders))
    checks.append(_check_repeat_answers(by_user, orders))
    checks.append(_check_lookups(by_user, lookups, orders))
    checks.append(_check_status(confirmed, facts))
    checks.append(_check_positions(orders, facts))
    checks.append(_check_sale_id(purchases, lookups, facts))
    if facts.starts_at_ns is not None:
        checks.append(_check_not_before_start(lookups, facts.starts_at_ns))
    checks.append(_check_no_5xx(purchases, warnings))
    errors = [r for r in purchases if r.http == 0 and r.status != OUTCOME_RESENT]
    resent = sum(1 for r in purchases if r.status == OUTCOME_RESENT)
    if resent:
        warnings.append(
            f"{resent} purchases died with a kept-alive connection the server had closed "
            "(idle keep-alive timeout) and were sent again at once, as browsers do"
        )
    checks.append(
        Check(
            "no connection errors",
            not errors,
            f"{len(errors)} requests without an answer" + examples(r.error for r in errors),
        )
    )
    if facts.rate_limit_per_min:
        checks.append(_check_rate_limit(by_user, facts.rate_limit_per_min))
    identity: dict[str, int] = {}
    if facts.auth_mode == "jwt":
        identity = identity_counts(by_user, orders.by_user)
        checks += [Check(*check) for check in identity_checks(identity, facts.per_user_limit)]
        if identity["attemptsAsAnotherId"] and not identity["refusedAsAnotherId"]:
            warnings.append(
                "no bot attempt as another id was answered 403: the refusal was not shown"
            )

    fairness = _fairness(by_user, orders, facts)
    checks.append(
        Check(
            f"fair order (nobody certainly overtaken by over {facts.fairness_tolerance_ms:g} ms)",
            fairness.unfair_pairs == 0,
            fairness.summary(),
        )
    )

    pending = counts.get("pending", 0)
    if pending:
        warnings.append(f"{pending} answers were 202 pending; resolved by the look-ups")
    return Verdict(checks, warnings, confirmed, demand, fairness, counts, identity, rows)


def _fairness(
    by_user: dict[str, list[Record]], orders: RunOrders, facts: SaleFacts
) -> FairnessFigures:
    """Fairness over the whole sale; with several products, a loser against the
    winners of the product it asked for only."""
    several = len(facts.products) > 1
    return fairness_figures(
        by_user,
        orders.position,
        orders.won_by,
        set(orders.by_user),
        facts.fairness_tolerance_ms,
        product_of_order=orders.sku_of if several else None,
        product_of_user={
            user: asked_sku(attempts, facts.products) for user, attempts in by_user.items()
        }
        if several
        else None,
    )


def _count_outcomes(purchases: list[Record]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for record in purchases:
        counts[record.outcome] += 1
    return dict(sorted(counts.items()))


def _check_oversell(confirmed: int, facts: SaleFacts) -> Check:
    detail = f"{confirmed} confirmed for a stock of {facts.stock}"
    ok = confirmed <= facts.stock
    status = facts.status_after or {}
    if isinstance(status.get("sold"), int) and isinstance(status.get("total"), int):
        detail += f"; status sold {status['sold']} of total {status['total']}"
        ok = ok and status["sold"] <= status["total"]
    return Check("no oversell", ok, detail)


def _check_per_user_limit(orders: RunOrders, limit: int, products: int = 0) -> Check:
    """Over every order the answers and the look-ups name, of whatever product."""
    over = {user: ids for user, ids in orders.by_user.items() if len(ids) > limit}
    return Check(
        f"nobody over the per-user limit ({limit})" + (" across products" if products > 1 else ""),
        not over,
        f"{len(over)} users over the limit"
        + examples(f"{user}: {_named(sorted(ids), orders)}" for user, ids in over.items()),
    )


def _named(order_ids: list[str], orders: RunOrders) -> str:
    """Order ids, each with its product when known."""
    return ", ".join(
        oid if orders.sku_of.get(oid) is None else f"{oid} ({orders.sku_of[oid]})"
        for oid in order_ids
    )


def _check_unique_orders(orders: RunOrders) -> Check:
    shared = {oid: users for oid, users in orders.users_of.items() if len(users) > 1}
    return Check(
        "order ids unique",
        not shared,
        f"{len(shared)} order ids shared by several users"
        + examples(f"{oid}: {sorted(users)}" for oid, users in shared.items()),
    )


def _check_repeat_answers(by_user: dict[str, list[Record]], orders: RunOrders) -> Check:
    """A 409 must name the order the user already holds."""
    wrong = []
    for user, attempts in by_user.items():
        held = orders.by_user.get(user, set())
        for record in attempts:
            if record.http != 409:
                continue
            if not held or (record.order_id and record.order_id not in held):
                wrong.append(f"{user}: 409 order {record.order_id}, holds {sorted(held)}")
    return Check(
        "409 answers name the order held",
        not wrong,
        f"{len(wrong)} inconsistent 409 answers" + examples(wrong),
    )


def _check_lookups(
    by_user: dict[str, list[Record]], lookups: dict[str, LookupResult], orders: RunOrders
) -> Check:
    lost, extra, mismatched, failed = [], [], [], []
    for user, attempts in by_user.items():
        lookup = lookups.get(user)
        if lookup is None or lookup.http not in (200, 404):
            failed.append(f"{user}: {'not looked up' if lookup is None else lookup.http}")
            continue
        confirmed = [r for r in attempts if r.http == 201 and r.order_id]
        held = {order.order_id: order for order in lookup.held()}
        if confirmed:
            if lookup.http == 404:
                lost.append(f"{user}: 201 {confirmed[0].order_id}, look-up 404")
            elif any(_disagrees(r, held) for r in confirmed):
                mismatched.append(
                    f"{user}: 201 {confirmed[0].order_id}/{confirmed[0].position}, "
                    f"look-up {[(o.order_id, o.position, o.sku) for o in held.values()]}"
                )
        elif lookup.http == 200:
            uncertain = any(r.http in (0, 202, 409) or r.http >= 500 for r in attempts)
            if not uncertain:
                seen = sorted({r.outcome for r in attempts})
                extra.append(f"{user}: answered {seen}, look-up has {lookup.order_id}")
    problems = len(lost) + len(extra) + len(mismatched) + len(failed)
    detail = (
        f"{len(lost)} lost sales, {len(extra)} sales to users told otherwise, "
        f"{len(mismatched)} mismatches, {len(failed)} failed look-ups"
        + examples(lost + extra + mismatched + failed)
    )
    return Check("look-ups agree with the answers", problems == 0, detail)


def _disagrees(record: Record, held: dict[str, HeldOrder]) -> bool:
    """A 201 whose order the look-up does not list, or lists at another position
    or of another product."""
    order = held.get(record.order_id or "")
    if order is None:
        return True
    if None not in (record.position, order.position) and record.position != order.position:
        return True
    return record.sku is not None and order.sku is not None and record.sku != order.sku


def _check_status(confirmed: int, facts: SaleFacts) -> Check:
    status = facts.status_after
    if not status:
        return Check("status agrees", False, "no final status")
    sold, remaining, total = status.get("sold"), status.get("remaining"), status.get("total")
    if not (isinstance(sold, int) and isinstance(remaining, int) and isinstance(total, int)):
        return Check("status agrees", False, f"status lacks sold/remaining/total: {status}")
    problems = []
    if sold - facts.sold_before != confirmed:
        problems.append(f"sold {sold} - {facts.sold_before} before != {confirmed} confirmed")
    if sold + remaining != total:
        problems.append(f"sold {sold} + remaining {remaining} != total {total}")
    if total - facts.sold_before != facts.stock:
        problems.append(f"total {total} - sold before {facts.sold_before} != stock {facts.stock}")
    return Check(
        "status sold/remaining agree",
        not problems,
        "; ".join(problems) or f"sold {sold}, remaining {remaining}, total {total}",
    )


def _check_positions(orders: RunOrders, facts: SaleFacts) -> Check:
    positions = list(orders.position.values())
    total = facts.stock + facts.sold_before
    duplicates = len(positions) - len(set(positions))
    outside = [p for p in positions if not 1 <= p <= total]
    return Check(
        "positions unique and within 1..total",
        duplicates == 0 and not outside,
        f"{duplicates} duplicate positions, {len(outside)} outside 1..{total}"
        + examples(str(p) for p in outside),
    )


def _check_sale_id(
    purchases: list[Record], lookups: dict[str, LookupResult], facts: SaleFacts
) -> Check:
    if facts.sale_id is None:
        return Check("answers name the sale under test", True, "sale id unknown: not checked")
    wrong = {
        r.sale_id for r in purchases if r.http == 201 and r.sale_id not in (None, facts.sale_id)
    }
    wrong |= {
        lk.sale_id
        for lk in lookups.values()
        if lk.http == 200 and lk.sale_id not in (None, facts.sale_id)
    }
    return Check(
        "answers name the sale under test",
        not wrong,
        f"sale {facts.sale_id}" + (f"; other sale ids {sorted(map(str, wrong))}" if wrong else ""),
    )


def _check_not_before_start(lookups: dict[str, LookupResult], starts_at_ns: int) -> Check:
    early = [
        (lk.user, lk.purchased_at_ns)
        for lk in lookups.values()
        if lk.http == 200 and lk.purchased_at_ns is not None and lk.purchased_at_ns < starts_at_ns
    ]
    return Check(
        "no sale before the start time",
        not early,
        f"{len(early)} orders purchased before startsAt"
        + examples(f"{user} {(starts_at_ns - at_ns) / 1e6:.1f} ms early" for user, at_ns in early),
    )


def _check_no_5xx(purchases: list[Record], warnings: list[str]) -> Check:
    shed = [r for r in purchases if r.http == 503 and r.status == "unavailable"]
    # The operator paused the sale: a 503 that decided nothing (judged by
    # stress.verdicts.pause when the run made the pause).
    paused = [r for r in purchases if r.http == 503 and r.status == OUTCOME_PAUSED]
    expected = {id(r) for r in shed + paused}
    broken = [r for r in purchases if r.http >= 500 and id(r) not in expected]
    if shed:
        warnings.append(f"{len(shed)} answers were 503 unavailable (load shed, Retry-After)")
    return Check(
        "no 5xx (besides 503 unavailable or paused)",
        not broken,
        f"{len(broken)} server errors, {len(shed)} shed with 503 unavailable, "
        f"{len(paused)} 503 paused"
        + examples(f"{r.user}: {r.http} {r.status or r.error}" for r in broken),
    )


def _check_rate_limit(by_user: dict[str, list[Record]], per_minute: int) -> Check:
    """Answered (non-429) attempts of one user within any 60 s: at most twice the
    limit, which allows for a fixed window's boundary falling inside the run."""
    allowed = 2 * per_minute
    over = []
    for user, attempts in by_user.items():
        # A bot's attempt as another id is refused for its identity, whether or not
        # the limiter saw it: only the token holder's own attempts are counted.
        answered = [r.send_ns for r in attempts if r.http not in (0, 429) and not r.claimed_as]
        start = 0
        for end, moment in enumerate(answered):
            while moment - answered[start] >= RATE_WINDOW_NS:
                start += 1
            if end - start + 1 > allowed:
                over.append(f"{user}: {end - start + 1} answered within 60 s")
                break
    limited = sum(1 for attempts in by_user.values() for r in attempts if r.http == 429)
    return Check(
        f"rate limit held ({per_minute}/min per user)",
        not over,
        f"{len(over)} users exceeded {allowed} answered attempts a minute; "
        f"{limited} answers were 429" + examples(over),
    )
