"""The FastAPI application: routes, middleware, error handlers and lifespan."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.telemetry import TelemetryConfig

from api_gateway.clients import ServiceClients
from api_gateway.deps import GatewayState
from api_gateway.errors import install_error_handlers
from api_gateway.middleware import DEFAULT_MAX_BODY_BYTES, RequestContextMiddleware
from api_gateway.ratelimit import LoginRateLimiter
from api_gateway.routes import (
    add_common_responses,
    auth,
    borrowers,
    eod,
    health,
    loans,
    payments,
    products,
    reports,
    staff,
)
from api_gateway.web_client import install_web
from shared import tracing
from shared.cache import Cache, create_redis
from shared.config import Settings, get_settings
from shared.money import set_max_amount_minor
from shared.runtime import auth_jwks_fetcher, make_verifier

HSTS_PRODUCTION_SECONDS = 365 * 24 * 3600

DESCRIPTION = """
HTTP API of the microfinance loan management system.

Log in with `POST /api/v1/auth/login`, then send the access token as
`Authorization: Bearer <token>` on every other `/api/v1` call. Errors always have the shape
`{"error": {"code", "message", "fields", "request_id"}}`.
"""


def _document_common_responses(app: FastAPI, max_body_bytes: int) -> None:
    """The OpenAPI lists 413 and the 5xx answers on every operation, not only per route."""
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_common_responses(plain_openapi(), max_body_bytes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _telemetry() -> TelemetryConfig:
    """FastAPI's own OpenTelemetry, on with ours (MF_TRACING): one server span per request,
    named after its route template (``POST /api/v1/payments``), the parent of the gRPC calls
    it makes; a caller's ``traceparent`` makes it that trace's child. No per-operation spans
    (dependencies, serialization), metrics or logs. Off otherwise, whatever the global
    providers: then FastAPI does not even look for them on each request."""
    config: TelemetryConfig = {
        "tracing": tracing.enabled,
        "operation_spans": False,
        "metrics": False,
        "logs": False,
    }
    if tracing.enabled:
        config["tracer_provider"] = tracing.provider()
    return config


def create_app(
    settings: Settings | None = None,
    *,
    hsts_max_age_seconds: int | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """Build the gateway. Nothing connects until the lifespan starts.

    HSTS is sent in production (where TLS terminates in front of the gateway) unless
    ``hsts_max_age_seconds`` says otherwise; 0 turns it off. Larger request bodies than
    ``max_body_bytes`` are refused with 413. ``clock`` drives the login rate-limit windows.
    """
    settings = settings or get_settings()
    cfg = settings
    # Request bodies refuse larger amounts (422 naming the field), as the services do.
    set_max_amount_minor(settings.max_amount_minor)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Channels and Redis belong to the loop that serves requests: create them here.
        cache = Cache(create_redis(cfg.redis_url), prefix=cfg.redis_key_prefix)
        clients = ServiceClients.open(cfg)
        # Keys come over the same auth channel the routes use: one channel per process.
        fetch_keys = auth_jwks_fetcher(clients.channels["auth"])
        # Revocations are pushed over the cache's Redis; read from it while that is out of sync.
        verifier = make_verifier(cfg, fetch_keys, cache)
        await verifier.start()
        app.state.gateway = GatewayState(
            settings=cfg,
            clients=clients,
            verifier=verifier,
            login_limiter=LoginRateLimiter(
                cache, limit_per_minute=cfg.login_rate_limit_per_minute, clock=clock
            ),
        )
        try:
            yield
        finally:
            app.state.gateway = None
            await verifier.stop()
            await clients.close()
            await cache.close()

    app = FastAPI(
        title="microfinance API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # /docs and /redoc are served by web_client with assets from the package (no CDN).
        docs_url=None, redoc_url=None,
        telemetry=_telemetry(),
    )
    install_error_handlers(app)
    _document_common_responses(app, max_body_bytes)
    for routes in (health, auth, staff, borrowers, products, loans, payments, reports, eod):
        app.include_router(routes.router)
    # Last: the client's fallback route must come after every API route.
    install_web(app)

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            # Bearer tokens travel in a header, not cookies: no credentials mode needed.
            allow_credentials=False,
            allow_methods=["GET", "POST", "PATCH", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "X-Request-ID"],
            expose_headers=["X-Request-ID", "ETag", "Location", "Retry-After"],
            max_age=600,
        )
    if hsts_max_age_seconds is None:
        hsts_max_age_seconds = HSTS_PRODUCTION_SECONDS if settings.env == "production" else 0
    # Added last, so it is outermost: every response (errors, CORS preflights) gets its headers.
    app.add_middleware(
        RequestContextMiddleware,
        hsts_max_age_seconds=hsts_max_age_seconds,
        max_body_bytes=max_body_bytes,
    )
    return app
