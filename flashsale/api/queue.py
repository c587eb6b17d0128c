"""POST /flash-sale/queue and GET /flash-sale/queue/{ticket}: a sale's waiting room.

The worker checks the input and, for a ticket, its signature (flashsale.queue_tickets,
with the key the allocator published in shared memory), so a forged ticket costs no
IPC; the allocator decides a join and knows each ticket's place
(flashsale.allocator.waiting_room). Pages follow the queue's "now serving" on the
status stream, not by reading their ticket again.
"""

from __future__ import annotations

from typing import Any

import falcon
import falcon.asgi
import orjson

from flashsale.api.body import read_json_body
from flashsale.api.checkout import CheckoutGateway, answer, decided
from flashsale.api.identity import Identity
from flashsale.api.problems import (
    NO_QUEUE,
    NOT_FOUND,
    STARTING,
    TICKET_INVALID,
    UNKNOWN_TICKET,
    HTTPProblem,
)
from flashsale.api.proof_of_work import checked_nonce, new_challenge
from flashsale.checkout_commands import QUEUE_JOIN, QUEUE_READ, CheckoutRequest
from flashsale.queue_tickets import Ticket, verified_ticket
from flashsale.shm.sale_board import SaleBoard, SaleSnapshot

TICKET_HEADER = "Flash-Sale-Ticket"


def queued_sale(board: SaleBoard) -> SaleSnapshot:
    """The current sale, which has a waiting room; a problem if it has none."""
    sale = board.sale()
    if sale is None:
        raise HTTPProblem(STARTING, "the allocator is recovering the sale")
    if sale.queue is None:
        raise HTTPProblem(NO_QUEUE, "this sale has no waiting room: buy without a ticket")
    return sale


def ticket_of(board: SaleBoard, sale: SaleSnapshot, text: str | None) -> Ticket | None:
    """The ticket `text` names, if its signature holds and it is of `sale` (None else)."""
    key = board.ticket_key()
    if text is None or key is None:
        return None
    ticket = verified_ticket(key, text)
    if ticket is None or ticket.sale_id != sale.sale_id:
        return None
    return ticket


class QueueResource:
    """POST /flash-sale/queue (a person's ticket) and GET /flash-sale/queue/{ticket}."""

    def __init__(self, board: SaleBoard, gateway: CheckoutGateway, identity: Identity) -> None:
        self.board = board
        self.gateway = gateway
        self.identity = identity

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        body = await read_json_body(req)
        fields, without_proof = _proof_apart(body)
        user_id, _ = self.identity.buyer(req, without_proof)
        sale = queued_sale(self.board)
        nonce = None
        if sale.queue is not None and sale.queue.proof_of_work:
            nonce = await checked_nonce(self.board, sale.sale_id, fields.get("altcha"))
        result = await decided(
            self.gateway, CheckoutRequest(QUEUE_JOIN, token=nonce, user_id=user_id)
        )
        answer(resp, result, result.entry)

    async def on_get_challenge(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """An ALTCHA challenge to solve before joining a queue that asks for one."""
        sale = queued_sale(self.board)
        key = self.board.ticket_key()
        if sale.queue is None or not sale.queue.proof_of_work or key is None:
            raise HTTPProblem(NOT_FOUND, "this queue asks for no proof of work")
        resp.cache_control = ["no-store"]
        resp.media = new_challenge(key, sale.sale_id)

    async def on_get_ticket(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, ticket: str
    ) -> None:
        sale = queued_sale(self.board)
        known = ticket_of(self.board, sale, ticket)
        if known is None:
            raise HTTPProblem(
                TICKET_INVALID, "this ticket's signature does not hold for the current sale"
            )
        result = await decided(
            self.gateway,
            CheckoutRequest(QUEUE_READ, order_id=str(known.number), user_id=known.user_id),
        )
        if result.status == 404:
            raise HTTPProblem(UNKNOWN_TICKET, "no ticket of the current sale has this number")
        answer(resp, result, result.entry)


def _proof_apart(body: bytes) -> tuple[dict[str, Any], bytes]:
    """The join's fields, and its body as the purchase's identity reads it: without
    `altcha`, the proof of work (flashsale.api.proof_of_work checks it)."""
    try:
        fields = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return {}, body  # the identity's parse says what is wrong with it
    if isinstance(fields, dict) and "altcha" in fields:
        rest = {name: value for name, value in fields.items() if name != "altcha"}
        return fields, orjson.dumps(rest)
    return fields if isinstance(fields, dict) else {}, body
