"""The outcomes of a purchase, shared by the allocator, the workers and the metrics."""

from __future__ import annotations

from enum import IntEnum


class Outcome(IntEnum):
    """What became of one purchase attempt. Values travel in the allocator's replies."""

    CONFIRMED = 0
    ALREADY_PURCHASED = 1
    SOLD_OUT = 2
    NOT_STARTED = 3
    ENDED = 4
    RATE_LIMITED = 5
    UNAVAILABLE = 6
    PENDING = 7
    INVALID = 8
    # The allocator read the request after its worker's deadline and sold nothing:
    # the worker has already answered (or will answer) `unavailable`.
    EXPIRED = 9
    # The sku is not one of the current sale's products (the sale changed meanwhile).
    UNKNOWN_PRODUCT = 10
    # The operator paused the sale: nothing is sold until it is resumed.
    PAUSED = 11
    # A sale with a checkout window: the unit is the buyer's until its hold expires,
    # unless confirmed (flashsale.checkout_rules).
    HELD = 12
    # A sale with a waiting room: the buyer holds no admitted ticket (flashsale.queue_tickets).
    NOT_ADMITTED = 13

    @property
    def word(self) -> str:
        """The word of a purchase answer's `outcome`, and of the metrics' counts."""
        return "unavailable" if self is Outcome.EXPIRED else self.name.lower()


# The outcomes a shopper can be told; EXPIRED is reported as UNAVAILABLE.
REPORTED_OUTCOMES = tuple(o for o in Outcome if o is not Outcome.EXPIRED)
