"""Headers that keep browsers from misreading, framing or leaking what we answer.

Every answer: `X-Content-Type-Options: nosniff` (a JSON body is never run as a
script or shown as a page) and `Referrer-Policy: no-referrer`. HTML pages also
get a Content-Security-Policy that allows only the build's own files, and no
framing (`frame-ancestors 'none'`, and `X-Frame-Options` for older browsers):
the Buy button cannot be put under someone else's page (clickjacking).
"""

from __future__ import annotations

import falcon
import falcon.asgi

EVERY_ANSWER = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
# React sets style props through the DOM (allowed by style-src 'self'); the
# event stream and the API are on this origin. Product pictures may come from
# any https origin (a catalogue's imageUrl): a picture cannot run a script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HTML_PAGES = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Frame-Options": "DENY"}
# The same, for answers written without Falcon (the event streams, gunicorn's errors).
RAW_EVERY_ANSWER = [(name.lower().encode(), value.encode()) for name, value in EVERY_ANSWER.items()]


class SecurityHeaders:
    async def process_response(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        resource: object,
        req_succeeded: bool,
    ) -> None:
        resp.set_headers(EVERY_ANSWER)
        if (resp.content_type or "").startswith("text/html"):
            resp.set_headers(HTML_PAGES)
