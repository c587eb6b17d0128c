"""Reading a request body: JSON only, and never more than BODY_MAX_BYTES."""

from __future__ import annotations

import falcon

from flashsale.config import BODY_MAX_BYTES


def read_json_body(req: falcon.Request) -> bytes:
    media_type, _, params = (req.content_type or "").partition(";")
    if media_type.strip().lower() != "application/json":
        raise falcon.HTTPUnsupportedMediaType(
            title="Unsupported media type",
            description="send the body as Content-Type: application/json",
        )
    charset = params.strip().lower()
    if charset and charset.replace(" ", "") not in {"charset=utf-8", "charset=utf8"}:
        raise falcon.HTTPUnsupportedMediaType(
            title="Unsupported charset", description="send the body as UTF-8"
        )
    # Refuse by the declared length before reading anything.
    length = req.content_length
    if length is not None and length > BODY_MAX_BYTES:
        raise _too_large()
    # Without a length (chunked transfer) Falcon's bounded stream reads nothing;
    # gunicorn's own input decodes the chunks, and we still read one byte past
    # the limit at most.
    stream = req.bounded_stream if length is not None else req.stream
    raw = stream.read(BODY_MAX_BYTES + 1)
    if len(raw) > BODY_MAX_BYTES:
        raise _too_large()
    return raw


def _too_large() -> falcon.HTTPContentTooLarge:
    return falcon.HTTPContentTooLarge(
        title="Body too large", description=f"the body may be at most {BODY_MAX_BYTES} bytes"
    )
