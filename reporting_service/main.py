"""reporting_service process: wiring and start."""

from __future__ import annotations

from microfinance.reporting.v1 import reporting_pb2_grpc
from reporting_service.grpc_api import ACCESS, SERVICE_NAME, ReportingServicer
from shared.grpc.server import ServiceDefinition
from shared.runtime import Infrastructure, remote_verifier, run_service

SERVICE = "reporting"


async def build(infra: Infrastructure) -> ServiceDefinition:
    servicer = ReportingServicer()
    return ServiceDefinition(
        name="reporting_service",
        register=lambda server: reporting_pb2_grpc.add_ReportingServiceServicer_to_server(
            servicer, server
        ),
        service_names=[SERVICE_NAME],
        access=ACCESS,
        verifier=remote_verifier(infra),
        health_checks={"mongo": infra.mongo_healthy},
        background=[infra.relay],
    )


def main() -> None:
    run_service(SERVICE, build)


if __name__ == "__main__":
    main()
