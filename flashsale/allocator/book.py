"""The stock book: the allocator's in-memory state of one sale and its decisions.

A sale has one or more products, each with its own stock; the per-user limit
counts over the whole sale (a product may have a lower one of its own). One
book serves the whole sale first come, first served, and refuses everything
while the sale is paused or ended (flashsale.sale_lifecycle). Pure logic, no I/O: the
allocator loop feeds it requests in arrival order and journals the orders it
returns before anyone is told.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from flashsale.catalogue import Product
from flashsale.outcomes import Outcome
from flashsale.records import OrderRecord, Phase, SaleRecord, order_id_for
from flashsale.sale_lifecycle import ENDED, PAUSED, UPCOMING, sale_state
from flashsale.shm.sale_board import SaleSnapshot

# The refusal of each state in which nothing is sold.
_CLOSED = {ENDED: Outcome.ENDED, PAUSED: Outcome.PAUSED, UPCOMING: Outcome.NOT_STARTED}


class _Shelf:
    """One product's stock and what of it is sold (the last place taken)."""

    __slots__ = ("place", "product", "sold")

    def __init__(self, place: int, product: Product) -> None:
        self.place = place
        self.product = product
        self.sold = 0


class StockBook:
    def __init__(self, sale: SaleRecord, orders: Iterable[OrderRecord] = ()) -> None:
        self.sale = sale
        self.sold = 0
        self._shelves = {p.sku: _Shelf(place, p) for place, p in enumerate(sale.terms.products)}
        self._by_user: dict[str, list[OrderRecord]] = {}
        self._by_id: dict[str, OrderRecord] = {}
        self._unjournaled: list[OrderRecord] = []
        self.last_sold_at_us = 0  # the latest decision instant of a sale
        for order in sorted(orders, key=lambda o: o.position):
            self._remember(order)
        for shelf in self._shelves.values():
            if shelf.sold > shelf.product.stock:
                raise RuntimeError(
                    f"journal holds {shelf.sold} orders of {shelf.product.sku} "
                    f"for a stock of {shelf.product.stock}"
                )

    def _remember(self, order: OrderRecord) -> None:
        owned = self._by_user.get(order.user_id)
        if owned is None:
            self._by_user[order.user_id] = [order]
        else:
            owned.append(order)
        self._by_id[order.order_id] = order
        if order.position > self.sold:
            self.sold = order.position
            self.last_sold_at_us = order.purchased_at_us
        shelf = self._shelves[order.sku]
        if order.sku_position > shelf.sold:
            shelf.sold = order.sku_position

    def decide(
        self, user_id: str, sku: str, request_id: bytes, now_us: int, expired: bool, resent: int
    ) -> tuple[Outcome, OrderRecord | None]:
        """One purchase attempt. `expired`: its worker gives up too soon to sell to it.

        The flags are positional (`resent` any truthy int): this runs once per request.
        """
        if resent:
            # It may have been sold by an allocator that died before replying.
            earlier = self._by_id.get(order_id_for(request_id))
            if earlier is not None:
                return Outcome.CONFIRMED, earlier
        shelf = self._shelves.get(sku)
        if shelf is None:  # a worker that had not seen this sale's catalogue yet
            return Outcome.UNKNOWN_PRODUCT, None
        sale = self.sale
        terms = sale.terms
        starts, ends = terms.starts_at_us, terms.ends_at_us
        if (
            sale.lifecycle.phase is not Phase.ACTIVE
            or (starts is not None and now_us < starts)
            or (ends is not None and now_us >= ends)
        ):
            return self._closed(now_us), None
        owned: Sequence[OrderRecord] = self._by_user.get(user_id, ())
        if len(owned) >= terms.per_user_limit:
            return Outcome.ALREADY_PURCHASED, owned[0]
        product = shelf.product
        if product.per_user_limit is not None and owned:
            of_product = [order for order in owned if order.sku == sku]
            if len(of_product) >= product.per_user_limit:
                return Outcome.ALREADY_PURCHASED, of_product[0]
        if shelf.sold >= product.stock:
            return Outcome.SOLD_OUT, None
        if expired:
            return Outcome.EXPIRED, None
        order = OrderRecord(
            order_id_for(request_id),
            sale.sale_id,
            user_id,
            len(owned) + 1,
            self.sold + 1,
            now_us,
            sku,
            shelf.sold + 1,
        )
        self._remember(order)
        self._unjournaled.append(order)
        return Outcome.CONFIRMED, order

    def change(self, sale: SaleRecord) -> None:
        """The same sale after an operator's change (its lifecycle, its end): decisions
        from now on follow it. Its products and orders are the same."""
        if sale.sale_id != self.sale.sale_id:
            raise ValueError(f"sale {sale.sale_id} is not the book's sale {self.sale.sale_id}")
        self.sale = sale

    @property
    def remaining(self) -> int:
        return max(self.sale.stock - self.sold, 0)

    def sold_by_sku(self) -> dict[str, int]:
        """Each product's sold count, and "" for the whole sale."""
        return {**{sku: shelf.sold for sku, shelf in self._shelves.items()}, "": self.sold}

    def _closed(self, now_us: int) -> Outcome:
        """Why nothing is sold now: ended > paused > not started (as the sale's state)."""
        state = sale_state(
            self.sale.lifecycle.phase,
            self.sale.terms.starts_at_us,
            self.sale.terms.ends_at_us,
            self.remaining,
            now_us,
        )
        return _CLOSED[state]

    def holds(self, order_id: str) -> bool:
        return order_id in self._by_id

    def place_of(self, sku: str) -> int:
        """The product's place in the catalogue (its row on the sale board)."""
        return self._shelves[sku].place

    def take_unjournaled(self) -> list[OrderRecord]:
        """The sales decided since the last call, for the journal's next commit."""
        orders, self._unjournaled = self._unjournaled, []
        return orders

    def snapshot(self) -> SaleSnapshot:
        return SaleSnapshot.of(self.sale, self.sold_by_sku())
