"""GET /flash-sale/images/{name}: the product pictures of the images folder.

A catalogue's `imageUrl` may name a file here instead of the web. The same rules
as the UI's files (flashsale.api.ui): the name is one plain segment, resolved
inside the folder with symlinks followed and checked, on a thread; only picture
types are served, and an SVG cannot run a script (its own CSP sandboxes it).
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import re

import falcon
import falcon.asgi

from flashsale.api.problems import NOT_FOUND, HTTPProblem
from flashsale.api.ui import resolve_inside, send_file

PICTURE_SUFFIXES = frozenset({".svg", ".png", ".jpg", ".jpeg", ".webp", ".gif", ".avif"})
PICTURE_CACHE_CONTROL = "public, max-age=300"
# An SVG is a document: opened on its own it must not run scripts or load anything.
PICTURE_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}").fullmatch


class ImagesResource:
    def __init__(self, folder: pathlib.Path) -> None:
        self._folder = folder

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, name: str) -> None:
        if not _PLAIN_NAME(name) or os.path.splitext(name)[1].lower() not in PICTURE_SUFFIXES:
            raise HTTPProblem(NOT_FOUND, f"no picture {name!r}")
        await asyncio.get_running_loop().run_in_executor(None, self._answer, req, resp, name)

    on_head = on_get

    def _answer(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        target = resolve_inside(os.path.realpath(self._folder), [name])
        if target is None:
            raise HTTPProblem(NOT_FOUND, f"no picture {name!r}")
        send_file(req, resp, target, PICTURE_CACHE_CONTROL)
        resp.set_header("Content-Security-Policy", PICTURE_CSP)
