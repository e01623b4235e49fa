"""auth_service process: wiring and start."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auth_service.adapters.repository import AuthRepository
from auth_service.domain.passwords import PasswordHashing
from auth_service.grpc_api import ACCESS, SERVICE_NAME, AuthServicer
from auth_service.migrations import REGISTRY
from auth_service.service import AuthPolicy, AuthService
from microfinance.auth.v1 import auth_pb2_grpc
from shared.config import Settings
from shared.grpc.server import ServiceDefinition
from shared.runtime import Infrastructure, make_verifier, run_service

SERVICE = "auth"


def policy_from(settings: Settings) -> AuthPolicy:
    return AuthPolicy(
        issuer=settings.jwt_issuer,
        access_ttl_seconds=settings.access_token_ttl_seconds,
        refresh_ttl_seconds=settings.refresh_token_ttl_seconds,
        max_failures=settings.login_max_failures,
        failure_window_seconds=settings.login_failure_window_seconds,
        lockout_seconds=settings.login_lockout_seconds,
        service_ttl_seconds=settings.service_token_ttl_seconds,
        service_secret=settings.service_token_secret.get_secret_value()
        if settings.service_token_secret
        else None,
    )


def build_service(infra: Infrastructure, hashing: PasswordHashing | None = None) -> AuthService:
    return AuthService(
        AuthRepository(infra.db),
        infra.cache,
        hashing or PasswordHashing(),
        policy=policy_from(infra.settings),
        events=infra.outbox,
    )


async def build(infra: Infrastructure) -> ServiceDefinition:
    await REGISTRY.apply(infra.db)
    service = build_service(infra)
    await service.keyring.keys()

    async def local_keys() -> list[Mapping[str, Any]]:
        return [k.jwk() for k in await service.public_keys()]

    verifier = make_verifier(infra.settings, local_keys, infra.cache)
    servicer = AuthServicer(service, verifier, infra.settings.refresh_token_ttl_seconds)
    return infra.definition(
        lambda server: auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, server),
        [SERVICE_NAME],
        ACCESS,
        verifier=verifier,
    )


def main() -> None:
    run_service(SERVICE, build)


if __name__ == "__main__":
    main()
