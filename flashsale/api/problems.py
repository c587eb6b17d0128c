"""The kinds of problem this service answers with (RFC 9457 problem details), declared once.

Every error answer, whoever writes it (Falcon's error path, the purchase's
refusals, the event streams, the serving layer), is `application/problem+json`
with `type`, `title`, `status` (the HTTP code) and `detail`, and extension
members where they carry data (a purchase's `outcome`, an order, a `sku`).
`type` is the relative URI `/problems/<slug>`, which the service serves as a
short page saying what the problem means (flashsale.api.problem_pages), and the
table of them in README is written from PROBLEM_ROWS (flashsale.problems_doc).
A type's title is the same on every occurrence; `detail` says what happened this time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import falcon
import orjson

PROBLEM_JSON = "application/problem+json"
PROBLEMS_PATH = "/problems/"


@dataclass(frozen=True, slots=True)
class ProblemType:
    slug: str
    status: int  # the HTTP code it is answered with
    title: str
    meaning: str  # a sentence or two: what happened, and what the client can do
    # Falcon's status line for `status` ("409 Conflict"), made once.
    status_line: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status_line", falcon.code_to_http_status(self.status))

    @property
    def uri(self) -> str:
        return PROBLEMS_PATH + self.slug

    def document(self, detail: str, **extensions: Any) -> dict[str, Any]:
        """The problem's JSON members: the four of RFC 9457, then `extensions`."""
        return {
            "type": self.uri,
            "title": self.title,
            "status": self.status,
            "detail": detail,
            **extensions,
        }


# slug, HTTP code, title, what it means. The order is README's.
PROBLEM_ROWS: tuple[tuple[str, int, str, str], ...] = (
    # A purchase's refusals: each also carries the purchase's `outcome`.
    (
        "already-purchased",
        409,
        "Already purchased",
        "This shopper already holds as many units as the sale allows one shopper (of the "
        "product asked for, or of the whole sale); the answer carries that order (`orderId`, "
        "`sku`, `position`). Nothing more was bought.",
    ),
    (
        "sold-out",
        410,
        "Sold out",
        "Nothing is left of the product asked for (`sku`). In a sale of several products, "
        "others may remain.",
    ),
    (
        "unknown-product",
        404,
        "Unknown product",
        "`sku` is not a product of the current sale (it may have changed since the page was "
        "loaded); nothing was bought, and no attempt was counted.",
    ),
    (
        "not-started",
        403,
        "Not started",
        "The sale has not opened yet (`startsAt`): try again once it has.",
    ),
    ("sale-ended", 403, "Sale ended", "The sale is over (`endsAt`): nothing more is sold."),
    (
        "sale-paused",
        503,
        "Sale paused",
        "The operator has paused the sale: nothing is sold until it is resumed. Nothing was "
        "bought, and no attempt was counted against the shopper: try again after `Retry-After` "
        "seconds.",
    ),
    (
        "rate-limited",
        429,
        "Too many attempts",
        "This shopper (or client address) made as many purchase attempts as the window allows. "
        "Wait for `Retry-After` seconds; the `RateLimit` header says the same.",
    ),
    (
        "not-admitted",
        403,
        "Not admitted",
        "The sale has a waiting room, and this purchase did not carry an admitted ticket of "
        "its buyer in `Flash-Sale-Ticket`: none, another person's, a forged one, one whose "
        "turn has not come, whose admission lapsed (`admittedSeconds`) or that already bought. "
        "Join the queue (`POST /flash-sale/queue`) and buy once admitted. Nothing was bought.",
    ),
    (
        "unavailable",
        503,
        "Busy",
        "The sale could not decide in time (the circuit breaker is open, the allocator's queue "
        "is full, the allocator is recovering, or a shared lock did not answer). Nothing was "
        "bought or changed: try again after `Retry-After` seconds.",
    ),
    (
        "not-selling",
        503,
        "Not selling",
        "The store cannot record sales (the journal cannot be written, or Redis cannot be "
        "reached), so nothing is sold until it can; nothing was bought or changed. Try again "
        "after `Retry-After` seconds.",
    ),
    # Any request.
    (
        "starting",
        503,
        "Starting",
        "The allocator is recovering the sale after a start or a restart: try again after "
        "`Retry-After` seconds.",
    ),
    (
        "invalid-json",
        400,
        "Invalid JSON",
        "The body is not JSON this service reads: UTF-8, no key twice in an object, no NaN or "
        "Infinity, not nested too deeply. Nothing was changed.",
    ),
    (
        "invalid-body",
        400,
        "Invalid body",
        "The body is empty, not a JSON object, lacks a required field or has one the endpoint "
        "does not take. Nothing was changed.",
    ),
    (
        "invalid-user-id",
        400,
        "Invalid userId",
        "The `userId` (in the body, or the look-up's path) is not one this service accepts: "
        "1 to 64 printable characters after NFKC normalisation, without `/` or `\\`, no "
        "invisible characters, letters of one script. Nothing was changed.",
    ),
    (
        "invalid-sku",
        400,
        "Invalid sku",
        "The `sku` is not one a product can have, or the sale has several products and the "
        "purchase named none. Nothing was bought.",
    ),
    (
        "invalid-parameter",
        400,
        "Invalid parameter",
        "A query parameter is refused (`detail` names it and the rule): a `limit` outside its "
        "bounds, an `after` that is not a cursor the list gave as `next`, a `saleId` that is "
        "not a sale's id, or one given twice. Nothing was changed.",
    ),
    (
        "invalid-sale",
        400,
        "Invalid sale",
        "A sale's terms are refused: a new sale's (stock, limits, times, products), or a "
        "change's (an `endsAt` in the past, or not after `startsAt`). `detail` names the field "
        "and the rule. Nothing was changed.",
    ),
    (
        "invalid-idempotency-key",
        400,
        "Invalid Idempotency-Key",
        "The `Idempotency-Key` header must be 1 to 255 visible ASCII characters. Nothing was "
        "changed.",
    ),
    (
        "bad-request",
        400,
        "Bad request",
        "The request itself is malformed (its request line, a header, a chunk of its body), or "
        "an HTTP/1.1 request names no valid `Host`. The connection is closed after the answer.",
    ),
    (
        "token-required",
        401,
        "Authorization required",
        "This needs a bearer token (`Authorization: Bearer <token>`); `WWW-Authenticate: Bearer "
        'realm="flashsale"` says so.',
    ),
    (
        "invalid-token",
        401,
        "Invalid token",
        "The bearer token is refused: a wrong admin or operator token, or a shopper's token "
        "that is malformed, expired, not valid yet, for another audience or issuer, or not "
        'signed by a key this server accepts (`WWW-Authenticate: Bearer realm="flashsale", '
        'error="invalid_token"`, RFC 6750). Nothing was sold or counted against the shopper.',
    ),
    (
        "no-websocket",
        403,
        "No WebSocket",
        "No path of this service is a WebSocket, so the upgrade is refused: the event stream "
        "`/flash-sale/events` pushes the sale's status over plain HTTP.",
    ),
    (
        "not-your-id",
        403,
        "Not your id",
        "With signed shoppers, a purchase's `userId` must be the token's `sub` (or be left "
        "out). Nothing was bought.",
    ),
    (
        "not-found",
        404,
        "Not found",
        "Nothing is at this path: no such endpoint, no such picture, or the admin API is off "
        "(no admin token is set).",
    ),
    # Checkout holds and the waitlist (a sale with a checkout window).
    (
        "unknown-order",
        404,
        "Unknown order",
        "There is no order of that id in the current sale (`orderId`). Nothing was changed.",
    ),
    (
        "payment-ref-mismatch",
        409,
        "Payment reference mismatch",
        "The order is already confirmed with another `paymentRef`. Nothing was changed; the "
        "same `paymentRef` again answers the confirmed order.",
    ),
    (
        "hold-expired",
        409,
        "Hold expired",
        "The hold passed its `expiresAt` before it was confirmed, and its unit went to someone "
        "else: nothing was confirmed. A confirm answers `refundRequired: true` (outcome "
        "`hold_expired`): the payment must be refunded.",
    ),
    (
        "hold-cancelled",
        409,
        "Hold cancelled",
        "The hold was cancelled and its unit released; nothing was done. A confirm answers "
        "`refundRequired: true`.",
    ),
    (
        "hold-already-extended",
        409,
        "Hold already extended",
        "A hold is extended once; this one was. Its `expiresAt` is unchanged.",
    ),
    (
        "hold-not-extendable",
        409,
        "Hold not extendable",
        "This sale's holds cannot be extended (its `extendSeconds` is 0).",
    ),
    (
        "order-confirmed",
        409,
        "Order confirmed",
        "The order is confirmed (paid): it can no longer be cancelled or extended.",
    ),
    (
        "waitlist-closed",
        409,
        "Waitlist closed",
        "The product's waitlist cannot be joined now (`reason`): it is open only while the "
        "product is sold out with holds outstanding and the sale is open.",
    ),
    (
        "no-queue",
        404,
        "No waiting room",
        "The sale has no waiting room: buy without a ticket.",
    ),
    (
        "queue-not-open",
        409,
        "Queue not open",
        "The waiting room opens at `opensAt`: join then.",
    ),
    (
        "queue-closed",
        410,
        "Queue closed",
        "The sale is sold out or over, so nobody more is admitted; the queue takes nobody.",
    ),
    (
        "ticket-invalid",
        403,
        "Invalid ticket",
        "The ticket's signature does not hold: it was altered, forged or issued for another "
        "sale. Join the queue for this person's own ticket.",
    ),
    (
        "unknown-ticket",
        404,
        "Unknown ticket",
        "No ticket of the current sale has this number.",
    ),
    (
        "proof-of-work-required",
        403,
        "Proof of work required",
        "This waiting room asks a joining page to solve a challenge first "
        "(`GET /flash-sale/queue/challenge`, ALTCHA): send its solution as `altcha`.",
    ),
    (
        "proof-of-work-invalid",
        403,
        "Invalid proof of work",
        "The `altcha` solution is wrong, expired, already used, or for another challenge: "
        "solve a new one.",
    ),
    (
        "invalid-payment-ref",
        400,
        "Invalid paymentRef",
        "`paymentRef` must be 1 to 128 visible ASCII characters. Nothing was changed.",
    ),
    (
        "no-purchase",
        404,
        "No purchase",
        "This shopper has bought nothing in the sale asked for (`saleId`; the current sale by "
        "default), or, with signed shoppers, the order asked for is not the caller's own.",
    ),
    (
        "unknown-sale",
        404,
        "Unknown sale",
        "No sale has this id: sales are numbered from 1 in the order they were started, and "
        "this one has not been. Nothing was changed.",
    ),
    (
        "sale-in-progress",
        409,
        "Sale in progress",
        "The current sale (`saleId`, its `state` and `etag`) has not ended, so no new sale was "
        "made: end it first (PATCH it to `ended`), or replace it by sending `If-Match` with "
        'its `etag` or `"replaces": <saleId>`.',
    ),
    (
        "sale-not-current",
        409,
        "Not the current sale",
        "Only the current sale (`currentSaleId`) can be paused, resumed, ended or given a new "
        "end; this one was replaced. Nothing was changed.",
    ),
    (
        "sale-already-ended",
        409,
        "Sale already ended",
        "The sale has ended (`endedAt`), by a command or at its `endsAt`; an ended sale is "
        "final. Nothing was changed: make a new sale instead.",
    ),
    (
        "precondition-failed",
        412,
        "Precondition failed",
        "`If-Match` or `replaces` names a sale, or a version of it, that is no longer the "
        "current one (`saleId` and `etag` are). Read the sale again and decide again; nothing "
        "was changed.",
    ),
    (
        "idempotency-key-reused",
        422,
        "Idempotency key reused",
        "This `Idempotency-Key` was used within the last 24 hours for a request with another "
        "body (it made sale `saleId`). Nothing was changed: use a new key for a new request.",
    ),
    (
        "method-not-allowed",
        405,
        "Method not allowed",
        "This path does not take this method: `Allow` lists those it takes.",
    ),
    (
        "request-timeout",
        408,
        "Request timeout",
        "The request's head or body did not arrive within the server's deadline; the "
        "connection is closed, and a request whose body did not arrive whole is never acted on.",
    ),
    (
        "payload-too-large",
        413,
        "Body too large",
        "The body is larger than any this service takes; a declared `Content-Length` is "
        "answered at once, before the body is sent.",
    ),
    (
        "uri-too-long",
        414,
        "Request line too long",
        "The request line is longer than the server reads.",
    ),
    (
        "unsupported-media-type",
        415,
        "Unsupported media type",
        "Send the body as `Content-Type: application/json` in UTF-8, as it is: a "
        "`Content-Encoding` other than `identity` is refused (with `Accept-Encoding: identity`).",
    ),
    (
        "too-many-wrong-tokens",
        429,
        "Too many wrong tokens",
        "This address sent too many wrong admin or operator tokens within a minute: every "
        "token it sends is refused until `Retry-After` seconds have passed.",
    ),
    (
        "too-many-connections",
        429,
        "Too many connections from one address",
        "This client address holds as many open connections as one address may; others are "
        "served. Try again after `Retry-After` seconds.",
    ),
    (
        "too-many-event-streams",
        429,
        "Too many event streams from one address",
        "This client address holds as many live pages (event streams) as one address may: poll "
        "`/flash-sale/status` instead, or try again after `Retry-After` seconds.",
    ),
    (
        "headers-too-large",
        431,
        "Headers too large",
        "A header, or all of them together, is larger than the server reads.",
    ),
    (
        "internal-error",
        500,
        "Internal error",
        "The server failed while answering. It may have failed after a change: read the "
        "current state (the sale, the shopper's order) before trying again.",
    ),
    (
        "not-implemented",
        501,
        "Not implemented",
        "The request uses a transfer coding the server does not take.",
    ),
    (
        "server-full",
        503,
        "Server full",
        "The worker holds as many connections as it may; the connection was closed at once. "
        "Try again after `Retry-After` seconds.",
    ),
    (
        "event-streams-full",
        503,
        "Too many event streams",
        "The worker holds as many live pages (event streams) as it may, or is stopping: poll "
        "`/flash-sale/status` instead, or try again after `Retry-After` seconds.",
    ),
    (
        "exports-busy",
        503,
        "Too many exports",
        "The worker is already streaming as many order exports (CSV) as it may at once "
        "(`FLASHSALE_EXPORTS_PER_WORKER`): try again after `Retry-After` seconds. Everything "
        "else is served meanwhile.",
    ),
    (
        "ui-not-built",
        503,
        "UI not built",
        "The shop's pages have not been built on this server: run `./start.sh` or "
        "`npm --prefix webui run build`.",
    ),
)

PROBLEMS: tuple[ProblemType, ...] = tuple(ProblemType(*row) for row in PROBLEM_ROWS)
BY_SLUG: Mapping[str, ProblemType] = {problem.slug: problem for problem in PROBLEMS}

ALREADY_PURCHASED = BY_SLUG["already-purchased"]
SOLD_OUT = BY_SLUG["sold-out"]
UNKNOWN_PRODUCT = BY_SLUG["unknown-product"]
NOT_STARTED = BY_SLUG["not-started"]
SALE_ENDED = BY_SLUG["sale-ended"]
RATE_LIMITED = BY_SLUG["rate-limited"]
UNAVAILABLE = BY_SLUG["unavailable"]
NOT_SELLING = BY_SLUG["not-selling"]
STARTING = BY_SLUG["starting"]
INVALID_JSON = BY_SLUG["invalid-json"]
INVALID_BODY = BY_SLUG["invalid-body"]
INVALID_USER_ID = BY_SLUG["invalid-user-id"]
INVALID_SKU = BY_SLUG["invalid-sku"]
INVALID_PARAMETER = BY_SLUG["invalid-parameter"]
INVALID_SALE = BY_SLUG["invalid-sale"]
SALE_PAUSED = BY_SLUG["sale-paused"]
INVALID_IDEMPOTENCY_KEY = BY_SLUG["invalid-idempotency-key"]
BAD_REQUEST = BY_SLUG["bad-request"]
TOKEN_REQUIRED = BY_SLUG["token-required"]
INVALID_TOKEN = BY_SLUG["invalid-token"]
NOT_YOUR_ID = BY_SLUG["not-your-id"]
NOT_FOUND = BY_SLUG["not-found"]
NO_PURCHASE = BY_SLUG["no-purchase"]
UNKNOWN_ORDER = BY_SLUG["unknown-order"]
INVALID_PAYMENT_REF = BY_SLUG["invalid-payment-ref"]
UNKNOWN_SALE = BY_SLUG["unknown-sale"]
METHOD_NOT_ALLOWED = BY_SLUG["method-not-allowed"]
PAYLOAD_TOO_LARGE = BY_SLUG["payload-too-large"]
UNSUPPORTED_MEDIA_TYPE = BY_SLUG["unsupported-media-type"]
TOO_MANY_WRONG_TOKENS = BY_SLUG["too-many-wrong-tokens"]
TOO_MANY_CONNECTIONS = BY_SLUG["too-many-connections"]
TOO_MANY_EVENT_STREAMS = BY_SLUG["too-many-event-streams"]
INTERNAL_ERROR = BY_SLUG["internal-error"]
SERVER_FULL = BY_SLUG["server-full"]
EVENT_STREAMS_FULL = BY_SLUG["event-streams-full"]
EXPORTS_BUSY = BY_SLUG["exports-busy"]
UI_NOT_BUILT = BY_SLUG["ui-not-built"]
NOT_ADMITTED = BY_SLUG["not-admitted"]
NO_QUEUE = BY_SLUG["no-queue"]
TICKET_INVALID = BY_SLUG["ticket-invalid"]
UNKNOWN_TICKET = BY_SLUG["unknown-ticket"]

# The type of an error answered by its HTTP code alone: Falcon's own errors (a 405
# of a route, a malformed conditional header) and the answers the serving layer
# writes before the app runs. Where a code has several types, the serving layer's.
BY_STATUS: Mapping[int, ProblemType] = {
    400: BAD_REQUEST,
    401: TOKEN_REQUIRED,
    403: BY_SLUG["no-websocket"],
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    408: BY_SLUG["request-timeout"],
    413: PAYLOAD_TOO_LARGE,
    414: BY_SLUG["uri-too-long"],
    415: UNSUPPORTED_MEDIA_TYPE,
    429: TOO_MANY_CONNECTIONS,
    431: BY_SLUG["headers-too-large"],
    500: INTERNAL_ERROR,
    501: BY_SLUG["not-implemented"],
    503: SERVER_FULL,
}


def problem_for_status(status: int) -> ProblemType:
    """The type of an error known only by its code; a code no type has gets the
    nearest: a client's error is a bad request, a server's an internal error."""
    problem = BY_STATUS.get(status)
    if problem is not None:
        return problem
    return BAD_REQUEST if status < 500 else INTERNAL_ERROR


def problem_json(status: int, detail: str) -> bytes:
    """The body of an error answered by its code alone (see BY_STATUS)."""
    document = problem_for_status(status).document(detail)
    document["status"] = status  # the code sent, also where the nearest type has another
    return orjson.dumps(document)


class HTTPProblem(falcon.HTTPError):
    """A Falcon HTTP error that is a problem of one of the declared types.

    Raised like any of Falcon's errors (headers such as Retry-After or Allow
    included); the error serializer (flashsale.api.error_handlers) writes `to_dict()`.
    """

    def __init__(
        self,
        problem: ProblemType,
        detail: str,
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(
            problem.status_line,
            title=problem.title,
            description=detail,
            headers=dict(headers) if headers is not None else None,
        )
        self.problem = problem
        self.extensions = extensions

    def to_dict(self, obj_type: type[MutableMapping[str, Any]] = dict) -> MutableMapping[str, Any]:
        document = obj_type()
        document.update(self.problem.document(self.description or "", **self.extensions))
        return document
