"""The verdict's checks of a sale of products: each product sold exactly as its
stock and demand allow and as its status says, every answer naming the sku
asked for, and no shopper over a product's own limit.

Pure functions over the records, the orders the run found (order id -> sku,
user -> order ids) and the final status. Checks are (name, passed, detail), as
stress.verdicts.verdict's Check takes them; the per-user limit over the whole sale is
stress.verdicts.verdict's own check, over every order the look-ups list.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from stress.records import Record
from stress.verdicts.check import examples

# Answers that say the sku itself was wrong: a sku of the sale must never get them.
SKU_REFUSED = frozenset({"unknown_product", "invalid"})

CheckTuple = tuple[str, bool, str]


@dataclass(frozen=True, slots=True)
class ProductFacts:
    """One product of the sale under test, before the run."""

    sku: str
    stock: int  # items of it offered to this run's shoppers
    sold_before: int = 0
    per_user_limit: int | None = None  # the product's own limit, if lower than the sale's


@dataclass(frozen=True, slots=True)
class ProductRow:
    """One product after the run: what was asked and sold, and what its status says."""

    sku: str
    stock: int
    demand: int  # the shoppers asking for it, each up to its per-user limit
    confirmed: int  # orders of it the run found: 201s, and look-ups after 202s or no answer
    answered_201: int  # distinct orders its 201 answers named
    sold: int | None  # the final status's (None when the status lacks the product)
    remaining: int | None
    total: int | None
    sold_before: int = 0

    @property
    def expected(self) -> int:
        return min(self.stock, self.demand)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "expected": self.expected}


def products_of_status(status: Mapping[str, Any]) -> tuple[ProductFacts, ...]:
    """The products of a status as the facts of a run on that sale as it stands:
    its remaining items are what the run's shoppers are offered."""
    products = status.get("products")
    if not isinstance(products, list):
        return ()
    facts = []
    for product in products:
        if not isinstance(product, dict) or product.get("sku") is None:
            continue
        limit = product.get("perUserLimit")
        facts.append(
            ProductFacts(
                sku=str(product["sku"]),
                stock=int(product.get("remaining") or 0),
                sold_before=int(product.get("sold") or 0),
                per_user_limit=limit if isinstance(limit, int) else None,
            )
        )
    return tuple(facts)


def asked_sku(attempts: Sequence[Record], products: Sequence[ProductFacts]) -> str | None:
    """The product a shopper asked for: its body's sku, else the sale's only product."""
    for record in attempts:
        if record.asked_sku:
            return record.asked_sku
    return products[0].sku if len(products) == 1 else None


def product_rows(
    products: Sequence[ProductFacts],
    by_user: Mapping[str, Sequence[Record]],
    sku_of: Mapping[str, str | None],
    per_user_limit: int,
    status_after: Mapping[str, Any] | None,
) -> list[ProductRow]:
    demand: Counter[str] = Counter()
    limits = {p.sku: min(per_user_limit, p.per_user_limit or per_user_limit) for p in products}
    for attempts in by_user.values():
        sku = asked_sku(attempts, products)
        if sku in limits:
            demand[sku] += min(limits[sku], len(attempts))
    confirmed = Counter(sku for sku in sku_of.values() if sku is not None)
    answered = {sku: len(ids) for sku, ids in _answered_orders(by_user).items()}
    status = _status_by_sku(status_after)
    rows = []
    for product in products:
        now = status.get(product.sku, {})
        rows.append(
            ProductRow(
                sku=product.sku,
                stock=product.stock,
                demand=demand[product.sku],
                confirmed=confirmed[product.sku],
                answered_201=answered.get(product.sku, 0),
                sold=_int(now.get("sold")),
                remaining=_int(now.get("remaining")),
                total=_int(now.get("total")),
                sold_before=product.sold_before,
            )
        )
    return rows


def product_checks(
    rows: Sequence[ProductRow],
    products: Sequence[ProductFacts],
    by_user: Mapping[str, Sequence[Record]],
    held: Mapping[str, Collection[tuple[str, str | None]]],
) -> list[CheckTuple]:
    """`held`: user -> (order id, sku) of every order the run found for the user."""
    checks = [
        _check_not_oversold(rows),
        _check_exactly(rows),
        _check_status(rows),
        _check_skus(products, by_user, held),
    ]
    own_limits = {p.sku: p.per_user_limit for p in products if p.per_user_limit is not None}
    if own_limits:
        checks.append(_check_own_limits(own_limits, held))
    return checks


def format_rows(rows: Sequence[ProductRow]) -> list[str]:
    """The per-product table of the terminal summary."""
    lines = [
        "  product                         stock   demand     201s  confirmed     sold  remaining"
    ]
    for row in rows:
        lines.append(
            f"  {row.sku:<30} {row.stock:>6} {row.demand:>8} {row.answered_201:>8} "
            f"{row.confirmed:>10} {_cell(row.sold):>8} {_cell(row.remaining):>10}"
        )
    before = sum(row.sold_before for row in rows)
    if before:
        lines.append(
            f"  (stock: what this run was offered; sold and remaining: the final status, "
            f"with the {before} sold before the run)"
        )
    return lines


def _check_not_oversold(rows: Sequence[ProductRow]) -> CheckTuple:
    over = [
        f"{row.sku}: {row.confirmed} confirmed of {row.stock}"
        + (f", status sold {row.sold} of {row.total}" if row.sold is not None else "")
        for row in rows
        if row.confirmed > row.stock
        or (row.sold is not None and row.total is not None and row.sold > row.total)
    ]
    return (
        "no product oversold",
        not over,
        f"{len(over)} of {len(rows)} products sold beyond their stock" + examples(over),
    )


def _check_exactly(rows: Sequence[ProductRow]) -> CheckTuple:
    wrong = [
        f"{row.sku}: {row.confirmed} confirmed, expected {row.expected} "
        f"(stock {row.stock}, demand {row.demand})"
        for row in rows
        if row.confirmed != row.expected
    ]
    sold_out = sum(1 for row in rows if row.demand >= row.stock)
    return (
        "each product sold exactly min(its stock, its demand)",
        not wrong,
        f"{len(rows) - len(wrong)} of {len(rows)} products exact ({sold_out} with demand "
        "at or over the stock, to be sold out)" + examples(wrong),
    )


def _check_status(rows: Sequence[ProductRow]) -> CheckTuple:
    problems = []
    for row in rows:
        if row.sold is None or row.remaining is None or row.total is None:
            problems.append(f"{row.sku}: not in the final status (or lacks sold/remaining/total)")
            continue
        if row.sold - row.sold_before != row.confirmed:
            problems.append(
                f"{row.sku}: sold {row.sold} - {row.sold_before} before != {row.confirmed} "
                "confirmed"
            )
        if row.sold + row.remaining != row.total:
            problems.append(
                f"{row.sku}: sold {row.sold} + remaining {row.remaining} != total {row.total}"
            )
        if row.total - row.sold_before != row.stock:
            problems.append(f"{row.sku}: total {row.total} - sold before != stock {row.stock}")
    return (
        "each product's status agrees (sold = confirmed, sold + remaining = total)",
        not problems,
        f"{len(problems)} disagreements over {len(rows)} products" + examples(problems),
    )


def _check_skus(
    products: Sequence[ProductFacts],
    by_user: Mapping[str, Sequence[Record]],
    held: Mapping[str, Collection[tuple[str, str | None]]],
) -> CheckTuple:
    """A 201 and a 410 name the sku asked for; a sku of the sale is never refused as
    unknown or invalid; every order the look-ups list is of the product asked for."""
    wrong = []
    for user, attempts in by_user.items():
        asked = asked_sku(attempts, products)
        for record in attempts:
            if record.http in (201, 410) and asked is not None and record.sku != asked:
                wrong.append(f"{user}: asked {asked}, {record.http} names {record.sku}")
            elif record.status in SKU_REFUSED and record.asked_sku:
                wrong.append(f"{user}: {record.http} {record.status} for {record.asked_sku}")
        for order_id, sku in held.get(user, ()):
            if asked is not None and sku is not None and sku != asked:
                wrong.append(f"{user}: asked {asked}, holds order {order_id} of {sku}")
    return (
        "every answer and order names the sku asked for",
        not wrong,
        f"{len(wrong)} answers or orders of another product, or refusing a sku of the sale"
        + examples(wrong),
    )


def _check_own_limits(
    own_limits: Mapping[str, int], held: Mapping[str, Collection[tuple[str, str | None]]]
) -> CheckTuple:
    over = []
    for user, orders in held.items():
        per_sku = Counter(sku for _, sku in orders if sku in own_limits)
        over += [
            f"{user}: {count} of {sku} (limit {own_limits[sku]})"
            for sku, count in per_sku.items()
            if sku is not None and count > own_limits[sku]
        ]
    return (
        "nobody over a product's own per-user limit",
        not over,
        f"{len(over)} users over it" + examples(over),
    )


def _answered_orders(by_user: Mapping[str, Sequence[Record]]) -> dict[str, set[str]]:
    orders: dict[str, set[str]] = defaultdict(set)
    for attempts in by_user.values():
        for record in attempts:
            if record.http == 201 and record.order_id and record.sku:
                orders[record.sku].add(record.order_id)
    return orders


def _status_by_sku(status: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    products = (status or {}).get("products")
    if not isinstance(products, list):
        return {}
    return {str(p["sku"]): p for p in products if isinstance(p, dict) and "sku" in p}


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _cell(value: int | None) -> str:
    return "-" if value is None else str(value)
