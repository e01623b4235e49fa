"""Per-request plumbing as plain ASGI middleware: request id, security headers,
an access log line, metrics, and a last-resort 500 in the standard error shape.

Plain ASGI (not BaseHTTPMiddleware) so that the context variables set here
(request id, caller) are the ones the route and the gRPC client interceptor see.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api_gateway.errors import error_response, internal_error_response
from shared.identity import caller_var
from shared.logging import request_id_var
from shared.metrics import HTTP_REQUESTS, HTTP_SECONDS

log = logging.getLogger("microfinance.gateway.access")

REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI and ReDoc load their scripts and styles from /static/vendor (nothing external);
# they inject inline styles, and ReDoc searches in a blob: worker. The pages' own inline
# bootstrap scripts are allowed by hash, added by api_gateway/web_client.py.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# The web client (index.html and its ES modules): same-origin only, no inline code.
CLIENT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
DOCS_PATHS = ("/docs", "/redoc")
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# Requests no route matched share one label: raw paths would make a series per URL.
UNMATCHED_ROUTE = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def accept_request_id(value: str | None) -> str:
    """A caller's id is kept only if it is short and plain; it ends up in every log line."""
    if value and _SANE_REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex


def _too_large(limit: int) -> str:
    return f"the request body is larger than {limit} bytes"


class _RouteMetrics:
    """Requests counted and timed by route template, method and status, each label set
    bound once and kept (a few dozen routes, a handful of methods and statuses)."""

    def __init__(self) -> None:
        self._counters: dict[tuple[str, str, int], Callable[[], None]] = {}
        self._timers: dict[tuple[str, str], Callable[[float], None]] = {}

    def record(self, scope: Scope, method: str, status: int, seconds: float) -> None:
        # Set by the router on the request's scope once it matched (FastAPI and Starlette).
        route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
        if method not in _METHODS:
            method = "OTHER"
        count = self._counters.get((route, method, status))
        if count is None:
            count = HTTP_REQUESTS.labels(route, method, str(status)).inc
            self._counters[(route, method, status)] = count
        count()
        observe = self._timers.get((route, method))
        if observe is None:
            observe = self._timers[(route, method)] = HTTP_SECONDS.labels(route, method).observe
        observe(seconds)


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        hsts_max_age_seconds: int = 0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self._max_body = max_body_bytes
        self._metrics = _RouteMetrics()
        self._hsts = (
            f"max-age={hsts_max_age_seconds}; includeSubDomains"
            if hsts_max_age_seconds > 0
            else ""
        )

    def _security_headers(self, path: str, headers: MutableHeaders) -> None:
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), geolocation=(), microphone=()")
        own = headers.get("Content-Security-Policy", "")
        if path.startswith(DOCS_PATHS):
            # The docs pages send DOCS_CSP plus their scripts' hashes; anything else there
            # (a 404 under /docs) gets DOCS_CSP itself.
            if not own.startswith("default-src 'none';"):
                headers["Content-Security-Policy"] = DOCS_CSP
        elif own != CLIENT_CSP and not own.startswith("default-src 'none';"):
            # A route may send its own policy only if it starts from "nothing allowed"
            # (a printable receipt allows its one inline stylesheet by hash), or if it is
            # the web client's page.
            headers["Content-Security-Policy"] = API_CSP
        if self._hsts:
            headers["Strict-Transport-Security"] = self._hsts
        if path.startswith("/api/"):
            # Responses carry tokens and personal data: no cache may keep them.
            headers["Cache-Control"] = "no-store"
            headers["Pragma"] = "no-cache"
        elif path.startswith("/static/"):
            # Asset names carry no content hash (no build step): revalidate by ETag each time.
            headers.setdefault("Cache-Control", "no-cache")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        method: str = scope.get("method", "")
        request_headers = Headers(scope=scope)
        rid = accept_request_id(request_headers.get(REQUEST_ID_HEADER))
        rid_token = request_id_var.set(rid)
        # Routes set the caller; reset it here so nothing outlives the request.
        caller_token = caller_var.set(None)
        started = time.perf_counter()
        status = 0

        received = 0

        async def limited_receive() -> Message:
            # Bodies sent without Content-Length are counted as they arrive.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max_body:
                    raise HTTPException(413, _too_large(self._max_body))
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = rid
                self._security_headers(path, headers)
            await send(message)

        try:
            declared = request_headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self._max_body:
                response = error_response(413, "PAYLOAD_TOO_LARGE", _too_large(self._max_body))
                await response(scope, receive, send_with_headers)
            else:
                await self.app(scope, limited_receive, send_with_headers)
        except Exception:
            log.exception("unhandled error on %s %s", method, path)
            if status:
                raise  # the response has begun; all we can do is drop the connection
            await internal_error_response()(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            self._metrics.record(scope, method, status or 500, elapsed)
            caller = caller_var.get()
            client = scope.get("client")
            log.info(
                "http %s %s %s",
                method,
                path,
                status or 500,
                extra={
                    "method": method,
                    "path": path,
                    "status": status or 500,
                    "duration_ms": round(elapsed * 1000, 2),
                    "client_ip": client[0] if client else "",
                    "caller": caller.subject if caller else "",
                },
            )
            caller_var.reset(caller_token)
            request_id_var.reset(rid_token)
