"""HTTP routes, one module per area."""

from __future__ import annotations

import re
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import APIRouter, Header, Path, Query, Response
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope

from api_gateway.schemas.common import ErrorResponse
from shared.errors import InvalidArgument

# The paging parameters of every listing.
PageSize = Annotated[int, Query(ge=0, le=500, description="0 = default (50)")]
PageToken = Annotated[str, Query(max_length=512)]
# A record's id in a path (/loans/{loan_id}), and one as a list filter (?borrower_id=).
RecordId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
IdFilter = Annotated[str | None, Query(max_length=64)]
# The ETag of an earlier read, guarding a change against a lost update.
IfMatch = Annotated[str | None, Header(description='The ETag of a read, e.g. "3"')]


class Router(APIRouter):
    """An ``APIRouter`` that answers "no match" at once for a path none of its routes could
    match.

    FastAPI asks each included router in turn whether a request is its own, and the router
    tries each of its routes' patterns, with some bookkeeping around every try: a
    ``POST /api/v1/payments`` went through about 45 of them before its own. A route's
    pattern holds its path up to the first parameter literally (``/api/v1/loans/`` of
    ``/api/v1/loans/{loan_id}``), so a path that contains none of this router's literal
    parts matches none of its routes, whatever prefix it was included under; only then is
    the answer given without trying them. (Where FastAPI copies included routes into the
    app's own list instead, as versions before 0.16x did, this is never asked.)
    """

    _literals: tuple[int, tuple[str, ...] | None] = (-1, None)

    def _literal_parts(self) -> tuple[str, ...] | None:
        count, parts = self._literals
        if count != len(self.routes):
            paths = [getattr(route, "path", None) for route in self.routes]
            if all(isinstance(path, str) for path in paths):
                parts = tuple(sorted({str(path).split("{", 1)[0] for path in paths}))
            else:
                parts = None  # a route of another kind: always ask FastAPI
            self._literals = (len(self.routes), parts)
        return parts

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        parts = self._literal_parts()
        if parts is not None:
            path = get_route_path(scope)
            if not any(part in path for part in parts):
                return Match.NONE, {}
        return super().matches(scope)


_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,18})"?\s*$')


class _Versioned(Protocol):
    @property
    def version(self) -> int: ...


V = TypeVar("V", bound=_Versioned)


def tagged(response: Response, record: V) -> V:
    """The record, with its version as the ETag a later If-Match can send back."""
    response.headers["ETag"] = f'"{record.version}"'
    return record


def expected_version(if_match: str | None, body_version: int | None) -> int:
    """If-Match (an ETag such as "3") or the body's expected_version; they must agree."""
    header_version = 0
    if if_match is not None and if_match.strip() != "*":
        match = _ETAG.match(if_match)
        if match is None:
            raise InvalidArgument.field("If-Match", 'must be a version such as "3"')
        header_version = int(match.group(1))
    if header_version and body_version and header_version != body_version:
        raise InvalidArgument.field(
            "expected_version", "disagrees with the If-Match header; send one of them"
        )
    return header_version or body_version or 0


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer."""
    descriptions = {
        401: "Missing, invalid, expired or revoked token, or bad credentials",
        403: "The caller's role may not do this, or the password must be changed first",
        404: "No such record",
        409: "Conflicts with the current state (duplicate, state, version)",
        422: "A field is missing or invalid; `fields` names each one",
        429: "Too many attempts; see Retry-After",
        503: "A service is unavailable; try again after Retry-After seconds",
    }
    responses: dict[int | str, dict[str, Any]] = {
        s: {"model": ErrorResponse, "description": descriptions.get(s, "Error")} for s in statuses
    }
    for status in (429, 503):
        if status in responses:
            responses[status]["headers"] = dict(RETRY_AFTER_HEADER)
    return responses


RETRY_AFTER_HEADER: dict[str, Any] = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 1},
    }
}


# Any operation may meet these, whatever its own list says: the body limit, a gateway
# fault, and a service failing, unavailable or too slow.
COMMON_RESPONSES: dict[str, str] = {
    "500": "A fault in the gateway; the message names the request id",
    "502": "A service failed to answer properly",
    "503": "A service is unavailable; try again after Retry-After seconds",
    "504": "A service took too long to answer",
}


def add_common_responses(spec: dict[str, Any], max_body_bytes: int) -> dict[str, Any]:
    """Document 413 and the 5xx answers on every operation of an OpenAPI document."""
    too_large = f"The request body is larger than {max_body_bytes} bytes"
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                responses.setdefault("413", {"description": too_large, "content": error})
            for status, description in COMMON_RESPONSES.items():
                responses.setdefault(status, {"description": description, "content": error})
            responses["503"].setdefault("headers", dict(RETRY_AFTER_HEADER))
    return spec
