"""The records every engine shares: a sale's terms, the sale, its orders, and what a
buyer is told.

The SQLite journal (flashsale.journal) and the Redis engine (flashsale.redis_engine)
both store and return these; the allocator, the workers and the shared memory
pass them on. Plain data, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, NamedTuple

from flashsale.catalogue import Product


@dataclass(frozen=True)
class CheckoutTerms:
    """A sale's checkout window: a winning purchase holds its unit for `hold_s`, which
    its buyer may extend once by `extend_s` (0: never), until it is confirmed."""

    hold_s: int
    extend_s: int

    def spec_json(self) -> dict[str, int]:
        return {"holdSeconds": self.hold_s, "extendSeconds": self.extend_s}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | None) -> CheckoutTerms | None:
        return None if spec is None else cls(spec["holdSeconds"], spec["extendSeconds"])


@dataclass(frozen=True)
class QueueTerms:
    """A sale's waiting room: shoppers join from `opens_at_us` (None: from the sale's
    creation) until the start, are put in a random order at the start (`shuffle`), then
    admitted `admit_per_minute` a minute (None: all at once) to buy for `admitted_s`."""

    opens_at_us: int | None
    shuffle: bool = True
    admit_per_minute: int | None = None
    admitted_s: int = 120
    proof_of_work: bool = False

    def spec_json(self) -> dict[str, Any]:
        return {
            "opensAtUs": self.opens_at_us,
            "shuffle": self.shuffle,
            "admitPerMinute": self.admit_per_minute,
            "admittedSeconds": self.admitted_s,
            "proofOfWork": self.proof_of_work,
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | None) -> QueueTerms | None:
        if spec is None:
            return None
        return cls(
            spec["opensAtUs"],
            spec["shuffle"],
            spec["admitPerMinute"],
            spec["admittedSeconds"],
            spec["proofOfWork"],
        )


@dataclass(frozen=True)
class SaleTerms:
    """What a sale sells and on what terms, passed as one value: the admin API's new
    sale, the ADMIN command that creates it, the first sale from the settings, and what each
    engine stores. A term a sale gains later belongs here."""

    products: tuple[Product, ...]
    per_user_limit: int  # over the whole sale; a product may have a lower one
    starts_at_us: int | None  # None: open from the start
    ends_at_us: int | None  # None: open until sold out
    checkout: CheckoutTerms | None = None  # None: a 201 is final (no hold)
    queue: QueueTerms | None = None  # None: no waiting room (first come, first served)

    @property
    def stock(self) -> int:
        """Over all its products."""
        return sum(product.stock for product in self.products)

    def spec_json(self) -> dict[str, Any]:
        """The terms as the ADMIN command carries them (and its answer shows them)."""
        return {
            "products": [product.spec_json() for product in self.products],
            "perUserLimit": self.per_user_limit,
            "startsAtUs": self.starts_at_us,
            "endsAtUs": self.ends_at_us,
            "checkout": None if self.checkout is None else self.checkout.spec_json(),
            "queue": None if self.queue is None else self.queue.spec_json(),
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> SaleTerms:
        """Terms from `spec_json`, checked already (by the admin API)."""
        return cls(
            tuple(Product.from_spec(product) for product in spec["products"]),
            spec["perUserLimit"],
            spec.get("startsAtUs"),
            spec.get("endsAtUs"),
            CheckoutTerms.from_spec(spec.get("checkout")),
            QueueTerms.from_spec(spec.get("queue")),
        )


class Phase(IntEnum):
    """Where the operator has put a sale (flashsale.sale_lifecycle derives its state).
    The values are the sale board's; the journal and Redis store the words."""

    ACTIVE = 0
    PAUSED = 1
    ENDED = 2  # final

    @property
    def word(self) -> str:
        return self.name.lower()

    @classmethod
    def of_word(cls, word: str) -> Phase:
        return cls[word.upper()]


@dataclass(frozen=True)
class Lifecycle:
    """What the operator's commands have made of a sale, stored with it. `version`
    counts its changes (1 at creation), and names it in its ETag."""

    phase: Phase = Phase.ACTIVE
    version: int = 1
    paused_at_us: int | None = None  # while paused: since when
    ended_at_us: int | None = None  # once ended by a command (or by a new sale)


@dataclass(frozen=True)
class SaleRecord:
    """A sale as its engine keeps it: its terms (`ends_at_us` may be moved), under the
    id and time it was made, and its lifecycle."""

    sale_id: int
    stock: int  # over all its products, as the engine recorded it
    terms: SaleTerms
    created_at_us: int
    lifecycle: Lifecycle = field(default_factory=Lifecycle)

    @property
    def etag(self) -> str:
        """The entity tag of the sale's admin resource, quoted as in an ETag header."""
        return sale_etag(self.sale_id, self.lifecycle.version)


def sale_etag(sale_id: int, version: int) -> str:
    return f'"sale-{sale_id}-v{version}"'


class OrderRecord(NamedTuple):
    """One sale. A NamedTuple: the allocator builds one per sale, and it is the row itself."""

    order_id: str
    sale_id: int
    user_id: str
    unit: int
    position: int  # in the whole sale
    purchased_at_us: int
    sku: str
    sku_position: int  # in its product's stock


class ListedOrder(NamedTuple):
    """An order as the operator's pages and export list it: its record's columns, then
    where it stands (`held`, `confirmed`, `cancelled`, `expired`; every order of a sale
    without checkout is `confirmed`) and a confirmed hold's payment reference."""

    order_id: str
    sale_id: int
    user_id: str
    unit: int
    position: int
    purchased_at_us: int
    sku: str
    sku_position: int
    state: str
    payment_ref: str | None


class Confirmation(NamedTuple):
    """A sale as the allocator's reply tells it: the order without its buyer, whom
    the worker that asked knows."""

    order_id: str
    sale_id: int
    unit: int
    position: int
    purchased_at_us: int
    sku: str


# An order as answers show it: from the journal, or from the allocator's reply.
Order = OrderRecord | Confirmation


def order_id_for(request_id: bytes) -> str:
    """An order is named after the request that bought it, so a resent request finds it.

    The 16 random bytes are written as a UUID (formatted by hand: building
    uuid.UUID objects was a tenth of the allocator's time).
    """
    h = request_id.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
