"""What the admin API reads from a request: a new sale's terms and what it replaces, a
change of the current sale, the Idempotency-Key and If-Match headers. Pure parsing:
everything refused raises InvalidInput (400) or an HTTP problem, and changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, NamedTuple

import falcon

from flashsale.api.problems import INVALID_IDEMPOTENCY_KEY, HTTPProblem
from flashsale.api.validation import parse_json_object
from flashsale.catalogue import Product, ProductSettings, parse_products
from flashsale.clock import RANGE_TEXT, instant_us, representable
from flashsale.config import Settings, declared
from flashsale.errors import InvalidInput, InvalidSale
from flashsale.records import CheckoutTerms, QueueTerms, SaleTerms
from flashsale.sale_lifecycle import END, PAUSE, RESUME, SET_END, Change
from flashsale.setting import Integer, parse_instant

# A new sale takes the bounds (and default) of the settings that make the first one.
STOCK = declared("stock", Integer)
PER_USER_LIMIT = declared("per_user_limit", Integer)
SALE_FIELDS = frozenset(
    {"products", "stock", "perUserLimit", "startsAt", "endsAt", "replaces", "checkout", "queue"}
)
CHECKOUT_FIELDS = frozenset({"holdSeconds", "extendSeconds"})
QUEUE_FIELDS = frozenset({"opensAt", "shuffle", "admitPerMinute", "admittedSeconds", "proofOfWork"})


# A hold is long enough to pay and short enough that a unit is not kept for days.
class Bounds(NamedTuple):
    low: int
    high: int


HOLD_SECONDS = Bounds(1, 86_400)
ADMIT_PER_MINUTE = Bounds(1, 1_000_000)
ADMITTED_SECONDS = Bounds(1, 86_400)
EXTEND_SECONDS = Bounds(0, 86_400)
CHANGE_FIELDS = frozenset({"state", "endsAt"})
# PATCH's `state` and the command each asks for.
STATE_CHANGES = {"paused": PAUSE, "open": RESUME, "ended": END}
# The largest sale id a path or `replaces` may name: ids are counted from 1, one a sale.
MAX_SALE_ID = 2**53 - 1
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}").fullmatch


def new_sale(body: bytes, default_product: ProductSettings) -> tuple[SaleTerms, int | None]:
    """The terms of a new sale and the sale it `replaces` (None: none named)."""
    spec = parse_json_object(body, allowed=SALE_FIELDS)
    return sale_terms(spec, default_product), _replaces(spec)


def fingerprint(body: bytes) -> str:
    """SHA-256 (hex) of the body's canonical JSON: the same object however it is spaced
    or ordered (the body is JSON parse_json_object has read already)."""
    canonical = json.dumps(
        json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def change(body: bytes) -> Change:
    """A PATCH's change: exactly one of `state` (paused, open, ended) and `endsAt`."""
    spec = parse_json_object(body, allowed=CHANGE_FIELDS)
    if len(spec) != 1:
        raise InvalidInput("Invalid body", "send exactly one of state and endsAt")
    if "state" in spec:
        action = STATE_CHANGES.get(spec["state"]) if isinstance(spec["state"], str) else None
        if action is None:
            raise InvalidSale("Invalid state", "state must be paused, open or ended")
        return Change(action)
    return Change(SET_END, _instant_us(spec, "endsAt"))


def sale_id_of(text: str) -> int | None:
    """A sale id from a path, or None when it cannot name one."""
    if not text.isdigit() or len(text) > 16 or not text.isascii():
        return None
    sale_id = int(text)
    return sale_id if 1 <= sale_id <= MAX_SALE_ID else None


def idempotency_key(req: falcon.Request) -> str | None:
    key = req.get_header("Idempotency-Key")
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY(key):
        raise HTTPProblem(
            INVALID_IDEMPOTENCY_KEY, "Idempotency-Key must be 1 to 255 visible ASCII characters"
        )
    return key


def if_match(req: falcon.Request) -> tuple[str, ...] | None:
    """The entity tags of If-Match, quoted as ETag headers send them (`*`: any); None
    without the header. A weak tag never matches (RFC 9110, 13.1.1)."""
    tags = req.if_match
    if tags is None:
        return None
    return tuple("*" if tag == "*" else ("W/" if tag.is_weak else "") + f'"{tag}"' for tag in tags)


def _replaces(spec: dict[str, Any]) -> int | None:
    value = spec.get("replaces")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SALE_ID:
        raise InvalidSale("Invalid replaces", "replaces must be a sale id (an integer from 1)")
    return value


def _bounded_int(
    body: dict[str, Any], name: str, default: int | None, bounds: Integer | Bounds
) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSale(f"Invalid {name}", f"{name} must be an integer")
    if not bounds.low <= value <= bounds.high:
        raise InvalidSale(f"Invalid {name}", f"{name} must be within [{bounds.low}, {bounds.high}]")
    return value


def _instant_us(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidSale(f"Invalid {name}", f"{name} must be an ISO-8601 string or null")
    try:
        moment_us = instant_us(parse_instant(value))
    except ValueError:
        raise InvalidSale(f"Invalid {name}", f"{name} is not an ISO-8601 time") from None
    if not representable(moment_us):
        raise InvalidSale(f"Invalid {name}", f"{name} must be {RANGE_TEXT}")
    return moment_us


def sale_terms(body: dict[str, Any], default_product: ProductSettings) -> SaleTerms:
    limit = _bounded_int(body, "perUserLimit", Settings.per_user_limit, PER_USER_LIMIT)
    if ("stock" in body) == ("products" in body):
        raise InvalidSale("Invalid sale", "send either products or stock (one product)")
    if "stock" in body:
        products: tuple[Product, ...] = (
            default_product.product(_bounded_int(body, "stock", None, STOCK)),
        )
    else:
        products = parse_products(body["products"], max_stock=STOCK.high, sale_limit=limit)
    starts_us, ends_us = _instant_us(body, "startsAt"), _instant_us(body, "endsAt")
    if starts_us is not None and ends_us is not None and ends_us <= starts_us:
        raise InvalidSale("Invalid endsAt", "endsAt must be later than startsAt")
    queue = _queue(body.get("queue"), starts_us)
    return SaleTerms(products, limit, starts_us, ends_us, _checkout(body.get("checkout")), queue)


def _checkout(value: Any) -> CheckoutTerms | None:
    """`checkout`: {holdSeconds, extendSeconds}, or null or absent (no hold: a 201 is final)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidSale("Invalid checkout", "checkout must be an object or null")
    unknown = set(value) - CHECKOUT_FIELDS
    if unknown or "holdSeconds" not in value:
        raise InvalidSale(
            "Invalid checkout", "checkout takes holdSeconds (required) and extendSeconds"
        )
    hold_s = _bounded_int(value, "holdSeconds", None, HOLD_SECONDS)
    extend_s = _bounded_int(value, "extendSeconds", 0, EXTEND_SECONDS)
    return CheckoutTerms(hold_s, extend_s)


def _queue(value: Any, starts_us: int | None) -> QueueTerms | None:
    """`queue`: {opensAt, shuffle, admitPerMinute, admittedSeconds, proofOfWork}, or null
    or absent (no waiting room). A queue gathers shoppers before `startsAt`: it needs one."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidSale("Invalid queue", "queue must be an object or null")
    unknown = set(value) - QUEUE_FIELDS
    if unknown:
        raise InvalidSale(
            "Invalid queue",
            "queue takes opensAt, shuffle, admitPerMinute, admittedSeconds and proofOfWork",
        )
    if starts_us is None:
        raise InvalidSale("Invalid queue", "a sale with a queue needs startsAt")
    opens_us = _instant_us(value, "opensAt")
    if opens_us is not None and opens_us >= starts_us:
        raise InvalidSale("Invalid opensAt", "queue.opensAt must be earlier than startsAt")
    flags = {}
    for name, default in (("shuffle", True), ("proofOfWork", False)):
        flag = value.get(name, default)
        if not isinstance(flag, bool):
            raise InvalidSale(f"Invalid {name}", f"queue.{name} must be true or false")
        flags[name] = flag
    rate = None
    if value.get("admitPerMinute") is not None:
        rate = _bounded_int(value, "admitPerMinute", None, ADMIT_PER_MINUTE)
    admitted_s = _bounded_int(value, "admittedSeconds", 120, ADMITTED_SECONDS)
    return QueueTerms(opens_us, flags["shuffle"], rate, admitted_s, flags["proofOfWork"])
