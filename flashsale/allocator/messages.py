"""Messages between workers and the allocator.

Each worker has its own `multiprocessing.connection` over AF_UNIX (opened after
the fork, with its HMAC handshake), shared by every request the worker has in
flight and multiplexed by request id. No lock is shared between processes: a
worker killed mid-write leaves only a partial frame on its own connection,
which the allocator drops with it. Frames use `Connection.send_bytes` framing
(a 4-byte big-endian length, then the payload); either side reads many frames
per read.

Worker to allocator: REQUEST (48 bytes) followed, for a PURCHASE, by the sku's
length (one byte), the sku and the UTF-8 user id (`purchase_body`); for an
ADMIN command (create a sale, change it, or record a refusal in the audit
trail), by the command and its audit context in JSON (flashsale.admin_commands).

Allocator to worker, told apart by their first byte (the kind):
- ACK: how many frames of this connection the allocator has read in all. It is
  written before the allocator reads the clock for those requests' decisions,
  which is what lets a worker tell "never read" from "read" (client.py).
- REPLY (48 bytes) for a decision, followed by the order id (36 characters) and
  its sku when there is an order, or by the JSON of an ADMIN_ANSWER.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from enum import IntEnum
from multiprocessing.connection import Connection, answer_challenge, deliver_challenge
from typing import NamedTuple

from flashsale.admin_commands import AdminAnswer
from flashsale.checkout_commands import CheckoutAnswer
from flashsale.outcomes import Outcome

LENGTH = struct.Struct("!i")
# kind, flags, payload_len, slot, seq, request_id, arrival_ns, sell_deadline_ns
REQUEST = struct.Struct("!BBHIQ16sqq")
# A request's frame length and header, packed in one call on the worker's hot path.
FRAMED_REQUEST = struct.Struct("!i" + REQUEST.format[1:])
# kind, outcome, unit, sale_id, seq, request_id, position, purchased_at_us
REPLY = struct.Struct("!BBHIQ16sQq")
# A reply's frame length and header, packed in one call on the allocator's hot path.
FRAMED_REPLY = struct.Struct("!i" + REPLY.format[1:])
# kind, frames read on this connection so far
ACK = struct.Struct("!BQ")
FRAMED_ACK = struct.Struct("!i" + ACK.format[1:])
RESENT = 1  # flag: the request may have been decided by an allocator that died
NO_SLOT = 0xFFFFFFFF  # a worker without a metrics row (all rows taken)


ORDER_ID_CHARS = 36  # a UUID's text (records.order_id_for)
# A HELD decision's order id is followed by its expiry (16 hex digits) and its checkout
# token (43 base64url characters, blank when the allocator cannot know it: a resent
# purchase whose hold a dead allocator made), then the sku.
HOLD_CHARS = 16 + 43


def hold_text(token: str, expires_at_us: int) -> str:
    return f"{expires_at_us:016x}{token:<43}"


def read_hold_text(text: str) -> tuple[str, int]:
    """(token, expires_at_us) of `hold_text`."""
    return text[16:].strip(), int(text[:16], 16)


def purchase_body(user_id: str, sku: str) -> bytes:
    """A PURCHASE's body; a sku is at most 64 ASCII characters (flashsale.catalogue)."""
    return bytes((len(sku),)) + sku.encode("ascii") + user_id.encode("utf-8")


def read_purchase_body(body: bytes) -> tuple[str, str]:
    """(user id, sku) of a PURCHASE's body."""
    end = body[0] + 1
    return body[end:].decode("utf-8"), body[1:end].decode("ascii")


class Kind(IntEnum):
    PURCHASE = 2
    ADMIN = 3
    CHECKOUT = 4  # a buyer's confirm, cancel, extend or waitlist join (flashsale.checkout_commands)
    DECISION = 10
    ADMIN_ANSWER = 11
    ACK = 12
    CHECKOUT_ANSWER = 13


class Request(NamedTuple):
    """A NamedTuple: a worker makes one per purchase, and a frozen dataclass costs
    several times as much to build."""

    kind: Kind
    flags: int
    slot: int
    seq: int
    request_id: bytes
    arrival_ns: int
    sell_deadline_ns: int
    body: bytes

    def encode(self) -> bytes:
        header = REQUEST.pack(
            self.kind,
            self.flags,
            len(self.body),
            self.slot,
            self.seq,
            self.request_id,
            self.arrival_ns,
            self.sell_deadline_ns,
        )
        return header + self.body

    def frame(self) -> bytes:
        """`frame(self.encode())`, in one struct call."""
        body = self.body
        return (
            FRAMED_REQUEST.pack(
                REQUEST.size + len(body),
                self.kind,
                self.flags,
                len(body),
                self.slot,
                self.seq,
                self.request_id,
                self.arrival_ns,
                self.sell_deadline_ns,
            )
            + body
        )

    @classmethod
    def decode(cls, payload: bytes) -> Request:
        kind, flags, size, slot, seq, request_id, arrival, deadline = REQUEST.unpack_from(payload)
        body = payload[REQUEST.size : REQUEST.size + size]
        # `kind` stays a plain int on this hot path (IntEnum members compare equal).
        return cls(kind, flags, slot, seq, request_id, arrival, deadline, body)


@dataclass(frozen=True)
class Reply:
    kind: Kind
    outcome: Outcome
    seq: int
    request_id: bytes
    sale_id: int = 0
    unit: int = 0
    position: int = 0
    purchased_at_us: int = 0
    body: bytes = b""

    def encode(self) -> bytes:
        header = REPLY.pack(
            self.kind,
            self.outcome,
            self.unit,
            self.sale_id,
            self.seq,
            self.request_id,
            self.position,
            self.purchased_at_us,
        )
        return header + self.body

    @classmethod
    def decode(cls, payload: bytes) -> Reply:
        kind, outcome, unit, sale_id, seq, request_id, position, at = REPLY.unpack_from(payload)
        body = payload[REPLY.size :]
        return cls(Kind(kind), Outcome(outcome), seq, request_id, sale_id, unit, position, at, body)


def admin_reply(seq: int, request_id: bytes, answer: AdminAnswer) -> Reply:
    """The reply to an ADMIN command, sent once what it did is durable."""
    return Reply(Kind.ADMIN_ANSWER, Outcome.CONFIRMED, seq, request_id, body=answer.encode())


def checkout_reply(seq: int, request_id: bytes, answer: CheckoutAnswer) -> Reply:
    """The reply to a CHECKOUT command, sent once what it did is durable."""
    return Reply(Kind.CHECKOUT_ANSWER, Outcome.CONFIRMED, seq, request_id, body=answer.encode())


def checkout_unavailable(seq: int, request_id: bytes) -> bytes:
    """A CHECKOUT command whose commit failed: nothing was done."""
    answer = CheckoutAnswer(503, "not-selling", {"error": "the journal cannot be written"})
    return checkout_reply(seq, request_id, answer).encode()


def frame(payload: bytes) -> bytes:
    """The bytes `Connection.send_bytes(payload)` would write."""
    return LENGTH.pack(len(payload)) + payload


class FrameBuffer:
    """Reassembles length-prefixed frames from a byte stream read in arbitrary pieces.

    Each frame is copied once, out of the data as it came: most reads hold only
    whole frames, and only a frame split across reads waits here.
    """

    MAX_FRAME_BYTES = 64 * 1024

    def __init__(self) -> None:
        self._pending = b""  # the start of a frame whose end has not come yet

    def feed(self, data: bytes | memoryview) -> list[bytes]:
        if self._pending:
            data = self._pending + data
        frames: list[bytes] = []
        offset, available = 0, len(data)
        with memoryview(data) as view:
            while available - offset >= LENGTH.size:
                (size,) = LENGTH.unpack_from(view, offset)
                if not 0 <= size <= self.MAX_FRAME_BYTES:
                    raise ValueError(f"frame of {size} bytes")
                end = offset + LENGTH.size + size
                if end > available:
                    break
                frames.append(view[offset + LENGTH.size : end].tobytes())
                offset = end
            self._pending = view[offset:].tobytes()
        return frames


HANDSHAKE_TIMEOUT_S = 5


def set_timeouts(conn: Connection, seconds: float) -> None:
    """Kernel timeouts on a connection's socket (0: none); blocking calls then fail, not hang."""
    sock = socket.socket(fileno=conn.fileno())
    try:
        timeval = struct.pack("ll", int(seconds), int((seconds % 1) * 1e6))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
    finally:
        sock.detach()


def authenticate(conn: Connection, authkey: bytes, *, accepting: bool) -> None:
    """multiprocessing's HMAC handshake, bounded by HANDSHAKE_TIMEOUT_S on each side."""
    set_timeouts(conn, HANDSHAKE_TIMEOUT_S)
    if accepting:
        deliver_challenge(conn, authkey)
        answer_challenge(conn, authkey)
    else:
        answer_challenge(conn, authkey)
        deliver_challenge(conn, authkey)
