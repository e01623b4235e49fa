"""loan_service process: wiring and start."""

from __future__ import annotations

from grpc import aio

from loan_service.grpc_api import (
    ACCESS,
    LOAN_SERVICE,
    PRODUCT_SERVICE,
    LoanProductServicer,
    LoanServicer,
)
from microfinance.loan.v1 import loan_pb2_grpc
from shared.grpc.server import ServiceDefinition
from shared.runtime import Infrastructure, remote_verifier, run_service

SERVICE = "loan"


async def build(infra: Infrastructure) -> ServiceDefinition:
    products = LoanProductServicer()
    loans = LoanServicer()

    def register(server: aio.Server) -> None:
        loan_pb2_grpc.add_LoanProductServiceServicer_to_server(products, server)
        loan_pb2_grpc.add_LoanServiceServicer_to_server(loans, server)

    return ServiceDefinition(
        name="loan_service",
        register=register,
        service_names=[PRODUCT_SERVICE, LOAN_SERVICE],
        access=ACCESS,
        verifier=remote_verifier(infra),
        health_checks={"mongo": infra.mongo_healthy},
        background=[infra.relay],
    )


def main() -> None:
    run_service(SERVICE, build)


if __name__ == "__main__":
    main()
