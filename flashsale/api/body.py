"""Reading a request body: JSON only, as it is (no content coding), and never
more than BODY_MAX_BYTES."""

from __future__ import annotations

import falcon
import falcon.asgi

from flashsale.api.problems import PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, HTTPProblem
from flashsale.config import BODY_MAX_BYTES

MERGE_PATCH = "application/merge-patch+json"


async def read_json_body(req: falcon.asgi.Request, *, merge_patch: bool = False) -> bytes:
    """The body, as it is; `merge_patch`: application/merge-patch+json (RFC 7396) too."""
    content_type = req.content_type
    if content_type != "application/json":  # else the exact type every client sends
        _check_json_content_type(content_type or "", merge_patch=merge_patch)
    coding = req.get_header("Content-Encoding")
    if coding is not None:
        _check_no_content_coding(coding)
    # Refuse by the declared length before reading anything.
    length = req.content_length
    if length is not None and length > BODY_MAX_BYTES:
        raise _too_large()
    # A chunked body has no declared length: read one byte past the limit at
    # most. The body is whole: the server runs no request on a body it did not
    # get whole (flashsale.serving.protocol).
    raw = await req.stream.read(BODY_MAX_BYTES + 1)
    if len(raw) > BODY_MAX_BYTES:
        raise _too_large()
    return raw


def _check_json_content_type(content_type: str, *, merge_patch: bool) -> None:
    media_type, _, params = content_type.partition(";")
    accepted = ("application/json", MERGE_PATCH) if merge_patch else ("application/json",)
    if media_type.strip().lower() not in accepted:
        raise HTTPProblem(
            UNSUPPORTED_MEDIA_TYPE, f"send the body as Content-Type: {' or '.join(accepted)}"
        )
    charset = params.strip().lower()
    if charset and charset.replace(" ", "") not in {"charset=utf-8", "charset=utf8"}:
        raise HTTPProblem(UNSUPPORTED_MEDIA_TYPE, "send the body as UTF-8")


def _check_no_content_coding(coding: str) -> None:
    """RFC 9110 (8.4.1): a body in a coding the server does not take gets 415;
    RFC 7694: with Accept-Encoding naming the one it takes. A gzip body read as
    JSON would be "not UTF-8", and a plain one labelled gzip would be read as if
    it were not labelled at all."""
    if any(name.strip().lower() not in ("identity", "") for name in coding.split(",")):
        raise HTTPProblem(
            UNSUPPORTED_MEDIA_TYPE,
            "send the body as it is, without a Content-Encoding",
            headers={"Accept-Encoding": "identity"},
        )


def _too_large() -> HTTPProblem:
    return HTTPProblem(PAYLOAD_TOO_LARGE, f"the body may be at most {BODY_MAX_BYTES} bytes")
