"""A waiting room's tickets: signed, so that any worker of any host verifies one without
a look-up.

A ticket names its sale, its number (the order its holder joined in), the instant it
was issued and its holder, and carries an HMAC-SHA256 of them under the store's ticket
key (the journal's `queue_ticket_key`, or Redis's). The allocator issues it, derived
from the ticket's row, so joining again returns the same text; nothing of it is stored.
A ticket presented by anyone but its holder, or for another sale, is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import NamedTuple

# Longer than any ticket the allocator issues (a user id is at most 256 characters,
# 1,024 bytes of UTF-8): anything longer is refused before it is decoded.
MAX_TICKET_CHARS = 1_500


class Ticket(NamedTuple):
    sale_id: int
    number: int
    issued_at_s: int
    user_id: str


def _mac(key: bytes, sale_id: int, number: int, issued_at_s: int, user_id: str) -> bytes:
    message = f"flashsale-ticket\n{sale_id}\n{number}\n{issued_at_s}\n{user_id}".encode()
    return hmac.new(key, message, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def ticket_text(key: bytes, ticket: Ticket) -> str:
    """`<sale>.<number>.<issued at, s>.<holder, base64url>.<HMAC, base64url>`."""
    sale_id, number, issued_at_s, user_id = ticket
    mac = _mac(key, sale_id, number, issued_at_s, user_id)
    return f"{sale_id}.{number}.{issued_at_s}.{_b64(user_id.encode())}.{_b64(mac)}"


def verified_ticket(key: bytes, text: str) -> Ticket | None:
    """The ticket `text` names if its signature holds under `key`; None for anything
    else (malformed, forged, altered), never an exception."""
    if not text or len(text) > MAX_TICKET_CHARS or not text.isascii():
        return None
    parts = text.split(".")
    if len(parts) != 5 or not all(part.isdigit() and len(part) <= 18 for part in parts[:3]):
        return None
    try:
        user_id = _unb64(parts[3]).decode()
        mac = _unb64(parts[4])
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    ticket = Ticket(int(parts[0]), int(parts[1]), int(parts[2]), user_id)
    # The one spelling the allocator issues: a ticket is one string, as it is one seat.
    if len(mac) != hashlib.sha256().digest_size or not hmac.compare_digest(
        text, ticket_text(key, ticket)
    ):
        return None
    return ticket
