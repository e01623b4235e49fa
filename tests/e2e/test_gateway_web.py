"""The gateway serves the web client: /static, the index.html fallback for client routes,
and the docs pages with their assets from the package (no CDN)."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest

from api_gateway import web_client
from api_gateway.middleware import API_CSP, CLIENT_CSP, DOCS_CSP
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

CONTRACT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
PLACEHOLDER = "<!doctype html><title>client</title><p>placeholder client page</p>\n"


@pytest.fixture
def index_html(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A placeholder index.html, so these tests do not depend on the client's own page."""
    page = tmp_path / "index.html"
    page.write_text(PLACEHOLDER)
    monkeypatch.setattr(web_client, "INDEX_HTML", page)
    return PLACEHOLDER


def test_the_client_policy_is_the_contracts() -> None:
    assert CLIENT_CSP == CONTRACT_CSP


@pytest.mark.parametrize(
    "path", ["/", "/login", "/borrowers/123", "/borrowers/123/edit", "/admin/eod", "/x.y"]
)
async def test_client_paths_answer_index_html(stack: Stack, index_html: str, path: str) -> None:
    r = await stack.client.get(path, params={"borrower": "b-1"})
    assert r.status_code == 200, r.text
    assert r.text == index_html
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == CONTRACT_CSP
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["x-frame-options"] == "DENY"
    head = await stack.client.head(path)
    assert head.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/nope", 404),
        ("GET", "/api", 404),
        ("GET", "/api/v2/borrowers", 404),
        ("GET", "/static/nope.js", 404),
        ("GET", "/docs/nope", 404),
        ("GET", "/metrics", 404),
        ("GET", "/metrics/", 404),
        ("GET", "/readyz/x", 404),
        ("POST", "/api/v1/nope", 404),
        # Only GET/HEAD reach the client: other methods on client paths stay plain 404s.
        ("POST", "/borrowers/123", 404),
        ("DELETE", "/", 404),
    ],
)
async def test_server_paths_keep_their_json_errors(
    stack: Stack, index_html: str, method: str, path: str, status: int
) -> None:
    r = await stack.client.request(method, path)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"]["code"] == "NOT_FOUND"
    if not path.startswith("/docs"):
        assert r.headers["content-security-policy"] == API_CSP


async def test_reserved_paths_are_not_the_client(stack: Stack, index_html: str) -> None:
    for path in ("/healthz", "/openapi.json", "/docs", "/redoc"):
        r = await stack.client.get(path)
        assert r.status_code == 200, path
        assert index_html not in r.text, path


async def test_without_an_index_html_the_fallback_is_a_json_404(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_client, "INDEX_HTML", tmp_path / "absent.html")
    r = await stack.client.get("/borrowers")
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "the web client is not installed"


async def test_static_assets_are_served_with_revalidation(stack: Stack) -> None:
    r = await stack.client.get("/static/vendor/chartjs/chart.umd.min.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert r.headers["cache-control"] == "no-cache"
    etag = r.headers["etag"]
    again = await stack.client.get(
        "/static/vendor/chartjs/chart.umd.min.js", headers={"If-None-Match": etag}
    )
    assert again.status_code == 304
    css = await stack.client.get("/static/vendor/swagger-ui/swagger-ui.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")


async def test_docs_pages_load_only_vendored_assets(stack: Stack) -> None:
    for path, assets in (
        ("/docs", ["swagger-ui/swagger-ui-bundle.js", "swagger-ui/swagger-ui.css"]),
        ("/redoc", ["redoc/redoc.standalone.js"]),
    ):
        page = await stack.client.get(path)
        assert page.status_code == 200
        assert "https://" not in page.text.replace("https://github.com", "")
        for asset in assets:
            assert f'"/static/vendor/{asset}"' in page.text
            r = await stack.client.get(f"/static/vendor/{asset}")
            assert r.status_code == 200, asset
    redirect = await stack.client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200
    assert "oauth2" in redirect.text


@pytest.mark.parametrize(
    ("path", "inline_scripts"), [("/docs", 1), ("/docs/oauth2-redirect", 1), ("/redoc", 0)]
)
async def test_docs_inline_scripts_run_by_hash_only(
    stack: Stack, path: str, inline_scripts: int
) -> None:
    r = await stack.client.get(path)
    csp = r.headers["content-security-policy"]
    script_src = next(d for d in csp.split("; ") if d.startswith("script-src "))
    assert "unsafe-inline" not in script_src
    hashes = re.findall(r"'sha256-([A-Za-z0-9+/=]+)'", script_src)
    assert len(hashes) == inline_scripts
    for body in re.findall(r"<script>(.*?)</script>", r.text, re.S):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert digest in hashes
    assert csp == DOCS_CSP.replace("script-src 'self'", script_src, 1)
