"""A waiting room's proof of work (`queue.proofOfWork`): joining needs an ALTCHA challenge
solved in the page (the `altcha` package, protocol v2: PBKDF2/SHA-256).

`GET /flash-sale/queue/challenge` issues a challenge signed under a key derived from the
ticket key (so any worker of any host verifies it), valid for CHALLENGE_TTL_S; the join
sends the solved payload as `altcha`. The worker checks the signature and the solution
(off the event loop: it derives a key); the allocator refuses a challenge solved for an
earlier join (its nonce), so one solution buys one join.

It is a cost on each join, not bot detection: a thousand joins cost a thousand
solutions (about a second of a browser's time each), which a patient bot still pays.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from typing import Any

import altcha

from flashsale.api.problems import BY_SLUG, HTTPProblem
from flashsale.shm.sale_board import SaleBoard

ALGORITHM = "PBKDF2/SHA-256"
# PBKDF2 iterations a try; a solution takes about 256 tries (a key starting with 00).
COST = 5_000
CHALLENGE_TTL_S = 600
# An altcha payload is a few hundred bytes of base64: anything much longer is not one.
MAX_PAYLOAD_CHARS = 4_096

PROOF_REQUIRED = BY_SLUG["proof-of-work-required"]
PROOF_INVALID = BY_SLUG["proof-of-work-invalid"]


def challenge_key(ticket_key: bytes) -> bytes:
    """The key challenges are signed with: derived, so a ticket key is never reused as is."""
    return hmac.new(ticket_key, b"flashsale altcha challenge", hashlib.sha256).digest()


def new_challenge(ticket_key: bytes, sale_id: int) -> dict[str, Any]:
    challenge = altcha.create_challenge(
        ALGORITHM,
        COST,
        expires_at=int(time.time()) + CHALLENGE_TTL_S,
        data={"saleId": sale_id},
        hmac_secret=challenge_key(ticket_key),
    )
    shown: dict[str, Any] = challenge.to_dict()
    return shown


def solved_nonce(ticket_key: bytes, sale_id: int, payload: Any) -> str:
    """The nonce of the challenge `payload` solves for this sale; a 403 problem if it is
    missing, malformed, expired, forged, for another sale, or wrong."""
    if payload is None:
        raise HTTPProblem(
            PROOF_REQUIRED,
            "this queue asks for proof of work: solve GET /flash-sale/queue/challenge "
            "and send it as altcha",
        )
    if not isinstance(payload, str) or not 0 < len(payload) <= MAX_PAYLOAD_CHARS:
        raise HTTPProblem(PROOF_INVALID, "altcha must be the widget's payload (base64 JSON)")
    try:
        parsed = altcha.Payload.from_base64(payload)
        result = altcha.verify_solution(parsed, challenge_key(ticket_key))
    except (ValueError, TypeError, KeyError, AttributeError):
        raise HTTPProblem(PROOF_INVALID, "altcha is not a solved challenge") from None
    if not result.verified:
        why = "expired" if result.expired else "not a solution of a challenge of ours"
        raise HTTPProblem(PROOF_INVALID, f"the proof of work is {why}")
    data = parsed.challenge.parameters.data or {}
    if data.get("saleId") != sale_id:
        raise HTTPProblem(PROOF_INVALID, "the proof of work was solved for another sale")
    return str(parsed.challenge.parameters.nonce)


async def checked_nonce(board: SaleBoard, sale_id: int, payload: Any) -> str:
    """`solved_nonce`, on a thread: checking a solution derives a key (a few ms)."""
    key = board.ticket_key()
    if key is None:
        raise HTTPProblem(BY_SLUG["starting"], "the allocator is recovering the sale")
    return await asyncio.get_running_loop().run_in_executor(
        None, solved_nonce, key, sale_id, payload
    )
