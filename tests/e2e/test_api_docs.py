"""The API docs page (/docs) in a real browser against a real server.

Swagger UI renders the server's own /openapi.json from a bundle built into webui/dist:
the page must show the API under the same strict Content-Security-Policy as the shop,
and load nothing from any other origin (no CDN, font or validator badge).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from flashsale.api.security import CONTENT_SECURITY_POLICY
from tests.e2e.conftest import publish_for_docs, screenshot

pytestmark = pytest.mark.browser

PURCHASE = '.opblock-post .opblock-summary-path[data-path="/flash-sale/purchase"]'


def expect_api() -> Any:
    from playwright.sync_api import expect

    return expect


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.mark.parametrize("path", ["/docs", "/docs/"])
def test_the_docs_page_renders_the_api_from_this_server_alone(
    start_server: Callable[..., Any], open_page: Callable[..., Any], path: str
) -> None:
    expect = expect_api()
    server = start_server(workers=1)
    served = requests.get(f"{server.url}{path}", timeout=5)
    assert served.headers["Content-Type"] == "text/html; charset=utf-8"
    assert served.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY

    requested: list[str] = []
    page = open_page(server.url + path, requested=requested)
    expect(page).to_have_title("Flash sale · API")
    expect(
        page.get_by_role("heading", level=1, name=re.compile(r"^Flash sale API"))
    ).to_be_visible()
    purchase = page.locator(PURCHASE)
    expect(purchase).to_be_visible()
    # Opened, the operation draws its body's schema and its answers: more of Swagger UI
    # runs (and would trip the CSP, which the console watch turns into a failure).
    purchase.click()
    expect(page.locator(".opblock-post.is-open")).to_contain_text("Buy one unit for a user.")
    expect(page.locator(".opblock-post.is-open .responses-table")).to_contain_text("201")
    artifact = screenshot(
        page, "api-docs" if path == "/docs" else "api-docs-slash", full_page=False
    )
    if path == "/docs":
        publish_for_docs(artifact, "api-docs.png")

    assert f"{server.url}/openapi.json" in requested
    foreign = [url for url in requested if origin(url) != server.url]
    assert foreign == [], f"the docs page reached beyond its server: {foreign}"


def test_the_shop_links_to_the_docs_and_loads_none_of_them(
    start_server: Callable[..., Any], open_page: Callable[..., Any]
) -> None:
    expect = expect_api()
    server = start_server(workers=1)
    requested: list[str] = []
    page = open_page(server.url + "/", requested=requested)
    expect(page.get_by_test_id("sale-state")).to_have_attribute("data-state", "open")
    shop_assets = {urlsplit(url).path for url in requested if "/assets/" in url}

    page.get_by_role("link", name="API").click()
    expect(page).to_have_url(f"{server.url}/docs")
    expect(page.locator(PURCHASE)).to_be_visible()
    docs_assets = {urlsplit(url).path for url in requested if "/assets/" in url} - shop_assets
    # The docs' own script (Swagger UI) and stylesheet: none of it came with the shop.
    assert any(path.endswith(".js") for path in docs_assets), docs_assets
    assert any(path.endswith(".css") for path in docs_assets), docs_assets

    page.get_by_role("link", name="Shop").click()
    expect(page.get_by_test_id("sale-state")).to_have_attribute("data-state", "open")
