"""What routes receive: the gateway's shared state and the client's address."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from api_gateway.clients import ServiceClients
from api_gateway.ratelimit import LoginRateLimiter
from shared.config import Settings
from shared.tokens import TokenVerifier


@dataclass
class GatewayState:
    """Created by the app's lifespan, inside the running loop."""

    settings: Settings
    clients: ServiceClients
    verifier: TokenVerifier
    login_limiter: LoginRateLimiter


async def get_state(request: Request) -> GatewayState:
    # async, though it awaits nothing: FastAPI runs a plain-function dependency in a worker
    # thread, which cost more CPU per request than everything else this does.
    state = getattr(request.app.state, "gateway", None)
    if not isinstance(state, GatewayState):
        # Only reachable if the app is served without running its lifespan.
        raise RuntimeError("the gateway lifespan has not run")
    return state


def client_ip(request: Request) -> str:
    """The peer address. Behind a proxy, uvicorn's --forwarded-allow-ips decides whether
    X-Forwarded-For replaces it; the header is never trusted here directly."""
    return request.client.host if request.client else ""


def user_agent(request: Request) -> str:
    return request.headers.get("user-agent", "")[:256]


State = Annotated[GatewayState, Depends(get_state)]
