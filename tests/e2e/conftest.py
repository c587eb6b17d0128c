"""Browser fixtures: Debian's chromium driven by Playwright, against a real server.

The tests skip (with the reason) only when the browser or the built UI is missing;
CI installs chromium and runs `npm --prefix webui run build` first. No browser is
ever downloaded: Playwright launches /usr/bin/chromium.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.server import REPO_ROOT, ServerProcess

CHROMIUM = Path(os.environ.get("FLASHSALE_CHROMIUM", "/usr/bin/chromium"))
UI_DIST = REPO_ROOT / "webui" / "dist"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DOCS_SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EXPECT_TIMEOUT_MS = 15_000
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# Chromium logs every 4xx/5xx answer to fetch() or EventSource as a console error.
# These are ordinary answers, which the page turns into messages or a fallback: the
# purchase endpoints' to a shopper (invalid id, not started or ended, no order yet,
# already bought, sold out, rate limited, busy), and the event stream's refusal
# (the server holds as many streams as it may, or is starting: the page polls).
# Any other path, or status, fails the test.
EXPECTED_API_ANSWERS = {
    "/flash-sale/purchase": {400, 403, 404, 409, 410, 413, 415, 429, 503},
    "/flash-sale/events": {503},
    # A server with FLASHSALE_OPERATOR_TOKEN: the dashboard then asks for it, and a
    # wrong token is refused (RFC 6750: 401 for no token and for a wrong one).
    "/flash-sale/metrics": {401},
    "/flash-sale/health": {401},
    # The admin page: a wrong token is refused, and a new sale while one is in
    # progress is refused (409) until the operator chooses to replace it.
    "/flash-sale/admin/sales": {401, 409},
}


def _skip_reason() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if not (UI_DIST / "index.html").is_file():
        return f"{UI_DIST} is not built (npm ci --prefix webui && npm --prefix webui run build)"
    return None


# Package scope: Playwright's sync API keeps an event loop running in the main
# thread while it is open, and tests after these ones run their own loops.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install playwright==1.65.2")
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class ConsoleWatch:
    """Console errors and uncaught page errors seen during a test."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def on_console(self, message: Any) -> None:
        if message.type not in ("error", "warning"):
            return
        if message.type == "error" and self._expected_api_answer(message):
            return
        self.problems.append(f"console.{message.type}: {message.text} @ {message.location}")

    def on_page_error(self, error: Any) -> None:
        self.problems.append(f"page error: {error}")

    @staticmethod
    def _expected_api_answer(message: Any) -> bool:
        text = message.text
        if not text.startswith("Failed to load resource: the server responded with a status of"):
            return False
        status = int(text.split("status of", 1)[1].split()[0])
        path = urlsplit(message.location.get("url", "")).path
        return any(
            path.startswith(prefix) and status in statuses
            for prefix, statuses in EXPECTED_API_ANSWERS.items()
        )


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """start_server(env={...}) -> a running server, stopped after the test's pages closed.

    A fixture rather than `running_server` inside the test, so that teardown closes
    the pages first: a page still polling a stopping server would log errors.
    """
    servers: list[ServerProcess] = []

    def start(env: dict[str, str] | None = None, workers: int = 2) -> ServerProcess:
        server = ServerProcess(tmp_path / f"sale-{len(servers)}.db", workers=workers, env=env)
        servers.append(server)
        return server.start()

    yield start
    try:
        for server in servers:
            server.stop()
    finally:
        for server in servers:
            server.kill_group()


@pytest.fixture
def open_page(browser: Any, start_server: Any) -> Iterator[Callable[..., Any]]:
    """open_page(url, viewport=DESKTOP, requested=None) -> page; fails the test on any
    console error. `requested`, a list, gets the URL of every request the page makes,
    from its first.

    Depends on start_server so that its pages close before the servers stop.
    """
    contexts = []
    watch = ConsoleWatch()

    def open_(
        url: str, viewport: dict[str, int] = DESKTOP, requested: list[str] | None = None
    ) -> Any:
        context = browser.new_context(viewport=viewport, locale="en-GB", timezone_id="UTC")
        contexts.append(context)
        page = context.new_page()
        page.on("console", watch.on_console)
        page.on("pageerror", watch.on_page_error)
        if requested is not None:
            page.on("request", lambda request: requested.append(request.url))
        page.goto(url)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert watch.problems == [], "\n".join(watch.problems)


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save the page as tests/e2e/artifacts/<name>.png (and return the path)."""
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    return path


def updating_docs() -> bool:
    """FLASHSALE_UPDATE_DOCS_SCREENSHOTS=1 refreshes the README's pictures in docs/screenshots/."""
    return os.environ.get("FLASHSALE_UPDATE_DOCS_SCREENSHOTS") == "1"


def publish_for_docs(artifact: Path, name: str) -> None:
    """When updating_docs(), copy a screenshot to docs/screenshots/<name>."""
    if updating_docs():
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(artifact, DOCS_SCREENSHOTS / name)
