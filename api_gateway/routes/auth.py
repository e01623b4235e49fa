"""/api/v1/auth/*: login, refresh, logout, password change; and /api/v1/me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request, Response, status

from api_gateway.convert import common as convert
from api_gateway.deps import State, client_ip, user_agent
from api_gateway.routes import error_responses
from api_gateway.schemas import common as schemas
from api_gateway.security import SelfService
from microfinance.auth.v1 import auth_pb2
from microfinance.user.v1 import user_pb2

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post(
    "/auth/login",
    response_model=schemas.TokenResponse,
    summary="Log in with email and password",
    responses=error_responses(401, 422, 429, 503),
)
async def login(
    body: schemas.LoginRequest, request: Request, state: State
) -> schemas.TokenResponse:
    ip = client_ip(request)
    await state.login_limiter.check(client_ip=ip, username=body.username)
    response = await state.clients.auth.Login(
        auth_pb2.LoginRequest(
            username=body.username,
            password=body.password,
            client_ip=ip,
            user_agent=user_agent(request),
        )
    )
    return convert.tokens(response, must_change_password=response.must_change_password)


@router.post(
    "/auth/refresh",
    response_model=schemas.TokenResponse,
    summary="Exchange a refresh token for new tokens (the old one is spent)",
    responses=error_responses(401, 422, 503),
)
async def refresh(body: schemas.RefreshRequest, state: State) -> schemas.TokenResponse:
    response = await state.clients.auth.Refresh(
        auth_pb2.RefreshRequest(refresh_token=body.refresh_token)
    )
    return convert.tokens(response, must_change_password=response.must_change_password)


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Revoke the refresh token's family (or every session) and this access token",
    responses=error_responses(401, 422, 503),
)
async def logout(
    caller: SelfService,
    state: State,
    body: Annotated[schemas.LogoutRequest | None, Body()] = None,
) -> Response:
    body = body or schemas.LogoutRequest()
    await state.clients.auth.Logout(
        auth_pb2.LogoutRequest(
            refresh_token=body.refresh_token or "", all_sessions=body.all_sessions
        )
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/auth/password",
    response_model=schemas.TokenResponse,
    summary="Change one's own password; returns fresh tokens and ends other sessions",
    responses=error_responses(401, 422, 429, 503),
)
async def change_password(
    body: schemas.ChangePasswordRequest, caller: SelfService, state: State
) -> schemas.TokenResponse:
    response = await state.clients.auth.ChangePassword(
        auth_pb2.ChangePasswordRequest(
            old_password=body.old_password, new_password=body.new_password
        )
    )
    return convert.tokens(response, must_change_password=False)


@router.get(
    "/me",
    response_model=schemas.MeResponse,
    tags=["staff"],
    summary="The caller's own staff record",
    responses=error_responses(401, 404, 503),
)
async def me(caller: SelfService, state: State) -> schemas.MeResponse:
    response = await state.clients.users.GetMe(user_pb2.GetMeRequest())
    return schemas.MeResponse(
        staff=convert.staff(response.staff), must_change_password=response.must_change_password
    )
