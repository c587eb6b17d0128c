"""Strict reading of what clients send. Everything here raises InvalidInput (400) or a kind
of it."""

from __future__ import annotations

import json
from collections.abc import Set as AbstractSet
from typing import Any, NamedTuple

from flashsale.api.user_ids import normalise_user_id
from flashsale.catalogue import SKU_RULE, valid_sku
from flashsale.errors import InvalidInput, InvalidJson, InvalidSku


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise InvalidJson("Invalid JSON", "an object has the same key twice")
    return dict(pairs)


def _no_constants(name: str) -> None:
    raise InvalidJson("Invalid JSON", f"{name} is not allowed")


# Made once: json.loads with hooks builds a new decoder on every call.
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants)


def parse_json_object(raw: bytes, *, allowed: AbstractSet[str]) -> dict[str, Any]:
    """A JSON object with only `allowed` keys, no duplicate keys, no NaN/Infinity."""
    if not raw.strip():
        raise InvalidInput("Empty body", "send a JSON object")
    try:
        text = raw.decode("utf-8")
        value = _DECODER.decode(text)
    except UnicodeDecodeError:
        raise InvalidJson("Invalid JSON", "the body is not UTF-8") from None
    except RecursionError:
        raise InvalidJson("Invalid JSON", "the body is nested too deeply") from None
    except ValueError as exc:
        raise InvalidJson("Invalid JSON", f"the body is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise InvalidInput("Invalid body", "the body must be a JSON object")
    unexpected = sorted(set(value) - allowed)
    if unexpected:
        raise InvalidInput("Invalid body", f"unexpected field {unexpected[0]!r}")
    return value


def check_user_id(value: Any) -> str:
    """The id to count: NFKC-normalised and checked by flashsale.api.user_ids (the rule)."""
    return normalise_user_id(value)


PURCHASE_FIELDS = frozenset({"userId", "sku"})


class Purchase(NamedTuple):
    """What a purchase body asks for: who buys (normalised) and which product (None: the
    sale's only one)."""

    user_id: str
    sku: str | None


def parse_purchase(raw: bytes) -> Purchase:
    """The purchase a body asks for; callers must use its user id, not the raw value."""
    body = parse_json_object(raw, allowed=PURCHASE_FIELDS)
    if "userId" not in body:
        raise InvalidInput("Invalid body", "userId is required")
    return Purchase(check_user_id(body["userId"]), requested_sku(body))


def requested_sku(body: dict[str, Any]) -> str | None:
    sku = body.get("sku")
    if sku is not None and not valid_sku(sku):
        raise InvalidSku("Invalid sku", f"sku must be {SKU_RULE}")
    return sku
