"""/api/v1/auth/*: login, refresh, logout, password change; and /api/v1/me."""

from __future__ import annotations

from typing import Annotated, Literal, TypedDict

from fastapi import Body, Cookie, Header, Request, Response, status

from api_gateway.convert import common as convert
from api_gateway.deps import State, client_ip, user_agent
from api_gateway.routes import Router, error_responses
from api_gateway.schemas import common as schemas
from api_gateway.security import SelfService
from microfinance.auth.v1 import auth_pb2
from microfinance.user.v1 import user_pb2
from shared.errors import InvalidArgument, Unauthenticated

router = Router(prefix="/api/v1", tags=["auth"])

# The browser client keeps its refresh token here, out of reach of scripts (docs/security.md).
REFRESH_COOKIE = "mf_refresh"
REFRESH_COOKIE_PATH = "/api/v1/auth"

TokenTransport = Annotated[
    Literal["cookie"] | None,
    Header(
        alias="X-Token-Transport",
        description=(
            "`cookie`: the refresh token goes in the httpOnly, SameSite=Strict `mf_refresh` "
            "cookie (Path=/api/v1/auth) and the body's `refresh_token` is empty. For the "
            "browser client; being a custom header it also forces a CORS preflight."
        ),
    ),
]
RefreshCookie = Annotated[
    str | None,
    Cookie(
        alias=REFRESH_COOKIE,
        description="Set by the gateway in cookie mode; read only with X-Token-Transport.",
    ),
]


class _CookieAttributes(TypedDict):
    path: str
    secure: bool
    httponly: bool
    samesite: Literal["strict"]


def _cookie_attributes(request: Request, state: State) -> _CookieAttributes:
    """The refresh cookie's attributes: the ones it is set with are the ones that delete it."""
    secure = request.url.scheme == "https" or state.settings.env == "production"
    return _CookieAttributes(
        path=REFRESH_COOKIE_PATH, secure=secure, httponly=True, samesite="strict"
    )


def _deliver(
    tokens: schemas.TokenResponse,
    transport: str | None,
    request: Request,
    response: Response,
    state: State,
) -> schemas.TokenResponse:
    """In cookie mode the refresh token moves from the body into the httpOnly cookie."""
    if transport != "cookie":
        return tokens
    response.set_cookie(
        REFRESH_COOKIE,
        tokens.refresh_token,
        max_age=tokens.refresh_expires_in,
        **_cookie_attributes(request, state),
    )
    return tokens.model_copy(update={"refresh_token": ""})


@router.post(
    "/auth/login",
    summary="Log in with email and password",
    responses=error_responses(401, 422, 429, 503),
)
async def login(
    body: schemas.LoginRequest,
    request: Request,
    response: Response,
    state: State,
    transport: TokenTransport = None,
) -> schemas.TokenResponse:
    ip = client_ip(request)
    await state.login_limiter.check(client_ip=ip, username=body.username)
    answer = await state.clients.auth.Login(
        auth_pb2.LoginRequest(
            username=body.username,
            password=body.password,
            client_ip=ip,
            user_agent=user_agent(request),
        )
    )
    tokens = convert.tokens(answer, must_change_password=answer.must_change_password)
    return _deliver(tokens, transport, request, response, state)


@router.post(
    "/auth/refresh",
    summary="Exchange a refresh token for new tokens (the old one is spent)",
    responses=error_responses(401, 422, 503),
)
async def refresh(
    request: Request,
    response: Response,
    state: State,
    body: Annotated[schemas.RefreshRequest | None, Body()] = None,
    transport: TokenTransport = None,
    cookie: RefreshCookie = None,
) -> schemas.TokenResponse:
    token = body.refresh_token if body else None
    if not token:
        if transport != "cookie":
            raise InvalidArgument.field("refresh_token", "Field required")
        if not cookie:
            raise Unauthenticated("no refresh token: log in again")
        token = cookie
    answer = await state.clients.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=token))
    tokens = convert.tokens(answer, must_change_password=answer.must_change_password)
    return _deliver(tokens, transport, request, response, state)


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Revoke the refresh token's family (or every session) and this access token",
    responses=error_responses(401, 422, 503),
)
async def logout(
    caller: SelfService,
    request: Request,
    state: State,
    body: Annotated[schemas.LogoutRequest | None, Body()] = None,
    cookie: RefreshCookie = None,
) -> Response:
    body = body or schemas.LogoutRequest()
    # The bearer token authenticates this call, so the cookie may name the family to revoke.
    await state.clients.auth.Logout(
        auth_pb2.LogoutRequest(
            refresh_token=body.refresh_token or cookie or "", all_sessions=body.all_sessions
        )
    )
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(REFRESH_COOKIE, **_cookie_attributes(request, state))
    return response


@router.post(
    "/auth/password",
    summary="Change one's own password; returns fresh tokens and ends other sessions",
    responses=error_responses(401, 422, 429, 503),
)
async def change_password(
    body: schemas.ChangePasswordRequest,
    caller: SelfService,
    request: Request,
    response: Response,
    state: State,
    transport: TokenTransport = None,
) -> schemas.TokenResponse:
    answer = await state.clients.auth.ChangePassword(
        auth_pb2.ChangePasswordRequest(
            old_password=body.old_password, new_password=body.new_password
        )
    )
    tokens = convert.tokens(answer, must_change_password=False)
    return _deliver(tokens, transport, request, response, state)


@router.get(
    "/me",
    tags=["staff"],
    summary="The caller's own staff record",
    responses=error_responses(401, 404, 503),
)
async def me(caller: SelfService, state: State) -> schemas.MeResponse:
    response = await state.clients.users.GetMe(user_pb2.GetMeRequest())
    return schemas.MeResponse(
        staff=convert.staff(response.staff), must_change_password=response.must_change_password
    )
