"""Serve the built React UI (``webui/dist``) from the Falcon app, as a catch-all sink.

Why not ``falcon.App.add_static_route`` (4.4.0): it sets no Cache-Control, it
follows symlinks that leave the folder, its ``fallback_filename`` would answer a
missing ``/assets/x.js`` with HTML (which the immutable header would then pin in
caches), it refuses to register when the build folder does not exist yet, and it
serves every method. The few lines below do what it does (ETag, conditional GET,
content types) plus those rules.

Rules, for every path the API did not match:
- ``/flash-sale/...``, ``/metrics...`` and ``/problems/...`` stay 404: an unknown API path
  never gets HTML;
- only GET and HEAD;
- a file inside the build folder is served; ``/assets/*`` (content-hashed by Vite)
  is cached for a year, anything else (``index.html``, favicon) is revalidated;
- ``/docs`` (and ``/docs/``) is the API's docs page, its own Vite entry: ``docs.html``;
- a missing path without a file extension is a client-side route: ``index.html``;
- a missing ``/assets/*`` or ``name.ext`` is 404;
- no path resolves outside the build folder: ``..`` and dot segments, backslashes,
  NUL and control characters are 404 before any file system call, segments are
  joined below the folder (so ``//etc/passwd`` stays inside), and a symlink that
  points out is not followed;
- no build folder (or no ``index.html`` in it): 503, a problem saying how to build;
- every file-system call runs on a thread: a disk may stall, the event loop must not.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import stat
from datetime import UTC, datetime

import falcon
import falcon.asgi

from flashsale.api.problems import UI_NOT_BUILT, HTTPProblem

API_PREFIXES = ("/flash-sale", "/metrics", "/problems")
ASSETS_PREFIX = "/assets/"
INDEX_FILENAME = "index.html"
# Pages built as their own Vite entry (webui/vite.config.ts), by the path that shows them.
ENTRY_PAGES = {"/docs": "docs.html"}
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"
REVALIDATE_CACHE_CONTROL = "no-cache"
MAX_PATH_CHARS = 512
NOT_BUILT_DETAIL = "run ./start.sh or npm --prefix webui run build"
# Vite emits these; anything else falls back to falcon's table (built from mimetypes).
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
    ".webmanifest": "application/manifest+json",
}


def register_ui(
    app: falcon.asgi.App[falcon.asgi.Request, falcon.asgi.Response], build_dir: pathlib.Path
) -> None:
    """Answer every path the API routes do not match with the built UI."""
    app.add_sink(UIStaticSink(build_dir), prefix="/")


class UIStaticSink:
    """Catch-all responder for the built single-page app."""

    def __init__(self, build_dir: pathlib.Path) -> None:
        # Resolved on each request: the folder may be (re)built while the server runs.
        self._build_dir = pathlib.Path(build_dir)

    async def __call__(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response | None,
        ws: falcon.asgi.WebSocket | None = None,
        **_params: str,
    ) -> None:
        # Taking `ws` makes Falcon pass a WebSocket request as resp=None (else it
        # passes the WebSocket as resp): no path of this service is a WebSocket.
        if resp is None:
            raise falcon.HTTPNotFound()
        path = req.path
        if _is_api_path(path):
            raise falcon.HTTPNotFound(
                description=f"no such path in this API: {path}; see README.md, API"
            )
        if req.method not in ("GET", "HEAD"):
            raise falcon.HTTPMethodNotAllowed(["GET", "HEAD"])
        # The loop waits for the thread; nothing else touches req or resp meanwhile.
        await asyncio.get_running_loop().run_in_executor(None, self._answer, req, resp)

    def _answer(self, req: falcon.Request, resp: falcon.Response) -> None:
        path = req.path
        root = os.path.realpath(self._build_dir)
        index = os.path.join(root, INDEX_FILENAME)
        if not os.path.isfile(index):
            raise _not_built()

        segments = _safe_segments(path)
        if segments is None:
            raise falcon.HTTPNotFound()
        target = resolve_inside(root, segments)
        if target is not None:
            if path.startswith(ASSETS_PREFIX):
                cache_control = IMMUTABLE_CACHE_CONTROL
            else:
                cache_control = REVALIDATE_CACHE_CONTROL
            send_file(req, resp, target, cache_control)
        elif path.startswith(ASSETS_PREFIX) or _names_a_file(path):
            raise falcon.HTTPNotFound()
        else:
            page = ENTRY_PAGES.get(path.rstrip("/"))
            entry = resolve_inside(root, [page]) if page else None
            send_file(req, resp, entry or index, REVALIDATE_CACHE_CONTROL)


def _is_api_path(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in API_PREFIXES)


def _names_a_file(path: str) -> bool:
    """A last segment with an extension asks for a file, not a client-side route."""
    return "." in path.rsplit("/", 1)[-1]


def _safe_segments(url_path: str) -> list[str] | None:
    """The path's segments, or None for a path no build file can have (refused with 404)."""
    if len(url_path) > MAX_PATH_CHARS or "\\" in url_path:
        return None
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in url_path):
        return None
    segments = [segment for segment in url_path.split("/") if segment]
    # Dot segments and dotfiles are never part of a Vite build; refusing them up front
    # means `..` cannot climb even before the realpath check in resolve_inside.
    if any(segment.startswith(".") for segment in segments):
        return None
    return segments


def resolve_inside(root: str, segments: list[str]) -> str | None:
    """The real path of the regular file `segments` names inside `root`, else None."""
    if not segments:
        return None
    real = os.path.realpath(os.path.join(root, *segments))
    # realpath follows symlinks, so a link pointing out of the folder fails here.
    if os.path.commonpath([root, real]) != root or real == root:
        return None
    if not os.path.isfile(real):
        return None
    return real


def send_file(req: falcon.Request, resp: falcon.Response, file_path: str, cache: str) -> None:
    try:
        fd = os.open(file_path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        raise falcon.HTTPNotFound() from None
    file = os.fdopen(fd, "rb")
    st = os.fstat(file.fileno())
    if not stat.S_ISREG(st.st_mode):
        file.close()
        raise falcon.HTTPNotFound()

    etag = f"{st.st_mtime_ns:x}-{st.st_size:x}"
    last_modified = datetime.fromtimestamp(int(st.st_mtime), UTC)
    resp.etag = etag
    resp.last_modified = last_modified
    resp.set_header("Cache-Control", cache)

    if _is_not_modified(req, etag, last_modified):
        file.close()
        resp.status = falcon.HTTP_304
        return

    suffix = os.path.splitext(file_path)[1].lower()
    resp.content_type = MEDIA_TYPES.get(
        suffix, resp.options.static_media_types.get(suffix, "application/octet-stream")
    )
    with file:
        if req.method == "HEAD":
            resp.content_length = st.st_size
        else:
            resp.data = file.read()  # built files are small: whole, while on this thread


def _is_not_modified(req: falcon.Request, etag: str, last_modified: datetime) -> bool:
    # RFC 9110 13.1.3: If-Modified-Since is ignored when If-None-Match is present, and
    # If-None-Match uses the weak comparison.
    if req.if_none_match is not None:
        return any(tag == "*" or tag == etag for tag in req.if_none_match)
    if req.if_modified_since is not None:
        return last_modified <= req.if_modified_since
    return False


def _not_built() -> HTTPProblem:
    return HTTPProblem(UI_NOT_BUILT, NOT_BUILT_DETAIL, headers={"Cache-Control": "no-store"})
