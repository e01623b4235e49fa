"""One table from gRPC status codes to HTTP, and the single JSON error shape.

Every failure leaves the gateway as
``{"error": {"code", "message", "fields": [{"field", "description"}], "request_id"}}``
whether it came from a service, from the gateway's own checks or from request
validation. A client's mistake is never a 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import cast

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from grpc import aio
from grpc_status import rpc_status
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from api_gateway.schemas import common as schemas
from shared.errors import (
    AlreadyExists,
    DomainError,
    FieldViolation,
    ResourceExhausted,
    Unauthenticated,
)
from shared.grpc.status import from_rpc_error, status_code_for
from shared.logging import request_id_var

log = logging.getLogger("microfinance.gateway")

HTTP_STATUS: Mapping[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.OUT_OF_RANGE: 422,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    # A service failing (INTERNAL, UNKNOWN, DATA_LOSS, CANCELLED) is a bad gateway answer.
}
UPSTREAM_FAILURE = 502
# What a 503 asks the client to wait before retrying: outages the services report
# (database restarting, search down) last seconds, not minutes.
UNAVAILABLE_RETRY_AFTER_SECONDS = 2

# Codes whose raw transport text (addresses, C-core messages) must not reach clients.
_OPAQUE_CODES = {
    grpc.StatusCode.UNAVAILABLE: "a service is unavailable, try again shortly",
    grpc.StatusCode.DEADLINE_EXCEEDED: "a service took too long to answer",
    grpc.StatusCode.INTERNAL: "a service failed",
    grpc.StatusCode.UNKNOWN: "a service failed",
    grpc.StatusCode.CANCELLED: "the call was cancelled",
    grpc.StatusCode.DATA_LOSS: "a service failed",
    grpc.StatusCode.UNIMPLEMENTED: "this operation is not available yet",
}

# Request fields that are top-level query parameters here but nested in the protos.
_FIELD_PREFIXES_TO_DROP = ("page.",)
# The reports' query parameters, by their path in the reporting protos (also under an
# ExportReport's oneof member, e.g. "par.filter.as_of_date").
_REPORT_PARAMETERS = {
    "filter.as_of_date": "as_of",
    "filter.currency": "currency",
    "filter.agent_id": "agent_id",
    "filter.branch_id": "branch_id",
    "filter.product_id": "product_id",
    "period.from_date": "from",
    "period.to_date": "to",
}


def http_status_for(code: grpc.StatusCode) -> int:
    return HTTP_STATUS.get(code, UPSTREAM_FAILURE)


class MissingToken(Unauthenticated):
    """No bearer token at all: RFC 6750 says the challenge then carries no error code."""

    def __init__(self) -> None:
        super().__init__("a bearer token is required")


class RateLimited(ResourceExhausted):
    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retry_after_seconds=retry_after)
        self.retry_after = retry_after


def _retry_after(err: DomainError | None, status: int = 0) -> dict[str, str]:
    if isinstance(err, ResourceExhausted) and err.retry_after_seconds is not None:
        return {"Retry-After": str(max(1, err.retry_after_seconds))}
    if status == 503:
        # Unavailable is retryable by definition: say when (RFC 9110 section 10.2.3).
        return {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)}
    return {}


def _public_field(field: str) -> str:
    for prefix in _FIELD_PREFIXES_TO_DROP:
        if field.startswith(prefix):
            return field[len(prefix) :]
    for nested, public in _REPORT_PARAMETERS.items():
        if field == nested or field.endswith(f".{nested}"):
            return public
    return field


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    fields: Iterable[FieldViolation] = (),
    existing_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = schemas.ErrorResponse(
        error=schemas.ErrorDetail(
            code=code,
            message=message,
            fields=[
                schemas.FieldError(field=_public_field(v.field), description=v.description)
                for v in fields
            ],
            request_id=request_id_var.get(),
            existing_id=existing_id or None,
        )
    )
    out_headers = dict(headers or {})
    if status == 401:
        # RFC 6750: every 401 names the scheme the client should use.
        out_headers.setdefault("WWW-Authenticate", 'Bearer realm="microfinance"')
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True), status_code=status, headers=out_headers
    )


def domain_error_response(err: DomainError) -> JSONResponse:
    code = status_code_for(err)
    status = http_status_for(code)
    headers = _retry_after(err, status)
    if isinstance(err, Unauthenticated) and not isinstance(err, MissingToken):
        headers["WWW-Authenticate"] = 'Bearer realm="microfinance", error="invalid_token"'
    return error_response(
        status,
        code.name,
        err.message,
        fields=err.violations,
        existing_id=err.existing_id if isinstance(err, AlreadyExists) else None,
        headers=headers,
    )


def rpc_error_response(exc: aio.AioRpcError) -> JSONResponse:
    code = exc.code()
    # Our services always attach a google.rpc.Status; without one the text comes from
    # the transport (e.g. "failed to connect to all addresses; ... 10.0.0.5:50052").
    try:
        from_service = rpc_status.from_call(cast(grpc.Call, exc)) is not None
        domain: DomainError | None = from_rpc_error(exc)
    except ValueError:
        # The details disagree with the status code: trust the code, drop the details.
        from_service, domain = False, None
    message = exc.details() or code.name
    if not from_service and code in _OPAQUE_CODES:
        message = _OPAQUE_CODES[code]
    status = http_status_for(code)
    if status >= 500:
        log.warning("upstream %s: %s", code.name, exc.details())
    headers = _retry_after(domain, status)
    if code is grpc.StatusCode.UNAUTHENTICATED:
        headers["WWW-Authenticate"] = 'Bearer realm="microfinance", error="invalid_token"'
    return error_response(
        status,
        code.name,
        message,
        fields=domain.violations if domain is not None else (),
        existing_id=domain.existing_id if isinstance(domain, AlreadyExists) else None,
        headers=headers,
    )


def _loc_to_field(loc: Iterable[int | str]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        source, parts = parts[0], parts[1:]
        if not parts or (source == "body" and isinstance(parts[0], int)):
            # A JSON syntax error is located by character offset in the body.
            return str(source)
    field = ""
    for part in parts:
        if isinstance(part, int):
            field += f"[{part}]"
        else:
            field += f".{part}" if field else str(part)
    return field or "body"


def validation_error_response(exc: RequestValidationError) -> JSONResponse:
    violations: list[FieldViolation] = []
    for error in exc.errors():
        field = _loc_to_field(error.get("loc", ()))
        description = str(error.get("msg", "is invalid"))
        if error.get("type") == "json_invalid":
            description = "is not valid JSON"
        violations.append(FieldViolation(field, description))
    message = "; ".join(f"{v.field}: {v.description}" for v in violations) or "invalid request"
    return error_response(422, "INVALID_ARGUMENT", message, fields=violations)


_HTTP_CODE_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    413: "PAYLOAD_TOO_LARGE",
    422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
}


def _unreadable_body(exc: StarletteHTTPException) -> JSONResponse:
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        description = "is not valid JSON: it is not UTF-8"
    elif isinstance(cause, RecursionError):
        description = "is not valid JSON: it is nested too deeply"
    else:
        description = "is not valid JSON"
    return error_response(
        422,
        "INVALID_ARGUMENT",
        f"body: {description}",
        fields=[FieldViolation("body", description)],
    )


def http_exception_response(exc: StarletteHTTPException) -> JSONResponse:
    status = exc.status_code
    if status == 400:
        # FastAPI answers 400 for a body it cannot decode at all (not UTF-8, nested
        # deeper than the parser goes); it is malformed like any other body: 422.
        return _unreadable_body(exc)
    try:
        default_name = HTTPStatus(status).name
    except ValueError:
        default_name = "ERROR"
    code = _HTTP_CODE_NAMES.get(status, default_name)
    return error_response(status, code, str(exc.detail), headers=exc.headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method the API takes at this path. Starlette's own 405 names only the first
    route that matched the path, and GET and POST of one path are two routes."""
    table: list[tuple[re.Pattern[str], set[str]]] | None = getattr(
        request.app.state, "method_table", None
    )
    if table is None:
        table = []
        for path, operations in request.app.openapi().get("paths", {}).items():
            methods = {m.upper() for m in operations if m.upper() in _HTTP_METHODS}
            if "GET" in methods:
                methods.add("HEAD")
            table.append((compile_path(path)[0], methods))
        request.app.state.method_table = table
    allowed: set[str] = {"OPTIONS"}
    for pattern, methods in table:
        if pattern.match(request.url.path):
            allowed |= methods
    return sorted(allowed)


_HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


def method_not_allowed_response(request: Request, exc: StarletteHTTPException) -> Response:
    allow = ", ".join(allowed_methods(request))
    if request.method == "OPTIONS":
        # OPTIONS asks what the resource takes: answer it, don't refuse it.
        return Response(status_code=204, headers={"Allow": allow})
    return error_response(405, "METHOD_NOT_ALLOWED", str(exc.detail), headers={"Allow": allow})


def install_error_handlers(app: FastAPI) -> None:
    async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        return domain_error_response(exc)

    async def on_rpc_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, aio.AioRpcError)
        return rpc_error_response(exc)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return validation_error_response(exc)

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 405:
            return method_not_allowed_response(request, exc)
        return http_exception_response(exc)

    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(aio.AioRpcError, on_rpc_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)


def internal_error_response() -> JSONResponse:
    return error_response(
        500, "INTERNAL", f"internal error (request id {request_id_var.get() or 'unknown'})"
    )
