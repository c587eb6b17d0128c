"""The rules of checkout holds and the waitlist, as pure functions of the state they read.

What an order's confirm, cancel and extend do, whether a released unit may be taken
back by a late confirm, and whether a shopper may join a product's waitlist. The
SQLite allocator applies them to its book (flashsale.allocator.holds); the Redis
engine's Lua is to mirror them, as it mirrors flashsale.sale_lifecycle. No I/O.

Order states: `held` -> `confirmed` | `cancelled` | `expired`. `held` and `confirmed`
are live: they count against the product's stock and the buyer's limits.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

HELD, CONFIRMED, CANCELLED, EXPIRED = "held", "confirmed", "cancelled", "expired"
LIVE = frozenset({HELD, CONFIRMED})
STATES = (HELD, CONFIRMED, CANCELLED, EXPIRED)
WAITING, OFFERED, CLOSED = "waiting", "offered", "closed"

# What a decision does to the order (besides answering).
CONFIRM, RETAKE, CANCEL, EXTEND, NOTHING = "confirm", "retake", "cancel", "extend", "nothing"

# The refusals: (HTTP status, problem slug of flashsale.api.problems).
UNKNOWN_ORDER = (404, "unknown-order")
PAYMENT_REF_MISMATCH = (409, "payment-ref-mismatch")
HOLD_EXPIRED = (409, "hold-expired")
HOLD_CANCELLED = (409, "hold-cancelled")
HOLD_ALREADY_EXTENDED = (409, "hold-already-extended")
HOLD_NOT_EXTENDABLE = (409, "hold-not-extendable")
ORDER_CONFIRMED = (409, "order-confirmed")
WAITLIST_CLOSED = (409, "waitlist-closed")
TOKEN_MISMATCH = (403, "invalid-checkout-token")

TOKEN_BYTES = 32  # a checkout or waitlist token: 32 random bytes, base64url


@dataclass(frozen=True)
class Verdict:
    """What a command does (`action`), or why it is refused (`status`, `problem`)."""

    action: str = NOTHING
    status: int = 200
    problem: str | None = None
    extensions: dict[str, Any] = field(default_factory=dict)

    @property
    def refused(self) -> bool:
        return self.problem is not None


def _refuse(kind: tuple[int, str], **extensions: Any) -> Verdict:
    return Verdict(NOTHING, kind[0], kind[1], extensions)


def unit_free(stock: int, live: int, waiting: int) -> bool:
    """Whether a released unit of a product may be taken back by its late buyer: one is
    free now (live < stock) and nobody waits for it (the waitlist comes first)."""
    return live < stock and waiting == 0


def confirm(state: str, payment_ref: str | None, asked_ref: str, *, free_unit: bool) -> Verdict:
    """Confirming an order with `asked_ref` (the order's `state`, its stored `payment_ref`).

    A confirmed order confirmed again with its own reference answers the same; with
    another, 409. A late confirm (expired) takes a unit back when one is free (RETAKE),
    else is refused with `refundRequired` (the shopper paid for nothing); so is a
    cancelled one.
    """
    if state == HELD:
        return Verdict(CONFIRM)
    if state == CONFIRMED:
        if payment_ref == asked_ref:
            return Verdict(NOTHING)
        return _refuse(PAYMENT_REF_MISMATCH)
    if state == EXPIRED:
        if free_unit:
            return Verdict(RETAKE)
        return _refuse(HOLD_EXPIRED, outcome="hold_expired", refundRequired=True)
    return _refuse(HOLD_CANCELLED, outcome="hold_cancelled", refundRequired=True)


def cancel(state: str) -> Verdict:
    """Cancelling an order: a held one is released; a cancelled one answers the same."""
    if state == HELD:
        return Verdict(CANCEL)
    if state == CANCELLED:
        return Verdict(NOTHING)
    if state == EXPIRED:
        return _refuse(HOLD_EXPIRED, outcome="hold_expired")
    return _refuse(ORDER_CONFIRMED)


def extend(state: str, extended: bool, extend_s: int) -> Verdict:
    """Extending a hold: once, while held, when the sale allows it (extendSeconds > 0)."""
    if state == CONFIRMED:
        return _refuse(ORDER_CONFIRMED)
    if state == EXPIRED:
        return _refuse(HOLD_EXPIRED, outcome="hold_expired")
    if state == CANCELLED:
        return _refuse(HOLD_CANCELLED)
    if extend_s <= 0:
        return _refuse(HOLD_NOT_EXTENDABLE)
    if extended:
        return _refuse(HOLD_ALREADY_EXTENDED)
    return Verdict(EXTEND)


NOT_SOLD_OUT, NOTHING_HELD, SALE_OVER = "not sold out", "nothing held", "ended"


def waitlist_refusal(*, open_now: bool, sold_out: bool, held: int) -> Verdict | None:
    """Why a shopper may not join a product's waitlist now (None: they may). Only while
    the sale is open and the product is sold out with holds outstanding: a unit may
    come back only from a hold."""
    if not open_now:
        return _refuse(WAITLIST_CLOSED, reason=SALE_OVER)
    if not sold_out:
        return _refuse(WAITLIST_CLOSED, reason=NOT_SOLD_OUT)
    if held == 0:
        return _refuse(WAITLIST_CLOSED, reason=NOTHING_HELD)
    return None


def due(expires_at_us: int, now_us: int) -> bool:
    """A hold expires at its `expiresAt`: due once the clock has reached it."""
    return expires_at_us <= now_us


# -- tokens ------------------------------------------------------------------------------
def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def checkout_token(key: bytes, order_id: str) -> str:
    """A hold's checkout token: a MAC of its order id under the allocator's secret `key`
    (kept in the journal; the store's in the Redis engine), as long as a random token
    (32 bytes, base64url). Nothing of it is stored: an allocator that restarted derives
    it again, for a re-sent purchase or a confirm."""
    mac = _keyed_mac(key).copy()  # cheaper than keying a new one (a third of the cost)
    mac.update(order_id.encode())
    return _token_text(mac.digest())


@functools.lru_cache(maxsize=8)
def _keyed_mac(key: bytes) -> hashlib.blake2b:
    # BLAKE2b in its keyed mode is a MAC, and a third of HMAC-SHA256's cost (the
    # allocator makes one for each hold it decides).
    return hashlib.blake2b(key=key, digest_size=32, person=b"flashsale-hold")


def _token_text(mac: bytes) -> str:
    """A 32-byte MAC as a token: base64url, 43 characters (the one "=" of padding cut),
    as long as `new_token`'s."""
    return binascii.b2a_base64(mac, newline=False).translate(_URL_SAFE)[:43].decode()


# base64 to base64url.
_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def token_digest(token: str) -> bytes:
    """What is stored of a token: its SHA-256."""
    return hashlib.sha256(token.encode()).digest()


def token_matches(token: str, digest: bytes | None, key: bytes, order_id: str) -> bool:
    """Whether `token` is hold `order_id`'s checkout token: an offered hold's by the digest
    kept of it, a bought hold's (no digest kept) by deriving it again under `key`."""
    if digest is None:
        return hmac.compare_digest(token.encode(), checkout_token(key, order_id).encode())
    return hmac.compare_digest(token_digest(token), digest)


def offered_checkout_token(waitlist_token: str) -> str:
    """The checkout token of the hold a waitlist entry is offered: derived from the
    entry's own token, so that only its holder can learn it (the allocator derives it
    when the entry joins and stores only its digest; a worker derives it again for
    whoever presents the waitlist token)."""
    mac = hmac.new(waitlist_token.encode(), b"flashsale offered hold", hashlib.sha256)
    return _token_text(mac.digest())
