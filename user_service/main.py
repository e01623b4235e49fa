"""user_service process: wiring and start."""

from __future__ import annotations

from grpc import aio

from microfinance.user.v1 import user_pb2_grpc
from shared.grpc.client import create_channel
from shared.grpc.server import ServiceDefinition
from shared.runtime import Infrastructure, remote_verifier, run_service
from user_service.adapters.auth_client import GrpcCredentials
from user_service.adapters.staff_repository import StaffRepository
from user_service.grpc_api import (
    ACCESS,
    BORROWER_SERVICE,
    USER_SERVICE,
    BorrowerServicer,
    UserServicer,
)
from user_service.migrations import REGISTRY
from user_service.service import StaffService

SERVICE = "user"


async def build(infra: Infrastructure) -> ServiceDefinition:
    await REGISTRY.apply(infra.db)
    settings = infra.settings
    auth_channel = create_channel(
        settings.auth_addr, default_timeout=settings.grpc_deadline_seconds
    )

    async def close_auth() -> None:
        await auth_channel.close(None)

    infra.closers.append(close_auth)
    staff = StaffService(
        StaffRepository(infra.db),
        GrpcCredentials(auth_channel),
        infra.in_transaction,
        infra.outbox,
        phone_region=settings.default_phone_region,
    )
    users = UserServicer(staff)
    borrowers = BorrowerServicer()

    def register(server: aio.Server) -> None:
        user_pb2_grpc.add_UserServiceServicer_to_server(users, server)
        user_pb2_grpc.add_BorrowerServiceServicer_to_server(borrowers, server)

    return ServiceDefinition(
        name="user_service",
        register=register,
        service_names=[USER_SERVICE, BORROWER_SERVICE],
        access=ACCESS,
        verifier=remote_verifier(infra),
        health_checks={"mongo": infra.mongo_healthy},
        background=[infra.relay],
    )


def main() -> None:
    run_service(SERVICE, build)


if __name__ == "__main__":
    main()
