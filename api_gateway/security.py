"""Authentication at the edge.

The gateway verifies every bearer token itself (signature, expiry, denylist)
before calling a service, then puts the caller in ``caller_var`` so the gRPC
client interceptor forwards the token; each service verifies it again. The
role and the must-change-password rule are also checked here so that a refused
call never reaches a service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api_gateway.deps import State
from api_gateway.errors import MissingToken
from shared.errors import PermissionDenied
from shared.identity import STAFF_ROLES, Caller, Role, caller_var

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    bearerFormat="JWT",
    description="Access token from POST /api/v1/auth/login (valid 15 minutes by default).",
)

MUST_CHANGE_MESSAGE = (
    "change the password first with POST /api/v1/auth/password; until then only "
    "/auth/password, /auth/logout and /me are allowed"
)


def require_caller(
    # Staff only: a SERVICE token is for calling the services directly, never the REST API.
    *, roles: frozenset[Role] = STAFF_ROLES, allow_before_password_change: bool = False
) -> Callable[..., Awaitable[Caller]]:
    async def dependency(
        state: State,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> Caller:
        if credentials is None or not credentials.credentials.strip():
            raise MissingToken()
        caller = await state.verifier.verify(credentials.credentials.strip())
        if caller.must_change_password and not allow_before_password_change:
            raise PermissionDenied(MUST_CHANGE_MESSAGE)
        if caller.role not in roles:
            raise PermissionDenied(f"this operation needs the role {' or '.join(sorted(roles))}")
        # Read by the gRPC client interceptor; reset by the request middleware.
        caller_var.set(caller)
        return caller

    return dependency


AnyStaff = Annotated[Caller, Depends(require_caller())]
"""Any verified staff member whose password is not pending a change."""

SelfService = Annotated[Caller, Depends(require_caller(allow_before_password_change=True))]
"""Any verified staff member, even one who must still change their password."""

AdminOnly = Annotated[Caller, Depends(require_caller(roles=frozenset({Role.ADMIN})))]
