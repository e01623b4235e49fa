"""Serving the web client and the API docs from the package, with nothing from a CDN.

- ``/static/*``: the client's ES modules, CSS and the pinned vendor assets (api_gateway/web/static).
- ``/docs`` and ``/redoc``: Swagger UI and ReDoc, loading their scripts from /static/vendor.
- Any other GET that is not an API, docs or probe path answers the client's index.html, so a
  deep link such as /borrowers/123 opens the client, whose router shows the page (or its own
  "not found"). Unknown /api paths keep their JSON 404.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.types import Scope

from api_gateway.errors import error_response
from api_gateway.middleware import CLIENT_CSP, DOCS_CSP

WEB_DIR = Path(__file__).parent / "web"
STATIC_DIR = WEB_DIR / "static"
INDEX_HTML = WEB_DIR / "index.html"
VENDOR_URL = "/static/vendor"

DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
REDOC_URL = "/redoc"

# Paths that never fall back to the client: the API, its docs, assets and probes, with
# anything below them (so /metrics/ is no redirect to a client page either).
_RESERVED_ROOTS = frozenset(
    {"api", "static", "docs", "redoc", "openapi.json", "healthz", "readyz", "metrics"}
)
_RESERVED_PREFIXES = ("/docs", "/healthz")


def is_client_path(path: str) -> bool:
    """True for paths the client's router owns (everything not reserved for the server)."""
    root = path.split("/", 2)[1] if path.startswith("/") else path
    return root not in _RESERVED_ROOTS and not path.startswith(_RESERVED_PREFIXES)


class _ClientRoute(Route):
    """Matches GET/HEAD on client paths only, so other methods and reserved paths fall
    through to the router's plain 404 (never a 405 from this catch-all)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (
            scope["type"] == "http"
            and scope.get("method") in ("GET", "HEAD")
            and is_client_path(scope.get("path", ""))
        ):
            return super().matches(scope)
        return Match.NONE, {}


async def _index(request: Request) -> Response:
    if not INDEX_HTML.is_file():
        return error_response(404, "NOT_FOUND", "the web client is not installed")
    return FileResponse(
        INDEX_HTML,
        media_type="text/html",
        headers={"Content-Security-Policy": CLIENT_CSP, "Cache-Control": "no-cache"},
    )


_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def with_script_hashes(page: HTMLResponse) -> HTMLResponse:
    """The page under DOCS_CSP, its inline bootstrap scripts allowed by hash (not by
    'unsafe-inline'): any other inline script, injected or not, is refused."""
    html = bytes(page.body).decode()
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in _INLINE_SCRIPT.findall(html)
    )
    csp = DOCS_CSP.replace("script-src 'self'", f"script-src 'self' {hashes}".rstrip(), 1)
    return HTMLResponse(html, headers={"Content-Security-Policy": csp})


def _docs_pages(app: FastAPI) -> dict[str, HTMLResponse]:
    """The three docs pages; fixed for the app's life, so built once."""
    openapi_url = app.openapi_url or "/openapi.json"
    return {
        DOCS_URL: get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
            swagger_js_url=f"{VENDOR_URL}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{VENDOR_URL}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{VENDOR_URL}/swagger-ui/favicon-32x32.png",
            # No "valid" badge fetched from validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        ),
        OAUTH2_REDIRECT_URL: get_swagger_ui_oauth2_redirect_html(),
        REDOC_URL: get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{VENDOR_URL}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{VENDOR_URL}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,
        ),
    }


def _fixed_page(body: bytes, csp: str) -> Callable[[Request], Awaitable[Response]]:
    async def serve(request: Request) -> Response:
        return HTMLResponse(body, headers={"Content-Security-Policy": csp})

    return serve


def _install_docs(app: FastAPI) -> None:
    for path, page in _docs_pages(app).items():
        hashed = with_script_hashes(page)
        endpoint = _fixed_page(bytes(hashed.body), hashed.headers["Content-Security-Policy"])
        app.add_route(path, endpoint, methods=["GET", "HEAD"], include_in_schema=False)


def install_web(app: FastAPI) -> None:
    """Add the docs, /static and the client fallback. Call after every API router, so the
    fallback is the last route."""
    _install_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.router.routes.append(
        _ClientRoute("/{path:path}", _index, methods=["GET", "HEAD"], include_in_schema=False)
    )
