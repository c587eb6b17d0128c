"""Cursor pagination's query parameters: `limit`, and `after`, an opaque cursor.

A cursor is the base64url (unpadded) of `<scope>:<position>`: the last position a
page showed, in the scope of what is paged (`orders-<saleId>`: one sale's
orders), so a cursor of one list is refused by another instead of paging it
from a wrong place. A cursor is stable: the same page gives the same cursor,
and it goes on where it stopped however much is appended after it. Clients
treat it as opaque; only the form written here is taken back (canonical
base64url, a decimal position without sign or leading zero), anything else is
a 400 problem naming the parameter.
"""

from __future__ import annotations

import base64
import binascii
import re

import falcon

from flashsale.api.problems import INVALID_PARAMETER, HTTPProblem

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# Longer than any cursor this module writes (a scope of a few dozen characters, a
# position of at most POSITION_DIGITS): a long one is refused before it is decoded.
MAX_CURSOR_CHARS = 128
# Positions fit SQLite's 64-bit integers with room to spare.
POSITION_DIGITS = 15
_LIMIT = re.compile(r"[1-9][0-9]{0,3}").fullmatch
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+").fullmatch
_POSITION = re.compile(rf"0|[1-9][0-9]{{0,{POSITION_DIGITS - 1}}}").fullmatch


def encode_cursor(scope: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{scope}:{position}".encode()).rstrip(b"=").decode("ascii")


def decode_cursor(text: str, scope: str) -> int:
    """The position `text` names in `scope`; raises a 400 problem unless it is a
    cursor `encode_cursor` wrote for this scope."""
    if len(text) > MAX_CURSOR_CHARS or not _BASE64URL(text):
        raise _bad_cursor()
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise _bad_cursor() from None
    named_scope, _, position = decoded.rpartition(":")
    if named_scope != scope or not _POSITION(position):
        raise _bad_cursor()
    # Only the canonical text: a cursor with stray bits in its last character is not ours.
    if encode_cursor(scope, int(position)) != text:
        raise _bad_cursor()
    return int(position)


def single_param(req: falcon.Request, name: str) -> str | None:
    """The query parameter `name` given once (None: not given); twice is a 400."""
    value = req.params.get(name)
    if isinstance(value, list):
        raise HTTPProblem(INVALID_PARAMETER, f"{name} may be given once")
    return value


def page_limit(req: falcon.Request) -> int:
    """`limit`: 1 to MAX_LIMIT (DEFAULT_LIMIT when not given), in plain decimal."""
    text = single_param(req, "limit")
    if text is None:
        return DEFAULT_LIMIT
    if not _LIMIT(text) or int(text) > MAX_LIMIT:
        raise HTTPProblem(
            INVALID_PARAMETER, f"limit must be an integer from 1 to {MAX_LIMIT} (plain digits)"
        )
    return int(text)


def page_after(req: falcon.Request, scope: str) -> int:
    """`after`: the position a page ends after (0: from the start)."""
    text = single_param(req, "after")
    return 0 if text is None else decode_cursor(text, scope)


def _bad_cursor() -> HTTPProblem:
    return HTTPProblem(
        INVALID_PARAMETER,
        "after must be a cursor this list gave as next (opaque: pass it back as it is)",
    )
