"""register_ui: the built web UI served by the Falcon app, over a temporary build folder."""

from __future__ import annotations

import os
from pathlib import Path

import falcon
import falcon.asgi
import falcon.testing
import pytest

from flashsale.api import error_handlers
from flashsale.api.problems import UI_NOT_BUILT
from flashsale.api.ui import (
    IMMUTABLE_CACHE_CONTROL,
    NOT_BUILT_DETAIL,
    REVALIDATE_CACHE_CONTROL,
    register_ui,
)

INDEX_HTML = "<!doctype html><title>Flash sale</title><div id=root></div>"
DOCS_HTML = "<!doctype html><title>Flash sale · API</title><main id=api-docs></main>"
ASSET_JS = "console.log('app');"
SECRET = "top secret, outside the build folder"


class ApiStubResource:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"state": "open"}


@pytest.fixture
def build_dir(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX_HTML)
    (dist / "docs.html").write_text(DOCS_HTML)
    (dist / "assets" / "index-Abc123.js").write_text(ASSET_JS)
    (dist / "assets" / "index-Def456.css").write_text("body{margin:0}")
    (dist / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text(SECRET)
    return dist


def make_client(build_dir: Path) -> falcon.testing.TestClient:
    app = falcon.asgi.App()
    error_handlers.install(app)
    app.add_route("/flash-sale/status", ApiStubResource())
    register_ui(app, build_dir)
    return falcon.testing.TestClient(app)


@pytest.fixture
def client(build_dir: Path) -> falcon.testing.TestClient:
    return make_client(build_dir)


def test_root_serves_index_not_cached(client: falcon.testing.TestClient) -> None:
    result = client.simulate_get("/")
    assert result.status_code == 200
    assert result.text == INDEX_HTML
    assert result.headers["Content-Type"] == "text/html; charset=utf-8"
    assert result.headers["Cache-Control"] == REVALIDATE_CACHE_CONTROL
    assert result.headers["ETag"]


def test_hashed_asset_is_cached_for_a_year(client: falcon.testing.TestClient) -> None:
    result = client.simulate_get("/assets/index-Abc123.js")
    assert result.status_code == 200
    assert result.text == ASSET_JS
    assert result.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert result.headers["Cache-Control"] == IMMUTABLE_CACHE_CONTROL
    assert result.headers["Content-Length"] == str(len(ASSET_JS))

    css = client.simulate_get("/assets/index-Def456.css")
    assert css.headers["Content-Type"] == "text/css; charset=utf-8"


def test_top_level_file_has_its_type_and_is_revalidated(
    client: falcon.testing.TestClient,
) -> None:
    result = client.simulate_get("/favicon.svg")
    assert result.status_code == 200
    assert result.headers["Content-Type"] == "image/svg+xml"
    assert result.headers["Cache-Control"] == REVALIDATE_CACHE_CONTROL


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/", "/some/deep/route"])
def test_client_side_routes_fall_back_to_index(
    client: falcon.testing.TestClient, path: str
) -> None:
    result = client.simulate_get(path)
    assert result.status_code == 200
    assert result.text == INDEX_HTML
    assert result.headers["Cache-Control"] == REVALIDATE_CACHE_CONTROL


@pytest.mark.parametrize("path", ["/docs", "/docs/"])
def test_docs_is_its_own_page(client: falcon.testing.TestClient, path: str) -> None:
    result = client.simulate_get(path)
    assert result.status_code == 200
    assert result.text == DOCS_HTML
    assert result.headers["Content-Type"] == "text/html; charset=utf-8"
    assert result.headers["Cache-Control"] == REVALIDATE_CACHE_CONTROL


def test_below_docs_is_a_client_side_route(client: falcon.testing.TestClient) -> None:
    assert client.simulate_get("/docs/elsewhere").text == INDEX_HTML


def test_a_build_without_the_docs_page_answers_docs_with_index(build_dir: Path) -> None:
    (build_dir / "docs.html").unlink()
    result = make_client(build_dir).simulate_get("/docs")
    assert result.status_code == 200
    assert result.text == INDEX_HTML


@pytest.mark.parametrize("path", ["/assets/missing-Zzz999.js", "/robots.txt", "/a/b.png"])
def test_missing_files_are_404_not_html(client: falcon.testing.TestClient, path: str) -> None:
    result = client.simulate_get(path)
    assert result.status_code == 404
    assert INDEX_HTML not in result.text
    assert "immutable" not in result.headers.get("Cache-Control", "")


@pytest.mark.parametrize("path", ["/flash-sale/nope", "/flash-sale", "/metrics/x"])
def test_unknown_api_paths_are_not_answered_with_the_ui(
    client: falcon.testing.TestClient, path: str
) -> None:
    result = client.simulate_get(path)
    assert result.status_code == 404
    assert INDEX_HTML not in result.text


def test_api_routes_still_win(client: falcon.testing.TestClient) -> None:
    assert client.simulate_get("/flash-sale/status").json == {"state": "open"}


def test_conditional_get_with_etag(client: falcon.testing.TestClient) -> None:
    first = client.simulate_get("/assets/index-Abc123.js")
    etag = first.headers["ETag"]
    again = client.simulate_get("/assets/index-Abc123.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == IMMUTABLE_CACHE_CONTROL

    weak = client.simulate_get("/", headers={"If-None-Match": "W/" + etag})
    assert weak.status_code == 200  # the index has a different tag

    index_etag = client.simulate_get("/").headers["ETag"]
    assert client.simulate_get("/", headers={"If-None-Match": index_etag}).status_code == 304
    stale = client.simulate_get("/", headers={"If-None-Match": '"stale"'})
    assert stale.status_code == 200
    assert stale.text == INDEX_HTML


def test_conditional_get_with_last_modified(client: falcon.testing.TestClient) -> None:
    first = client.simulate_get("/")
    last_modified = first.headers["Last-Modified"]
    again = client.simulate_get("/", headers={"If-Modified-Since": last_modified})
    assert again.status_code == 304


def test_index_change_changes_etag(client: falcon.testing.TestClient, build_dir: Path) -> None:
    before = client.simulate_get("/").headers["ETag"]
    index = build_dir / "index.html"
    index.write_text(INDEX_HTML + "<!-- rebuilt -->")
    stat = index.stat()
    os.utime(index, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    after = client.simulate_get("/", headers={"If-None-Match": before})
    assert after.status_code == 200
    assert after.headers["ETag"] != before


def test_head_has_headers_and_no_body(client: falcon.testing.TestClient) -> None:
    result = client.simulate_head("/assets/index-Abc123.js")
    assert result.status_code == 200
    assert result.content == b""
    assert result.headers["Content-Length"] == str(len(ASSET_JS))
    assert result.headers["Cache-Control"] == IMMUTABLE_CACHE_CONTROL


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_only_get_and_head(client: falcon.testing.TestClient, method: str) -> None:
    result = client.simulate_request(method, "/dashboard")
    assert result.status_code == 405
    assert "GET" in result.headers["Allow"]


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/assets/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/..%2fsecret.txt",
        "/..%5csecret.txt",
        "/a%5c..%5c..%5csecret.txt",
        "/.%2e/secret.txt",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/index.html%00.js",
        "/assets/index-Abc123.js%00",
        "/dashboard%00",
        "/.env",
        "/" + "a/" * 300,
    ],
)
def test_traversal_attempts_are_404(client: falcon.testing.TestClient, path: str) -> None:
    result = client.simulate_get(path)
    assert result.status_code == 404
    assert SECRET not in result.text
    assert INDEX_HTML not in result.text


@pytest.mark.parametrize("path", ["//etc/passwd", "/etc/passwd", "///secret.txt"])
def test_absolute_looking_paths_stay_inside(client: falcon.testing.TestClient, path: str) -> None:
    result = client.simulate_get(path)
    assert SECRET not in result.text
    assert "root:" not in result.text
    # Joined below the build folder: a route-like path gets the shell, a file-like one 404.
    assert result.status_code in (200, 404)
    if result.status_code == 200:
        assert result.text == INDEX_HTML


def test_symlink_leaving_the_folder_is_refused(build_dir: Path) -> None:
    secret = build_dir.parent / "secret.txt"
    (build_dir / "assets" / "leak.js").symlink_to(secret)
    (build_dir / "leak").symlink_to(secret)
    (build_dir / "outside").symlink_to(build_dir.parent, target_is_directory=True)
    client = make_client(build_dir)

    for path in ("/assets/leak.js", "/outside/secret.txt"):
        result = client.simulate_get(path)
        assert result.status_code == 404, path
        assert SECRET not in result.text

    # A route-like name that is a symlink out gets the app shell, never the target.
    result = client.simulate_get("/leak")
    assert SECRET not in result.text
    assert result.text == INDEX_HTML


def test_symlink_inside_the_folder_is_served(build_dir: Path) -> None:
    (build_dir / "assets" / "alias.js").symlink_to(build_dir / "assets" / "index-Abc123.js")
    result = make_client(build_dir).simulate_get("/assets/alias.js")
    assert result.status_code == 200
    assert result.text == ASSET_JS


def test_directory_is_not_listed(client: falcon.testing.TestClient) -> None:
    result = client.simulate_get("/assets")
    # Not a file: treated as a client-side route, so the app shell, never a listing.
    assert result.text == INDEX_HTML
    assert client.simulate_get("/assets/").status_code == 404


def test_missing_build_answers_503_json(tmp_path: Path) -> None:
    client = make_client(tmp_path / "not-built")
    for path in ("/", "/dashboard", "/assets/index-Abc123.js"):
        result = client.simulate_get(path)
        assert result.status_code == 503, path
        assert result.json == UI_NOT_BUILT.document(NOT_BUILT_DETAIL)
        assert result.headers["Content-Type"] == "application/problem+json"
        assert result.headers["Cache-Control"] == "no-store"
    # The API is untouched.
    assert client.simulate_get("/flash-sale/status").status_code == 200


def test_build_appearing_later_is_served(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    client = make_client(dist)
    assert client.simulate_get("/").status_code == 503
    dist.mkdir()
    (dist / "index.html").write_text(INDEX_HTML)
    (dist / "docs.html").write_text(DOCS_HTML)
    assert client.simulate_get("/").text == INDEX_HTML
