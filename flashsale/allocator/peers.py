"""The allocator's end of each worker's connection: requests read, ACKs and replies written.

Every connection is non-blocking on the allocator loop's selector. A reply
that cannot be written at once waits in the peer's `unsent` buffer and the
peer is watched for writability until it drains.
"""

from __future__ import annotations

import logging
import os
import selectors
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import NamedTuple

from flashsale.allocator.messages import ACK, FRAMED_ACK, REQUEST, FrameBuffer, Kind

log = logging.getLogger("flashsale.allocator")

READ_CHUNK_BYTES = 256 * 1024
# A worker that stops reading its replies is cut off rather than allowed to
# make the allocator buffer without bound.
MAX_UNSENT_BYTES = 4 * 1024 * 1024


@dataclass(eq=False)  # peers are compared (and hashed) by identity
class Peer:
    conn: Connection
    fd: int
    frames: FrameBuffer = field(default_factory=FrameBuffer)
    unsent: bytearray = field(default_factory=bytearray)
    waiting_to_write: bool = False  # registered for EVENT_WRITE: replies are pending
    closed: bool = False
    frames_read: int = 0  # request frames read from this connection, ever
    # Of those, how many the worker has been told of (an ACK in its socket):
    # only these may be sold to (see Peers.acknowledge).
    acknowledged: int = 0


class Pending(NamedTuple):
    """A request read from a peer, waiting for its batch to be decided."""

    arrival_ns: int
    peer: Peer
    kind: int  # a Kind; left a plain int on this hot path (IntEnum members compare equal)
    flags: int
    seq: int
    request_id: bytes
    sell_deadline_ns: int  # monotonic: past it, nothing may be sold to this request
    body: bytes
    number: int  # the frame's number on its connection, from 1


# What is sent to each peer once a group of decisions may be told.
Replies = dict[Peer, list[bytes]]


class Peers:
    """Reads and writes on the worker connections registered with `selector`."""

    def __init__(self, selector: selectors.BaseSelector) -> None:
        self._selector = selector
        # One read buffer for every peer: os.read would allocate (and, at this
        # size, mmap) a fresh bytes object for each read of a few dozen bytes.
        self._chunk = bytearray(READ_CHUNK_BYTES)
        self._chunk_view = memoryview(self._chunk)

    def admit(self, conn: Connection) -> None:
        fd = conn.fileno()
        os.set_blocking(fd, False)
        self._selector.register(fd, selectors.EVENT_READ, Peer(conn, fd))

    def drain(self, peer: Peer, batch: list[Pending]) -> bool:
        """Read every complete request the peer has sent into `batch`; a broken peer is dropped.

        Returns whether any frame was read (and is to be acknowledged).
        """
        chunk = self._chunk
        read_before = peer.frames_read
        while True:
            try:
                size = os.readv(peer.fd, (chunk,))
            except BlockingIOError:
                break
            except OSError:
                size = 0
            if not size:
                self.drop(peer)
                break
            try:
                frames = peer.frames.feed(self._chunk_view[:size])
            except ValueError:
                log.warning("allocator: malformed frame from a worker, dropping its line")
                self.drop(peer)
                return False
            number = peer.frames_read
            for payload in frames:
                kind, flags, _, _, seq, request_id, arrival_ns, sell_deadline_ns = (
                    REQUEST.unpack_from(payload)
                )
                number += 1
                body = payload[REQUEST.size :]
                pending = Pending(
                    arrival_ns, peer, kind, flags, seq, request_id, sell_deadline_ns, body, number
                )
                batch.append(pending)
            peer.frames_read = number
            if size < READ_CHUNK_BYTES:
                break
        return peer.frames_read > read_before and not peer.closed

    def acknowledge(self, peer: Peer) -> None:
        """Tell the worker how many of its frames have been read, before the clock is read.

        A worker whose request times out answers 503 only if no ACK covers it:
        this ACK is in its socket before the batch is decided, so a request
        it does not cover is decided later, past its sell deadline (nothing
        sold). An ACK that cannot be written whole now (the worker is not
        reading its replies) covers nothing: its requests are decided as if
        expired, so the worker's 503 stays true.
        """
        peer.unsent += FRAMED_ACK.pack(ACK.size, Kind.ACK, peer.frames_read)
        self.flush(peer)
        if not peer.unsent and not peer.closed:
            peer.acknowledged = peer.frames_read

    def send(self, replies: Replies) -> None:
        for peer, frames in replies.items():
            if not peer.closed:  # else its worker is gone: the answers have nobody to go to
                peer.unsent += b"".join(frames)
                self.flush(peer)

    def flush(self, peer: Peer) -> None:
        try:
            written = os.write(peer.fd, peer.unsent)
        except BlockingIOError:
            written = 0
        except OSError:
            self.drop(peer)
            return
        del peer.unsent[:written]
        if len(peer.unsent) > MAX_UNSENT_BYTES:
            log.warning("allocator: a worker stopped reading its replies, dropping its line")
            self.drop(peer)
            return
        blocked = bool(peer.unsent)
        if blocked != peer.waiting_to_write:  # epoll_ctl only when that changes
            peer.waiting_to_write = blocked
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if blocked else 0)
            self._selector.modify(peer.fd, events, peer)

    def drop(self, peer: Peer) -> None:
        if peer.closed:
            return
        peer.closed = True
        self._selector.unregister(peer.fd)
        peer.conn.close()
