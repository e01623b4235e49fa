"""Liveness and readiness probes (no token)."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from api_gateway.deps import State
from api_gateway.routes import Router
from api_gateway.schemas import common as schemas

router = Router(tags=["health"])


@router.get("/healthz", summary="The process is running")
async def healthz() -> schemas.Liveness:
    return schemas.Liveness(status="ok")


@router.get(
    "/readyz",
    response_model=schemas.Readiness,
    summary="Every service answers grpc.health.v1 SERVING",
    responses={503: {"model": schemas.Readiness, "description": "A service is not serving"}},
)
async def readyz(state: State) -> JSONResponse:
    timeout = min(state.settings.grpc_deadline_seconds, 2.0)
    services = await state.clients.health(timeout)
    ready = all(s == "SERVING" for s in services.values())
    body = schemas.Readiness(status="ready" if ready else "not_ready", services=services)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ready else 503)
