"""A buyer's checkout commands, as a worker sends them to the allocator, and its answers:
plain data, JSON on the wire (flashsale.allocator.messages frames them, Kind.CHECKOUT).

A command is a confirm, cancel or extend of an order, a waitlist join, or a waiting
room's join or ticket read. The worker
has checked its input and whether the shop's server token was presented (`shop`);
a buyer's checkout token travels as presented and is compared by the allocator with
the digest it keeps (flashsale.checkout_rules.token_matches).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

CONFIRM, CANCEL, EXTEND, JOIN = "confirm", "cancel", "extend", "join"
ORDER_COMMANDS = (CONFIRM, CANCEL, EXTEND)
# A sale's waiting room (flashsale.allocator.waiting_room): join its queue (`user_id`),
# read a ticket (its number in `order_id`). Their answer's `entry` is the ticket.
QUEUE_JOIN, QUEUE_READ = "queue-join", "queue-read"
QUEUE_COMMANDS = (QUEUE_JOIN, QUEUE_READ)


@dataclass(frozen=True)
class CheckoutRequest:
    command: str  # confirm, cancel, extend, join
    order_id: str = ""
    token: str | None = None  # the buyer's checkout token, as presented
    shop: bool = False  # the shop's server token was presented (checked by the worker)
    payment_ref: str | None = None
    user_id: str = ""  # join
    sku: str = ""  # join

    def encode(self) -> bytes:
        return json.dumps(
            {
                "command": self.command,
                "orderId": self.order_id,
                "token": self.token,
                "shop": self.shop,
                "paymentRef": self.payment_ref,
                "userId": self.user_id,
                "sku": self.sku,
            },
            ensure_ascii=False,
        ).encode()

    @classmethod
    def decode(cls, body: bytes) -> CheckoutRequest:
        value = json.loads(body)
        return cls(
            value["command"],
            value["orderId"],
            value["token"],
            value["shop"],
            value["paymentRef"],
            value["userId"],
            value["sku"],
        )


@dataclass(frozen=True)
class CheckoutAnswer:
    """Done (`problem` None, `status` 200 or 201) or refused; `order` or `entry` is what
    the answer's body shows (JSON members as the API writes them)."""

    status: int
    problem: str | None = None
    extensions: dict[str, Any] = field(default_factory=dict)
    order: dict[str, Any] | None = None
    entry: dict[str, Any] | None = None

    def encode(self) -> bytes:
        return json.dumps(
            {
                "status": self.status,
                "problem": self.problem,
                "extensions": self.extensions,
                "order": self.order,
                "entry": self.entry,
            },
            ensure_ascii=False,
        ).encode()

    @classmethod
    def decode(cls, body: bytes) -> CheckoutAnswer:
        value = json.loads(body)
        return cls(
            value["status"], value["problem"], value["extensions"], value["order"], value["entry"]
        )
