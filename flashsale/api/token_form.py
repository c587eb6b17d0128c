"""The form of a shopper's token, checked before PyJWT sees it, and its lifetime after.

A compact JWS is three segments of canonical base64url without padding (RFC
7515 §2, §7.1): the `=` PyJWT tolerates, or trailing bits that spell the same
bytes, would let one signature have many spellings. The header and the claims
must be JSON objects with no duplicate name (RFC 7515 §5.2), no NaN or
Infinity, and fields of the types RFC 7515 and RFC 7519 give them: PyJWT reads
an `exp` of "1700000000" as a number, and raises more than it documents on a
`kid` or `crit` it does not expect. Everything here raises TokenRefused, which
the caller answers with a 401; nothing else escapes for any string.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

MALFORMED = "the token is malformed"
# The unpadded base64url alphabet; a length of 4n+1 characters decodes to nothing.
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
NUMERIC_DATES = ("exp", "nbf", "iat")
TEXT_CLAIMS = ("sub", "iss", "jti")
_FAR_S = 1e18  # thirty billion years


class TokenRefused(Exception):
    """A token this server refuses, with the reason a shopper's page may show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenForm(NamedTuple):
    header: dict[str, Any]
    claims: dict[str, Any]


def read_token(token: str) -> TokenForm:
    """The header and claims of a well-formed compact JWS (not verified yet)."""
    segments = token.split(".")
    if len(segments) != 3:
        raise TokenRefused(MALFORMED)
    header_segment, claims_segment, signature_segment = segments
    _decode_segment(signature_segment)
    header = _json_object(_decode_segment(header_segment))
    claims = _json_object(_decode_segment(claims_segment))
    check_header(header)
    check_claim_types(claims)
    return TokenForm(header, claims)


def _decode_segment(segment: str) -> bytes:
    """The bytes of a canonical unpadded base64url segment: one spelling per value."""
    if len(segment) % 4 == 1 or not _SEGMENT.fullmatch(segment):
        raise TokenRefused(MALFORMED)
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except binascii.Error:
        raise TokenRefused(MALFORMED) from None
    # Set low bits in the last character decode to the same bytes: refused.
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii") != segment:
        raise TokenRefused(MALFORMED)
    return data


def _no_duplicate_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(names) != len(set(names)):
        raise TokenRefused(MALFORMED)
    return dict(pairs)


def _no_constants(name: str) -> None:
    raise TokenRefused(MALFORMED)


# Made once: json.loads with hooks builds a new decoder on every call.
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicate_names, parse_constant=_no_constants)


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = _DECODER.decode(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise TokenRefused(MALFORMED) from None
    if not isinstance(value, dict):
        raise TokenRefused(MALFORMED)
    return value


def check_header(header: Mapping[str, Any]) -> None:
    """`alg` a string; `kid`, `typ` and `cty` strings when present; no `crit`."""
    if not isinstance(header.get("alg"), str):
        raise TokenRefused(MALFORMED)
    if any(name in header and not isinstance(header[name], str) for name in ("kid", "typ", "cty")):
        raise TokenRefused(MALFORMED)
    if "crit" in header:
        # RFC 7515 §4.1.11: an extension the server does not understand makes the
        # token invalid; this server understands none (not b64's detached payload).
        raise TokenRefused("the token names critical header extensions (crit) this server lacks")


def check_claim_types(claims: Mapping[str, Any]) -> None:
    """The registered claims present have their RFC 7519 types."""
    for name in NUMERIC_DATES:
        if name in claims and not _numeric_date(claims[name]):
            raise TokenRefused(
                f"the token's {name} claim must be a number of seconds (NumericDate)"
            )
    for name in TEXT_CLAIMS:
        if name in claims and not isinstance(claims[name], str):
            raise TokenRefused(f"the token's {name} claim must be a string")
    audience = claims.get("aud", "")
    if not (
        isinstance(audience, str)
        or (isinstance(audience, list) and all(isinstance(each, str) for each in audience))
    ):
        raise TokenRefused("the token's aud claim must be a string or a list of strings")


def _numeric_date(value: Any) -> bool:
    # bool is an int to Python, never a NumericDate; JSON has no infinite number,
    # but Python's json reads 1e400 as one.
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool)


def _seconds(value: float) -> float:
    """A NumericDate as a float: an int past a float's range (10**400) would overflow
    arithmetic, so it is held at a bound far beyond any lifetime."""
    return float(max(-_FAR_S, min(value, _FAR_S)))


def check_lifetime(
    claims: Mapping[str, Any], *, now_s: float, max_lifetime_s: float, leeway_s: float
) -> None:
    """Refuse a token that lives longer than `max_lifetime_s`: `exp` after `iat`, and
    `exp` after now (the clocks may differ by the leeway). Types are already checked."""
    expires_s = _seconds(claims["exp"])
    lived_s = expires_s - _seconds(claims["iat"]) if "iat" in claims else 0.0
    if lived_s > max_lifetime_s or expires_s - now_s > max_lifetime_s + leeway_s:
        raise TokenRefused(
            f"the token lives too long: this server accepts at most {max_lifetime_s:g} s"
        )
