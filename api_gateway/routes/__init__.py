"""HTTP routes, one module per area."""

from __future__ import annotations

from typing import Any

from api_gateway.schemas.common import ErrorResponse


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer."""
    descriptions = {
        401: "Missing, invalid, expired or revoked token, or bad credentials",
        403: "The caller's role may not do this, or the password must be changed first",
        404: "No such record",
        409: "Conflicts with the current state (duplicate, state, version)",
        422: "A field is missing or invalid; `fields` names each one",
        429: "Too many attempts; see Retry-After",
        503: "A service is unavailable",
    }
    return {
        s: {"model": ErrorResponse, "description": descriptions.get(s, "Error")} for s in statuses
    }
