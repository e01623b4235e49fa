"""The gateway's own pages in a real browser, with every request off the gateway aborted:
/docs and /redoc render from the vendored assets, `/` is the client under its CSP, and the
API's unknown paths are still JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING

from api_gateway.web_client import INDEX_HTML
from tests.browser.conftest import PageLog, Screenshot, Web

if TYPE_CHECKING:
    from playwright.sync_api import Page

CLIENT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


def test_swagger_ui_renders_offline(
    page: Page, page_log: PageLog, screenshot: Screenshot
) -> None:
    from playwright.sync_api import expect

    response = page.goto("/docs")
    assert response is not None
    assert response.status == 200
    # Swagger UI has fetched /openapi.json and drawn every operation.
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/auth/login")).to_be_visible()
    assert page.locator(".opblock").count() > 30
    expect(page.locator(".information-container .title")).to_contain_text("microfinance API")
    screenshot(page, "api-docs-swagger")
    assert page_log.blocked == [], "the docs page tried to load from outside the gateway"
    assert page_log.errors == []


def test_redoc_renders_offline(page: Page, page_log: PageLog) -> None:
    from playwright.sync_api import expect

    response = page.goto("/redoc")
    assert response is not None
    assert response.status == 200
    expect(page.locator("h1", has_text="microfinance API")).to_be_visible()
    # Each operation is a section headed by its summary, with its path below.
    expect(page.locator("h2", has_text="Log in with email and password")).to_be_visible()
    expect(page.get_by_text("/api/v1/auth/login").first).to_be_attached()
    assert page_log.blocked == [], "ReDoc tried to load from outside the gateway"
    # ReDoc's "API docs by Redocly" badge points at a logo on its CDN; the page's policy
    # refuses it (no request is made) and that is the only complaint allowed.
    assert [e for e in page_log.errors if "cdn.redoc.ly/redoc/logo-mini.svg" not in e] == []


def test_root_is_the_client_under_its_csp(page: Page, web: Web, page_log: PageLog) -> None:
    response = page.goto("/")
    assert response is not None
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CLIENT_CSP
    assert response.text() == INDEX_HTML.read_text(encoding="utf-8")
    # A deep link opens the same page; the client's router takes it from there.
    deep = page.goto("/borrowers/123")
    assert deep is not None
    assert deep.status == 200
    assert deep.text() == INDEX_HTML.read_text(encoding="utf-8")
    assert page_log.blocked == []
    assert [e for e in page_log.errors if "Content Security Policy" in e] == []


def test_unknown_api_paths_stay_json_404(page: Page) -> None:
    r = page.request.get("/api/v1/nope")
    assert r.status == 404
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"]["code"] == "NOT_FOUND"
