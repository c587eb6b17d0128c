"""What RFC 9112 asks of a request's head, decided before anything reads its body:
one valid Host in HTTP/1.1 (section 3.2), a target in absolute form routed by its
path (section 3.2.2), and no body larger than the service ever takes.

The protocol (flashsale.serving.protocol) asks this of every request, so it is
kept to a few comparisons; the absolute form, which browsers never send to an
origin server, is the only case that costs more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

# RFC 3986's host (an IP literal in brackets, or a name or IPv4 address) and an
# optional port; the C parser has already refused control characters.
_HOST = re.compile(
    rb"(?:\[[0-9A-Za-z._~!$&'()*+,;=:-]+\]|[0-9A-Za-z._~!$&'()*+,;=%-]*)(?::[0-9]*)?"
).fullmatch
# An absolute-form target's scheme and authority, and the path after them.
_ABSOLUTE_FORM = re.compile(rb"(?i:https?)://([^/]*)(.*)", re.DOTALL).fullmatch


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    description: str


NO_HOST = Refusal(400, "an HTTP/1.1 request names its host in a Host header (RFC 9112, 3.2)")
BAD_HOST = Refusal(400, "the Host header is not a host with an optional port (RFC 9112, 3.2)")
BAD_TARGET_HOST = Refusal(400, "the request target's host is not a host with an optional port")


def refusal(
    version: tuple[int, int], host: bytes | None, content_length: int, body_max_bytes: int
) -> Refusal | None:
    """Why this head is refused before its body is read, or None.

    `host` is the Host header's value (None without one: gunicorn has already
    refused a request with two), `content_length` 0 for a request without one.
    """
    if host is None:
        if version >= (1, 1):
            return NO_HOST
    elif not _HOST(host):
        return BAD_HOST
    if content_length > body_max_bytes:
        # Known from the head alone: answered at once, without a 100 Continue,
        # instead of waiting for a body that would be refused.
        return Refusal(413, f"the body may be at most {body_max_bytes} bytes")
    return None


@dataclass(frozen=True, slots=True)
class OriginForm:
    """An absolute-form target as the service routes it."""

    authority: bytes  # the Host the server must use in place of the header's
    raw_path: bytes
    path: str  # percent-decoded, as ASGI's scope has it


def origin_form(raw_path: bytes) -> OriginForm | Refusal | None:
    """The path of an absolute-form target (`http://host/path`, without the query,
    which gunicorn has split off), a Refusal for one with an invalid host, or None
    for any other form."""
    if raw_path[:1] == b"/":
        return None  # origin form: nearly every request
    absolute = _ABSOLUTE_FORM(raw_path)
    if absolute is None:
        return None
    authority, path = absolute.group(1), absolute.group(2) or b"/"
    if not authority or not _HOST(authority):
        return BAD_TARGET_HOST
    decoded = unquote_to_bytes(path) if b"%" in path else path
    return OriginForm(authority, path, decoded.decode("utf-8", errors="replace"))
