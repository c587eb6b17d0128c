"""GET /problems/{slug}: what a problem type means, as a short HTML page.

A problem's `type` (flashsale.api.problems) is a URI of this service, so that it
resolves to its documentation: a person who follows it reads what happened and
what to do. The pages are built once, from the registry; they are plain HTML
with no script or style of their own, so the pages' Content-Security-Policy
(flashsale.api.security) applies to them as it is.
"""

from __future__ import annotations

import html
import re
from http import HTTPStatus

import falcon
import falcon.asgi

from flashsale.api.problems import NOT_FOUND, PROBLEMS, HTTPProblem, ProblemType

PROBLEM_PAGE_CACHE_CONTROL = "public, max-age=3600"
_CODE = re.compile(r"`([^`]+)`")


def _inline(text: str) -> str:
    """A sentence of the registry as HTML: its `code` spans as <code>."""
    return _CODE.sub(r"<code>\1</code>", html.escape(text, quote=False))


def problem_page(problem: ProblemType) -> bytes:
    reason = HTTPStatus(problem.status).phrase
    title = html.escape(problem.title)
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title} (problem type)</title>\n</head>\n<body>\n"
        f"<h1>{title}</h1>\n"
        f"<p>Problem type <code>{html.escape(problem.uri)}</code>, answered with HTTP "
        f"{problem.status} {html.escape(reason)} as <code>application/problem+json</code> "
        "(RFC 9457).</p>\n"
        f"<p>{_inline(problem.meaning)}</p>\n"
        '<p><a href="/docs">The API\'s documentation</a></p>\n'
        "</body>\n</html>\n"
    ).encode()


class ProblemPagesResource:
    def __init__(self) -> None:
        self.pages = {problem.slug: problem_page(problem) for problem in PROBLEMS}

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, slug: str) -> None:
        page = self.pages.get(slug)
        if page is None:
            raise HTTPProblem(NOT_FOUND, f"no problem type {slug!r}")
        resp.content_type = falcon.MEDIA_HTML
        resp.cache_control = [PROBLEM_PAGE_CACHE_CONTROL]
        resp.data = page
