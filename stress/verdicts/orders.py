"""The orders a run found: those its 201 answers named and those the look-ups
list afterwards (`GET /flash-sale/purchase/{userId}`), by user, with their
positions, products and the requests that won them. Pure data, no network."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from stress.records import Record
from stress.verdicts.fairness import Entry


@dataclass(frozen=True, slots=True)
class HeldOrder:
    """One order of a look-up's `orders`."""

    order_id: str
    position: int | None = None
    sku: str | None = None
    sale_id: str | None = None


@dataclass(frozen=True, slots=True)
class LookupResult:
    """`GET /flash-sale/purchase/{userId}` after the run: 200 with an order, 404, or
    something else (http 0: no answer). The top-level fields are the first order;
    `orders` are all of them (empty from a server from before products)."""

    user: str
    http: int
    order_id: str | None = None
    position: int | None = None
    sale_id: str | None = None
    purchased_at_ns: int | None = None
    error: str = ""
    sku: str | None = None
    orders: tuple[HeldOrder, ...] = ()

    def held(self) -> tuple[HeldOrder, ...]:
        """Every order the user holds: `orders`, else the one top-level order."""
        if self.http != 200:
            return ()
        if self.orders:
            return self.orders
        if not self.order_id:
            return ()
        return (HeldOrder(self.order_id, self.position, self.sku, self.sale_id),)


@dataclass
class RunOrders:
    """The sales of this run: user -> order ids, order id -> users, positions, skus."""

    by_user: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    users_of: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    position: dict[str, int] = field(default_factory=dict)
    won_by: dict[str, Entry] = field(default_factory=dict)  # order id -> winning request
    sku_of: dict[str, str | None] = field(default_factory=dict)  # the product of each order

    def add(
        self,
        user: str,
        order_id: str,
        position: int | None,
        won: Record | None,
        sku: str | None = None,
    ) -> None:
        self.by_user[user].add(order_id)
        self.users_of[order_id].add(user)
        if position is not None:
            self.position.setdefault(order_id, position)
        if self.sku_of.get(order_id) is None:
            self.sku_of[order_id] = sku
        if won is not None:
            known = self.won_by.get(order_id)
            if known is None or won.send_ns < known.send_ns:
                self.won_by[order_id] = Entry(won.send_ns, won.arrived_by_ns)


def held_by_user(orders: RunOrders) -> dict[str, list[tuple[str, str | None]]]:
    """user -> (order id, sku) of every order found for the user."""
    return {
        user: [(order_id, orders.sku_of.get(order_id)) for order_id in sorted(ids)]
        for user, ids in orders.by_user.items()
    }


def collect_orders(by_user: dict[str, list[Record]], lookups: dict[str, LookupResult]) -> RunOrders:
    orders = RunOrders()
    for user, attempts in by_user.items():
        for record in attempts:
            if record.http == 201 and record.order_id:
                orders.add(user, record.order_id, record.position, record, record.sku)
        lookup = lookups.get(user)
        if lookup is None:
            continue
        # A sale the shopper never saw confirmed (202 pending, timeout) still counts;
        # its send time is that of the attempt that may have made it.
        maybe = [r for r in attempts if r.http in (0, 202) or r.http >= 500]
        if user in orders.by_user:
            maybe = []
        for held in lookup.held():
            won = maybe.pop(0) if maybe and held.order_id not in orders.users_of else None
            orders.add(user, held.order_id, held.position, won, held.sku)
    return orders
